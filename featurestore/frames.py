"""Typed pandas frames in the exact column set of a view's batch source (what a push needs)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from featurestore.layout import CREATED_TIMESTAMP, EVENT_TIMESTAMP, ViewSpec

__all__ = ["view_frame"]

_PANDAS_DTYPE = {"float": "float64", "int": "Int64", "string": "object", "bool": "boolean"}


def view_frame(
    view: ViewSpec, rows: Sequence[dict[str, Any]], event_key: str, created: datetime
) -> pd.DataFrame:
    """A frame with ``view.columns``: entity, event/created timestamps, then the view's fields.

    ``rows`` hold the entity under ``view.entity``, the event time under ``event_key`` and field
    values by name; a field a row lacks is null.

    >>> from datetime import UTC
    >>> view = ViewSpec("v", "shared", None, "entity_id", (("x", "float"), ("n", "int")))
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> view_frame(view, [{"entity_id": "a", "event_time": t, "x": 1.0}], "event_time", t).dtypes.tolist()
    [dtype('O'), datetime64[us, UTC], datetime64[us, UTC], dtype('float64'), Int64Dtype()]
    """
    data: dict[str, Any] = {
        view.entity: pd.Series([r[view.entity] for r in rows], dtype="object"),
        EVENT_TIMESTAMP: pd.to_datetime([r[event_key] for r in rows], utc=True).as_unit("us"),
        CREATED_TIMESTAMP: pd.DatetimeIndex([created] * len(rows)).tz_convert("UTC").as_unit("us"),
    }
    for name, dtype in view.fields:
        data[name] = pd.Series([r.get(name) for r in rows], dtype=_PANDAS_DTYPE[dtype])
    frame = pd.DataFrame(data)
    return frame[view.columns]
