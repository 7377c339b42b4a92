"""pytest filters the same third-party warnings as the ``driftline`` command, and no others.

``driftline.quiet.THIRD_PARTY_WARNINGS`` is what the command installs; ``filterwarnings`` in
``pyproject.toml`` is what pytest installs around every test. A warning from anywhere else
(driftline's own code included) must reach pytest's summary, where ``.ci/run`` sees it.
"""

from __future__ import annotations

import tomllib
import warnings
from pathlib import Path

import pytest

from driftline.quiet import THIRD_PARTY_WARNINGS

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_pytest_filters_are_quiet_py_list() -> None:
    options = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"]["pytest"]
    configured = options["ini_options"]["filterwarnings"]
    expected = [
        f"ignore:{message}:{category.__name__}:{module}"
        for module, category, message in THIRD_PARTY_WARNINGS
    ]
    assert configured == expected


def _shown(category: type[Warning], module: str) -> bool:
    with warnings.catch_warnings(record=True) as seen:  # keeps the filters pytest installed
        warnings.warn_explicit("x is deprecated", category, "x.py", 1, module=module)
    return bool(seen)


@pytest.mark.parametrize(
    ("category", "module"),
    [(DeprecationWarning, "ibis.backends.duckdb"), (DeprecationWarning, "feast.feature_view"),
     (FutureWarning, "feast"), (DeprecationWarning, "mode.utils.futures"),
     (DeprecationWarning, "aiokafka.conn"), (DeprecationWarning, "faust")],
)  # fmt: skip
def test_listed_third_party_warnings_are_filtered(category: type[Warning], module: str) -> None:
    assert not _shown(category, module)


@pytest.mark.parametrize(
    ("category", "module"),
    [(DeprecationWarning, "driftline.events"), (DeprecationWarning, "models.preprocessing"),
     (FutureWarning, "featurestore.retrieval"), (DeprecationWarning, "sqlalchemy.orm"),
     (DeprecationWarning, "ibisx"), (FutureWarning, "ibis")],
)  # fmt: skip
def test_other_warnings_are_shown(category: type[Warning], module: str) -> None:
    assert _shown(category, module)


def test_the_command_filters_the_same_list_only() -> None:
    from driftline.quiet import quiet_third_party

    with warnings.catch_warnings(record=True) as seen:
        warnings.resetwarnings()
        warnings.simplefilter("always")
        quiet_third_party()
        for module in ("ibis.expr", "feast", "mode.utils", "models.preprocessing", "driftline"):
            warnings.warn_explicit(module, DeprecationWarning, "x.py", 1, module=module)
    assert [str(w.message) for w in seen] == ["models.preprocessing", "driftline"]
