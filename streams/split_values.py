"""Values larger than one Kafka record in a table that is not transactional.

A Faust table value is one record of its changelog topic, and a record has a size limit (about
1 MB by default). A task monitor's state can be larger: many slice values, a large window, the
feature drift profiles of many features. :class:`SplitValueTable` stores a value up to
:data:`PART_BYTES` as it is, and a larger one as parts under keys ``<key>#<slot>.<i>``, then a
header under ``<key>`` that names the slot, the number of parts and their sha256.

A value that fits one record again replaces the header first and its parts are deleted after
it; parts a worker killed in between leaves behind are named by no header, and the next write of
the key deletes them (it looks for parts under a key without a header).

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

    def keys(self) -> Iterable[str]:
        """The keys of the values (not of their parts)."""
        keys = self.table.keys()
        return (key for key in keys if _SEPARATOR not in key)

    def get(self, key: str) -> bytes | None:
        """The value under ``key``; :class:`~streams.errors.StateRefusedError` when its parts
        do not match their header (the table was changed by something else)."""
        stored = self.table.get(key)
        header = _header(stored)
        if header is None:
            return stored
        slot = header["slot"]
        parts = [self.table.get(_part(key, slot, i)) for i in range(header["parts"][slot])]
        return _assembled(key, parts, header["sha256"])

    def write(self, key: str, value: bytes, event: Any) -> None:
        """Store ``value`` under ``key`` as of ``event``: as one record when it fits, otherwise
        as parts in the slot the current header does not name, then the header. The header
        stored now says which parts each slot holds (never a count kept in memory: another
        worker may have written the key since)."""
        if _SEPARATOR in key:
            raise ValueError(f"a key must not contain {_SEPARATOR!r}: {key!r}")
        header = _header(self.table.get(key))
        held = header["parts"] if header is not None else self._left_over(key)
        if len(value) <= self.part_bytes:
            self.table.write(key, value, event)
            for slot in (0, 1):
                self._drop(key, slot, range(held[slot]), event)
            return
        slot = 0 if header is None else 1 - header["slot"]
        chunks = _chunks(value, self.part_bytes)
        for i, chunk in enumerate(chunks):
            self.table.write(_part(key, slot, i), chunk, event)
        self._drop(key, slot, range(len(chunks), held[slot]), event)
        held[slot] = len(chunks)
        new = {"slot": slot, "parts": held, "sha256": hashlib.sha256(value).hexdigest()}
        self.table.write(key, HEADER + orjson.dumps(new), event)

    def _left_over(self, key: str) -> list[int]:
        """Parts per slot stored under ``key`` with no header naming them: a worker killed
        after a value that fits one record replaced a header, before the old parts were
        deleted. They are deleted with this write."""
        counts = [0, 0]
        for slot in (0, 1):
            while self.table.get(_part(key, slot, counts[slot])) is not None:
                counts[slot] += 1
        return counts

    def _drop(self, key: str, slot: int, parts: range, event: Any) -> None:
        for i in parts:
            self.table.delete(_part(key, slot, i), event)


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
    header = _header(stored)
    held = header["parts"] if header is not None else 0
    if len(value) <= part_bytes:
        return [(key, value), *((_bpart(key, i), None) for i in range(held))]
    chunks = _chunks(value, part_bytes)
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
    header = _header(stored)
    if header is None:
        return stored
    parts = [get(_bpart(key, i)) for i in range(header["parts"])]
    return _assembled(key, parts, header["sha256"])


def _header(stored: bytes | None) -> dict[str, Any] | None:
    """The header ``stored`` is, or ``None`` (a value of one record, or nothing)."""
    if stored is None or not stored.startswith(HEADER):
        return None
    header: dict[str, Any] = orjson.loads(stored[len(HEADER) :])
    return header


def _assembled(key: str | bytes, parts: list[bytes | None], sha256: str) -> bytes:
    """The value of ``parts``; :class:`~streams.errors.StateRefusedError` when one is missing
    or they are not the value their header's ``sha256`` names."""
    value = b"".join(part or b"" for part in parts)
    if None in parts or hashlib.sha256(value).hexdigest() != sha256:
        raise StateRefusedError(
            f"the stored value {key!r} does not match its header (parts missing or changed: "
            "the state was written by something other than this driftline); remove the "
            "monitor's state to start over"
        )
    return value


def _chunks(value: bytes, size: int) -> list[bytes]:
    return [value[i : i + size] for i in range(0, len(value), size)]


def _bpart(key: bytes, i: int) -> bytes:
    return key + f"{_SEPARATOR}{i}".encode()
