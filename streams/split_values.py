"""Values larger than one Kafka record in a table that is not transactional.

A Faust table value is one record of its changelog topic, and a record has a size limit (about
1 MB by default). A task monitor's state can be larger: many slice values, a large window, the
feature drift profiles of many features. :class:`SplitValueTable` stores a value up to
:data:`PART_BYTES` as it is, and a larger one as parts under keys ``<key>#<slot>.<i>``, then a
header under ``<key>`` that names the slot, the number of parts and their sha256.

Faust's table writes are not transactional: a worker killed between two writes leaves the first.
So the parts always go to the slot the current header does **not** name, and the header is
written last. A worker killed before the header leaves the old header, whose parts are
untouched: a restore reads the previous value whole, as a value of one record would be. This
holds because a value's parts and header are written in the same record's context, so they go
to the same changelog partition in their order, and both the changelog and Faust's local store
apply them in that order.

Examples
--------
>>> table = DictTable()
>>> values = SplitValueTable(table, part_bytes=4)
>>> values.write("m/churn", b"0123456789", event=None)
>>> sorted(table.data)
['m/churn', 'm/churn#0.0', 'm/churn#0.1', 'm/churn#0.2']
>>> values.get("m/churn"), list(values.keys())
(b'0123456789', ['m/churn'])
>>> values.write("m/churn", b"abc", event=None)  # fits one record again: the parts are removed
>>> sorted(table.data), values.get("m/churn")
(['m/churn'], b'abc')
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any, Protocol

import orjson

from streams.errors import StateRefusedError

__all__ = [
    "HEADER",
    "PART_BYTES",
    "DictTable",
    "RecordTable",
    "SplitValueTable",
    "joined",
    "split",
]

PART_BYTES = 900 * 1024
"""The largest value stored as one record (and the size of each part of a larger one): under
Kafka's default 1 MB record limit, with room for the key and the record's overhead."""

HEADER = b"driftline.parts/1\n"
"""How a header value starts (a stored state itself never does: pickles start with 0x80)."""

_SEPARATOR = "#"


class RecordTable(Protocol):
    """A table of bytes whose writes go out in a record's context (see
    :class:`~streams.faust_edges.EventTable`)."""

    def get(self, key: str) -> bytes | None: ...

    def keys(self) -> Iterable[str]: ...

    def write(self, key: str, value: bytes, event: Any) -> None: ...

    def delete(self, key: str, event: Any) -> None: ...


class SplitValueTable:
    """A :class:`RecordTable` whose values may be larger than one record.

    Keys must not contain ``#`` (the parts' keys do).

    Parameters
    ----------
    table
        The table of records.
    part_bytes
        The largest value of one record.
    """

    def __init__(self, table: RecordTable, part_bytes: int = PART_BYTES) -> None:
        self.table = table
        self.part_bytes = part_bytes
        self._parts: dict[str, list[int]] = {}  # per key, the parts held in each slot

    def keys(self) -> Iterable[str]:
        """The keys of the values (not of their parts)."""
        keys = self.table.keys()
        return (key for key in keys if _SEPARATOR not in key)

    def get(self, key: str) -> bytes | None:
        """The value under ``key``; :class:`~streams.errors.StateRefusedError` when its parts
        do not match their header (the table was changed by something else)."""
        stored = self.table.get(key)
        if stored is None or not stored.startswith(HEADER):
            self._parts.setdefault(key, [0, 0])
            return stored
        header = orjson.loads(stored[len(HEADER) :])
        slot, parts = header["slot"], header["parts"]
        self._parts[key] = parts
        chunks = [self.table.get(_part(key, slot, i)) for i in range(parts[slot])]
        value = b"".join(chunk or b"" for chunk in chunks)
        if (
            any(chunk is None for chunk in chunks)
            or hashlib.sha256(value).hexdigest() != header["sha256"]
        ):
            raise StateRefusedError(
                f"the stored value {key!r} does not match its header (parts missing or changed: "
                "the table was written by something other than this worker); remove the "
                "monitor's state to start over"
            )
        return value

    def write(self, key: str, value: bytes, event: Any) -> None:
        """Store ``value`` under ``key`` as of ``event``: as one record when it fits, otherwise
        as parts in the slot the current header does not name, then the header."""
        if _SEPARATOR in key:
            raise ValueError(f"a key must not contain {_SEPARATOR!r}: {key!r}")
        if key not in self._parts:
            self.get(key)  # the parts its header names (a restart)
        held = self._parts[key]
        if len(value) <= self.part_bytes:
            self.table.write(key, value, event)
            for slot in (0, 1):
                self._drop(key, slot, 0, event)
            return
        stored = self.table.get(key)
        current = 1  # a value of one record: its parts (if any) are stale, either slot will do
        if stored is not None and stored.startswith(HEADER):
            current = orjson.loads(stored[len(HEADER) :])["slot"]
        slot = 1 - current
        chunks = [value[i : i + self.part_bytes] for i in range(0, len(value), self.part_bytes)]
        for i, chunk in enumerate(chunks):
            self.table.write(_part(key, slot, i), chunk, event)
        self._drop(key, slot, len(chunks), event)
        held[slot] = len(chunks)
        header = {"slot": slot, "parts": held, "sha256": hashlib.sha256(value).hexdigest()}
        self.table.write(key, HEADER + orjson.dumps(header), event)

    def _drop(self, key: str, slot: int, keep: int, event: Any) -> None:
        """Delete the parts of ``slot`` past the first ``keep``."""
        held = self._parts[key]
        for i in range(keep, held[slot]):
            self.table.delete(_part(key, slot, i), event)
        held[slot] = min(held[slot], keep)


class DictTable:
    """A :class:`RecordTable` in a dict (tests, doctests)."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def get(self, key: str) -> bytes | None:
        return self.data.get(key)

    def keys(self) -> Iterable[str]:
        return list(self.data)

    def write(self, key: str, value: bytes, event: Any) -> None:
        self.data[key] = value

    def delete(self, key: str, event: Any) -> None:
        self.data.pop(key, None)


def _part(key: str, slot: int, i: int) -> str:
    return f"{key}{_SEPARATOR}{slot}.{i}"


# ------------------------------------------------------- one transaction: no slots needed


def split(
    key: bytes, value: bytes, stored: bytes | None, part_bytes: int = PART_BYTES
) -> list[tuple[bytes, bytes | None]]:
    """The records that store ``value`` under ``key`` when they are written in **one**
    transaction (the join's changelog and local batch): ``value`` itself when it fits a record,
    otherwise parts under ``<key>#<i>`` then a header; ``None`` values delete the parts that
    ``stored`` (the value there now) had past the new ones.

    >>> records = split(b"a", b"0123456789", None, part_bytes=4)
    >>> [(k, v[:6] if v else v) for k, v in records]
    [(b'a#0', b'0123'), (b'a#1', b'4567'), (b'a#2', b'89'), (b'a', b'driftl')]
    >>> data = dict(records)
    >>> joined(b"a", data[b"a"], data.get)
    b'0123456789'
    >>> split(b"a", b"xy", data[b"a"], part_bytes=4)
    [(b'a', b'xy'), (b'a#0', None), (b'a#1', None), (b'a#2', None)]
    """
    held = _header(stored)["parts"] if stored is not None and stored.startswith(HEADER) else 0
    if len(value) <= part_bytes:
        return [(key, value), *((_bpart(key, i), None) for i in range(held))]
    chunks = [value[i : i + part_bytes] for i in range(0, len(value), part_bytes)]
    records: list[tuple[bytes, bytes | None]] = [
        (_bpart(key, i), chunk) for i, chunk in enumerate(chunks)
    ]
    records += [(_bpart(key, i), None) for i in range(len(chunks), held)]
    header = {"parts": len(chunks), "sha256": hashlib.sha256(value).hexdigest()}
    records.append((key, HEADER + orjson.dumps(header)))
    return records


def joined(key: bytes, stored: bytes, get: Any) -> bytes:
    """The value :func:`split` stored under ``key`` (``stored``: what is there), its parts
    read with ``get``; :class:`~streams.errors.StateRefusedError` when they do not match."""
    if not stored.startswith(HEADER):
        return stored
    header = _header(stored)
    chunks = [get(_bpart(key, i)) for i in range(header["parts"])]
    value = b"".join(chunk or b"" for chunk in chunks)
    if None in chunks or hashlib.sha256(value).hexdigest() != header["sha256"]:
        raise StateRefusedError(
            f"the stored value {key!r} does not match its header (parts missing or changed); "
            "remove the monitor's state to start over"
        )
    return value


def _header(stored: bytes) -> dict[str, Any]:
    header: dict[str, Any] = orjson.loads(stored[len(HEADER) :])
    return header


def _bpart(key: bytes, i: int) -> bytes:
    return key + f"{_SEPARATOR}{i}".encode()
