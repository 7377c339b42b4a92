"""The feature profile of the rows a version was trained on, to store with it.

Stage 1 sketches the declared features of every prediction (the shared ``features`` and each
task's own) per window; the same sketches of the training rows, stored with the version, are
feature drift's ``champion`` reference while the version is in use (see
:mod:`streams.features.stored_profile`). The kinds are the monitor's (float and int numeric,
string and bool categorical), so a window and the reference always compare like with like.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from driftline.config import DriftlineConfig
from streams.features.profile import FeatureProfile, feature_kinds

__all__ = ["training_profile"]


def training_profile(config: DriftlineConfig, rows: pd.DataFrame) -> bytes:
    """The profile of ``rows``' declared features, as the bytes to store with the version
    (``driftline.feature-profile/1`` JSON); a missing value (NaN, None, NA) is missing, as
    an absent feature of a prediction is.

    >>> from driftline.config import parse_config
    >>> config = parse_config("model: m\\nfeatures: [{name: x}, {name: c, dtype: string}]\\n"
    ...     "tasks: {a: {type: binary, features: [{name: own}, {name: vip, dtype: bool}]}}")
    >>> rows = pd.DataFrame({"x": [1.0, None, 3.0], "c": ["DE", None, "FR"], "own": [1, 2, 3],
    ...                      "vip": [1.0, 0.0, None]})
    >>> profile = FeatureProfile.from_bytes(training_profile(config, rows))
    >>> profile.count, profile.sketches["x"].missing, profile.sketches["c"].counts
    (3, 1, {'DE': 1, 'FR': 1})
    >>> profile.sketches["vip"].counts, profile.sketches["vip"].missing
    ({'True': 1, 'False': 1}, 1)
    """
    specs = [*config.features, *(f for task in config.tasks.values() for f in task.features)]
    kinds = feature_kinds(specs)
    dtypes = {spec.name: spec.dtype for spec in specs}
    columns: dict[str, Any] = {}
    for name, kind in kinds.items():
        if name not in rows.columns:
            continue
        column = rows[name]
        if kind == "numeric":
            columns[name] = pd.to_numeric(column, errors="coerce").to_numpy(
                dtype="float64", na_value=float("nan")
            )
        elif dtypes[name] == "bool":  # as a prediction's JSON true/false: "True"/"False"
            columns[name] = column.map(lambda v: None if pd.isna(v) else bool(v)).to_numpy()
        else:
            columns[name] = column.astype(object).where(column.notna(), None).to_numpy()
    return FeatureProfile.from_columns(kinds, columns, len(rows)).to_bytes()
