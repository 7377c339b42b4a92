"""The outcomes a task holds until their turn: a min-heap in memory, spilled to disk when large.

Stage 2 holds a task's outcomes until every input partition has passed them
(:mod:`streams.outcome_order`). Usually that is a checkpoint or two of outcomes; after a
takeover, while one partition replays hours of backlog and the others are live, it is every
outcome of the live ones for as long as the replay takes. So at most ``memory_items`` stay in
memory (the smallest keys); the larger ones go to a local RocksDB database, ordered by key, and
come back in batches as the memory heap empties. The database is scratch space: the records of
held outcomes are not acknowledged, so a restart reads them again, and the database is deleted
with the heap.

Examples
--------
>>> from streams.outcome import Outcome
>>> def item(tau):
...     o = Outcome("labelled", "m", "1", "a", "p", tau, ("labels", 0, int(tau), 0, 0), tau=tau)
...     return (tau, o.origin, o, None, None, 0)
>>> held = HeldOutcomes(memory_items=2)
>>> [held.push(item(t)) for t in (5.0, 1.0, 4.0, 3.0, 2.0, 3.0)]
[True, True, True, True, True, False]
>>> held.spilled > 0, len(held)
(True, 5)
>>> [held.pop()[0] for _ in range(5)]
[1.0, 2.0, 3.0, 4.0, 5.0]
>>> held.close()
"""

from __future__ import annotations

import heapq
import shutil
import struct
import tempfile
import weakref
from pathlib import Path
from typing import Any

import orjson
from rocksdict import BlockBasedOptions, Cache, Options, Rdict, WriteBatch

from streams.join_store import sortable
from streams.outcome import Origin, Outcome

__all__ = ["HELD_IN_MEMORY", "HeldOutcomes", "Item"]

HELD_IN_MEMORY = 20_000
"""Outcomes of a task held in memory (``monitor.held_in_memory``): about 1.2 KB each as Python
objects. 200 000 per task made three tasks' held outcomes some 700 MB of a worker catching up
(``bench horizon`` at 1 000 predictions per second of event time: 1.46 GB RSS with 517 577
held)."""

Item = tuple[float, Origin, Outcome, Any, Any, int]
"""``(tau, origin, outcome, frontier, durable, record)``: compares as its key (keys are unique)."""
Key = tuple[float, Origin]
_ORIGIN_INTS = struct.Struct(">IQII")  # partition, offset, index, rank


def disk_key(tau: float, origin: Origin) -> bytes:
    """Bytes that sort like ``(tau, origin)`` (topic names hold no NUL; the numbers are >= 0).

    >>> a, b = disk_key(1.0, ("labels", 0, 9, 0, 0)), disk_key(1.0, ("labels", 0, 10, 0, 0))
    >>> a < b < disk_key(1.5, ("labels", 0, 0, 0, 0))
    True
    """
    topic, partition, offset, index, rank = origin
    return (
        sortable(tau) + topic.encode() + b"\x00" + _ORIGIN_INTS.pack(partition, offset, index, rank)
    )


class HeldOutcomes:
    """A min-heap of held outcomes, by key, with at most ``memory_items`` in memory.

    Parameters
    ----------
    memory_items
        Outcomes kept in memory; the larger ones spill to disk.
    directory
        Where the spill database is created (a new temporary directory inside it); default: the
        system's temporary directory.
    """

    def __init__(self, memory_items: int = HELD_IN_MEMORY, directory: Path | None = None) -> None:
        self.memory_items = max(2, memory_items)
        self.directory = directory
        self._heap: list[Item] = []
        self._keys: set[Key] = set()
        self._floor: bytes | None = None  # keys at or above it are on disk
        self._db: Rdict | None = None
        self.spilled = 0  # outcomes on disk

    def __len__(self) -> int:
        return len(self._heap) + self.spilled

    def push(self, item: Item) -> bool:
        """Hold ``item``; ``False`` when its key is held already."""
        key = (item[0], item[1])
        if self._floor is not None:
            encoded = disk_key(*key)
            if encoded >= self._floor:
                return self._spill_one(encoded, item)
        if key in self._keys:
            return False
        self._keys.add(key)
        heapq.heappush(self._heap, item)
        if len(self._heap) > self.memory_items:
            self._spill_half()
        return True

    def first_tau(self) -> float | None:
        """``tau`` of the smallest held key, ``None`` when nothing is held."""
        if not self._heap and self.spilled:
            self._load()
        return self._heap[0][0] if self._heap else None

    def pop(self) -> Item:
        """Remove and return the smallest held item."""
        if not self._heap and self.spilled:
            self._load()
        item = heapq.heappop(self._heap)
        self._keys.discard((item[0], item[1]))
        return item

    def close(self) -> None:
        """Drop the spill database (its directory is deleted)."""
        if self._db is not None:
            self._db.close()
            self._db = None
        self._heap, self._keys, self._floor, self.spilled = [], set(), None, 0

    # ---------------------------------------------------------------------------- spilling

    def _database(self) -> Rdict:
        if self._db is None:
            if self.directory is not None:
                self.directory.mkdir(parents=True, exist_ok=True)
            path = tempfile.mkdtemp(prefix="held-", dir=self.directory)
            self._db = Rdict(path, _spill_options())
            weakref.finalize(self, shutil.rmtree, path, True)
        return self._db

    def _spill_half(self) -> None:
        """Move the larger half of the memory heap to disk."""
        items = sorted(self._heap)
        keep = len(items) // 2
        self._heap = items[:keep]  # a sorted list is a heap
        batch = WriteBatch(raw_mode=True)
        for item in items[keep:]:
            self._keys.discard((item[0], item[1]))
            batch.put(disk_key(item[0], item[1]), _value(item))
        self._database().write(batch)
        self.spilled += len(items) - keep
        floor = disk_key(items[keep][0], items[keep][1])
        self._floor = floor if self._floor is None else min(floor, self._floor)

    def _spill_one(self, encoded: bytes, item: Item) -> bool:
        db = self._database()
        if db.get(encoded) is not None:
            return False
        db.put(encoded, _value(item))
        self.spilled += 1
        return True

    def _load(self) -> None:
        """Bring the smallest spilled keys back into memory (half the memory budget)."""
        db = self._database()
        batch = WriteBatch(raw_mode=True)
        iterator = db.iter()
        iterator.seek_to_first()
        count = self.memory_items // 2
        while iterator.valid() and count:
            key, value = iterator.key(), iterator.value()
            item = _item(value)
            self._heap.append(item)
            self._keys.add((item[0], item[1]))
            batch.delete(key)
            count -= 1
            iterator.next()
        self._floor = iterator.key() if iterator.valid() else None
        del iterator
        db.write(batch)
        self.spilled -= len(self._heap)
        heapq.heapify(self._heap)


def _spill_options() -> Options:
    """Small memory for scratch: RocksDB's defaults (64 MiB write buffers, a 32 MiB cache) are
    some 150 MiB per task while outcomes wait."""
    options = Options(raw_mode=True)
    options.create_if_missing(True)
    options.set_write_buffer_size(4 * 2**20)
    options.set_max_write_buffer_number(2)
    table = BlockBasedOptions()
    table.set_block_cache(Cache(4 * 2**20))
    table.set_bloom_filter(10, False)
    options.set_block_based_table_factory(table)
    return options


def _value(item: Item) -> bytes:
    _, _, outcome, frontier, durable, record = item
    return orjson.dumps([outcome.to_wire(), frontier, durable, record])


def _item(value: bytes) -> Item:
    wire, frontier, durable, record = orjson.loads(value)
    outcome = Outcome.from_wire(wire)
    return (outcome.tau, outcome.origin, outcome, frontier, durable, record)
