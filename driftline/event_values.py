"""The strict value rules every event field shares: times, numbers, text and class names.

One definition, used by the contracts (:mod:`driftline.events`), the config rules
(:mod:`driftline.validation`), the monitor's fast decoder (:mod:`streams.decoding`) and the JSON
Schemas, so all of them accept exactly the same values.

* A time is an RFC 3339 string with a UTC offset (``2026-11-23T12:00:00Z``,
  ``2026-11-23T13:00:00.25+01:00``), a real calendar date, year 0002 to 9998 for a prediction or
  label: an offset moves the instant by up to a day, so its UTC time is within years 0001-9999,
  the range of the events driftline writes (and of Python's ``datetime``). Never an epoch
  number, never a naive time.
* A number is finite and within ±(2**53 − 1) (I-JSON's interoperable range, RFC 7493): every
  integer in it is exact as a double, and squares of differences stay finite.
* A ranking task's relevance is within [0, 100] (NDCG's gain ``2**relevance`` stays finite).
* Text is valid UTF-8: no lone surrogates (JSON text cannot carry them; Python strings can).

>>> parse_time("2026-11-23T13:00:00.25+01:00").isoformat()
'2026-11-23T13:00:00.250000+01:00'
>>> try:
...     parse_time("2026-02-30T12:00:00Z")
... except ValueError as exc:
...     print(exc)
'2026-02-30T12:00:00Z' is not a real date and time: day is out of range for month
>>> class_name(2.0), class_name("a"), class_name(True)
('2', 'a', None)
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "MAX_NUMBER",
    "MAX_RELEVANCE",
    "OUTPUT_TIME_PATTERN",
    "TIME_PATTERN",
    "check_output_time",
    "check_time",
    "class_name",
    "is_number",
    "is_text",
    "parse_time",
]

MAX_NUMBER = 2**53 - 1
"""The largest magnitude of any number in a prediction or label."""

MAX_RELEVANCE = 100
"""The largest relevance (label) of a ranking task: NDCG's gain is ``2**relevance - 1``."""

_TIME_BODY = (
    r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)
TIME_PATTERN = r"^(?!000[01]|9999)" + _TIME_BODY
"""What the time of a prediction or label looks like (the JSON Schemas carry it as ``pattern``,
with ``format: date-time`` for the calendar: February 30 matches the pattern but is no date).
Years 0002-9998: whatever its offset, its instant is within UTC years 0001-9999."""

OUTPUT_TIME_PATTERN = r"^(?!0000)" + _TIME_BODY
"""The times of the events the monitor and retrainer write (alerts, snapshots, requests,
updates): years 0001-9999, so the UTC time of any prediction or label fits."""

_TIME = re.compile(TIME_PATTERN)
_OUTPUT_TIME = re.compile(OUTPUT_TIME_PATTERN)
_UTC_LIMITS = (datetime(1, 1, 1, 12, tzinfo=UTC), datetime(9999, 12, 31, 12, tzinfo=UTC))
_YEARS = "years 0002-9998"


def parse_time(value: str, output: bool = False) -> datetime:
    """The aware ``datetime`` of an RFC 3339 time; ``ValueError`` saying why when it is none.

    ``output``: a time of an event the monitor writes (years 0001-9999; a prediction's or
    label's is in 0002-9998). Fractions of a second beyond microseconds are cut off.
    """
    if not (_OUTPUT_TIME if output else _TIME).match(value):
        years = "years 0001-9999" if output else _YEARS
        raise ValueError(
            f"{value[:64]!r} is not an RFC 3339 time with a UTC offset, {years} "
            "(e.g. 2026-11-23T12:00:00Z)"
        )
    try:  # the pattern leaves only the calendar to check (February 30, April 31, ...)
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a real date and time: {exc}") from None
    if output:
        _within_utc(moment)
    return moment


def check_time(value: Any) -> datetime:
    """The time of a prediction or label: an RFC 3339 string or (from Python) an aware
    ``datetime``, years 0002-9998.

    >>> check_time(datetime(2026, 1, 1, tzinfo=UTC)).year
    2026
    >>> try:
    ...     check_time(1795000000)
    ... except ValueError as exc:
    ...     print(exc)
    an event time is an RFC 3339 string with a UTC offset (e.g. 2026-11-23T12:00:00Z), not a number
    """
    if isinstance(value, str):
        return parse_time(value)
    moment = _aware(value)
    if not 2 <= moment.year <= 9998:
        raise ValueError(f"{moment.isoformat()} is outside the {_YEARS}")
    return moment


def check_output_time(value: Any) -> datetime:
    """The time of an event the monitor or retrainer writes: like :func:`check_time`, years
    0001-9999 (its instant within them in UTC too)."""
    if isinstance(value, str):
        return parse_time(value, output=True)
    return _within_utc(_aware(value))


def _aware(value: Any) -> datetime:
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise ValueError("an event time needs a UTC offset (a naive datetime has none)")
        return value
    kind = {type(None): "null", bool: "a boolean", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )
    raise ValueError(
        f"an event time is an RFC 3339 string with a UTC offset (e.g. 2026-11-23T12:00:00Z), not {kind}"
    )


def _within_utc(moment: datetime) -> datetime:
    if not _UTC_LIMITS[0] <= moment <= _UTC_LIMITS[1]:
        raise ValueError(f"{moment.isoformat()} is outside the years 0001-9999 in UTC")
    return moment


def is_number(value: Any) -> bool:
    """Whether ``value`` is a JSON number within the limits (``bool`` is not a number).

    >>> is_number(1.5), is_number(True), is_number(2**53), is_number(float("nan"))
    (True, False, False, False)
    """
    kind = type(value)
    if kind is int:
        return bool(-MAX_NUMBER <= value <= MAX_NUMBER)
    if kind is float:
        return math.isfinite(value) and -MAX_NUMBER <= value <= MAX_NUMBER
    return False


def is_text(value: str) -> bool:
    """Whether a string can be written as UTF-8 (no lone surrogates).

    >>> is_text("caf\\u00e9"), is_text("\\ud800")
    (True, False)
    """
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def class_name(value: Any) -> str | None:
    """The class a multiclass label or predicted label names, or ``None`` when it names none.

    A class is written as a string, or as an integer for a numeric class name (JSON does not tell
    ``2`` from ``2.0``: both name class ``"2"``). ``true``/``false`` name no class.
    """
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if kind is int and -MAX_NUMBER <= value <= MAX_NUMBER:
        return str(value)
    if kind is float and value.is_integer() and -MAX_NUMBER <= value <= MAX_NUMBER:
        return str(int(value))
    return None
