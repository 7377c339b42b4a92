"""Validation of production feature rows, with the same rules as events (``driftline.events``).

A row is ``{<entity>: str, "event_time": ISO 8601 with a timezone, <feature>: value, ...}``.
Values are checked against the declared dtype (``float``, ``int``, ``string``, ``bool``) the way
pydantic checks event fields (lax: ``"1.5"`` is a float, ``2.0`` is an int, ``2.5`` is not); NaN
and inf are rejected, unknown keys are rejected, ``null`` means "unknown". A row must carry at
least one declared feature.

>>> v = FeatureRowValidator({"tenure": "float", "country": "string"}, entity="entity_id")
>>> v.validate({"entity_id": "c-1", "event_time": "2026-01-01T00:00:00Z", "tenure": 3})
{'entity_id': 'c-1', 'event_time': datetime.datetime(2026, 1, 1, 0, 0, tzinfo=TzInfo(0)), 'tenure': 3.0}
>>> v.validate({"entity_id": "c-1", "event_time": "2026-01-01T00:00:00Z", "age": 3})
Traceback (most recent call last):
...
featurestore.errors.FeatureRowError: invalid feature row: age: unknown feature (declared: country, tenure)
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, create_model

from featurestore.errors import FeatureRowError

__all__ = ["FeatureRowValidator"]

_PYTHON_TYPE: dict[str, Any] = {"float": float, "int": int, "string": str, "bool": bool}
_Id = Annotated[str, Field(min_length=1, max_length=256)]


class FeatureRowValidator:
    """Validates one feature row at a time against the declared features.

    Parameters
    ----------
    dtypes
        Declared feature name -> dtype (``float``, ``int``, ``string``, ``bool``).
    entity
        Name of the entity key column (``entity_id`` by default in ``driftline.yaml``).

    Examples
    --------
    >>> v = FeatureRowValidator({"x": "float"})
    >>> v.validate({"entity_id": "e", "event_time": "2026-01-01T00:00:00+00:00", "x": "nan"})
    Traceback (most recent call last):
    ...
    featurestore.errors.FeatureRowError: invalid feature row: x: Input should be a finite number
    """

    def __init__(self, dtypes: dict[str, str], entity: str = "entity_id") -> None:
        self.dtypes = dtypes
        self.entity = entity
        self._model: type[BaseModel] | None = None

    def validate(self, row: dict[str, Any]) -> dict[str, Any]:
        """Return the row with typed values (only the keys it carried); raise :class:`FeatureRowError`."""
        if not isinstance(row, dict):
            raise FeatureRowError(f"a feature row must be a JSON object, got {type(row).__name__}")
        unknown = sorted(
            k for k in row if k not in self.dtypes and k not in (self.entity, "event_time")
        )
        if unknown:
            declared = ", ".join(sorted(self.dtypes))
            raise FeatureRowError(
                f"invalid feature row: {', '.join(unknown)}: unknown feature (declared: {declared})"
            )
        if not any(k in self.dtypes for k in row):
            raise FeatureRowError("invalid feature row: it carries none of the declared features")
        cleaned = {k: _none_for_missing(v) for k, v in row.items()}
        try:
            parsed = self._row_model().model_validate(cleaned)
        except ValidationError as exc:
            raise FeatureRowError(_reason(exc)) from None
        return {k: getattr(parsed, k) for k in row}

    def _row_model(self) -> type[BaseModel]:
        if self._model is None:
            fields: dict[str, Any] = {
                self.entity: (_Id, ...),
                "event_time": (AwareDatetime, ...),
            }
            for name, dtype in self.dtypes.items():
                fields[name] = (_PYTHON_TYPE[dtype] | None, None)
            self._model = create_model(
                "FeatureRow",
                __config__=ConfigDict(extra="forbid", allow_inf_nan=False, strict=False),
                **fields,
            )
        return self._model


def _none_for_missing(value: Any) -> Any:
    """Pandas/pyarrow missing markers (``None``, ``pd.NA``, ``NaT``) become ``None``.

    A float NaN is *not* turned into ``None``: like in events it is rejected, because a NaN in
    production data usually hides a bug upstream. Write ``null`` for an unknown value.
    """
    if value is None or (type(value).__name__ in ("NAType", "NaTType")):
        return None
    if isinstance(value, datetime):
        return value
    if hasattr(value, "item") and not isinstance(value, str | bytes):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return value
    return value


def _reason(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "<row>"
        parts.append(f"{loc}: {err['msg']}")
    more = f" (+{exc.error_count() - 5} more)" if exc.error_count() > 5 else ""
    return "invalid feature row: " + "; ".join(parts) + more
