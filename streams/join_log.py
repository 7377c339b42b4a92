"""How one join partition's state is stored: bucket bases plus a chain of deltas.

A checkpoint must cost what changed since the last one, not the size of the buffer: predictions
wait a whole label budget (hours or days in production, or a backlog read ahead of its labels
after a restart), and rewriting every one of them at each checkpoint made checkpoints, and so
alerts, slower as the buffer grew. Each checkpoint therefore writes:

* one **delta** (``delta/<seq>/<part>``): every entry changed since the previous checkpoint, or
  ``None`` for one removed, the input offsets it reflects (the stamp) and the stream times; split
  into parts when it would not fit in one Kafka record;
* a few **bases** (``base/<bucket>``): whole buckets rewritten round robin, as many entries as the
  delta holds and at least one bucket, each recording the delta it is current ``through``;
  each entry is pickled once, when it changes: the log keeps every entry's bytes, and a base is
  a dict of them (rewriting a bucket re-pickles none of its entries);
* the deletion of deltas every base has been current through for two checkpoints (the lag keeps
  them while a base's changelog record could still be replaced by an older one on recovery).

Deltas form a chain: each names its predecessor's random id, so a stale delta a crashed run left
behind (same number, other id) ends the chain instead of being applied. :meth:`JoinLog.restore`
loads every base, applies the chain's deltas to the buckets each is newer than, and returns the
state as of the chain's last delta: a crash in the middle of a checkpoint restores the previous
one whole. A base current through a delta the chain does not hold cannot come from a crash (a
delta is written before the bases of its checkpoint) and raises :class:`CheckpointError`.

Examples
--------
>>> store = {}
>>> log = JoinLog(buckets=2)
>>> writes = log.checkpoint({"p-1": (0, "entry-1")}, {"predictions": 4}, (1.0, 1.0, 1.0))
>>> [key for key, _ in writes]
['delta/1/0', 'base/0']
>>> store.update(writes)
>>> restored = JoinLog(buckets=2).restore(store.get)
>>> restored.buckets, restored.stamp
([{'p-1': 'entry-1'}, {}], {'predictions': 4})
"""

from __future__ import annotations

import pickle
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from streams.errors import RESET_STATE, CheckpointError, StateTooLargeError

__all__ = ["MAX_STATE_BYTES", "STATE_FORMAT", "JoinLog", "RestoredJoin"]

Times = tuple[float, float, float]
"""``(watermark, prediction stream time, label stream time)``."""
Write = tuple[str, bytes | None]
"""A state value to write under ``key`` (relative to the partition), or ``None``: delete it."""

STATE_FORMAT = "driftline.join-state/2"
"""The layout of the values; bump it when it changes (a stored state of another is refused)."""
MAX_STATE_BYTES = 900 * 1024
"""A state value must stay under Kafka's 1 MB record limit."""
_FOLD_LAG = 2
"""Checkpoints a delta is kept after every base has folded it in."""


@dataclass
class RestoredJoin:
    """What :meth:`JoinLog.restore` read: packed entries per bucket, stamp and stream times."""

    buckets: list[dict[str, Any]]
    stamp: dict[str, int] = field(default_factory=dict)
    times: Times = (float("-inf"), float("-inf"), float("-inf"))


class JoinLog:
    """The state values of one join partition and the bookkeeping to write them incrementally.

    Parameters
    ----------
    buckets
        How many bases (hash buckets of ``prediction_id``) the entries are split into.
    max_bytes
        A value's size limit; a larger delta is split into parts, a larger base raises
        :class:`StateTooLargeError`.
    """

    def __init__(self, buckets: int, max_bytes: int = MAX_STATE_BYTES) -> None:
        self.buckets = buckets
        self.max_bytes = max_bytes
        self._seq, self._id = 0, ""
        self._through: list[tuple[int, str]] = [(0, "")] * buckets
        self._stored: list[dict[str, bytes]] = [{} for _ in range(buckets)]  # pickled entries
        self._cursor = 0
        self._live: deque[tuple[int, int]] = deque()  # deltas still stored: (seq, parts)
        self._folded: deque[int] = deque([0] * (_FOLD_LAG + 1), maxlen=_FOLD_LAG + 1)

    # ----------------------------------------------------------------------------- writing

    def checkpoint(
        self,
        changed: dict[str, tuple[int, Any]],
        stamp: dict[str, int],
        times: Times,
    ) -> list[Write]:
        """The writes of one checkpoint, in the order they must be made.

        ``changed`` maps each prediction id changed since the last checkpoint to ``(bucket,
        packed entry or None)`` (``None``: removed).
        """
        seq, prev, self._id = self._seq + 1, self._id, secrets.token_hex(8)
        self._seq = seq
        head = {
            "format": STATE_FORMAT,
            "seq": seq,
            "id": self._id,
            "prev": prev,
            "stamp": dict(stamp),
            "times": times,
            "buckets": self.buckets,
        }
        parts = self._split(head, list(self._store(changed).items()))
        writes: list[Write] = [(f"delta/{seq}/{n}", value) for n, value in enumerate(parts)]
        self._live.append((seq, len(parts)))
        writes += self._rewrite_bases(len(changed), head)
        self._folded.append(min(through for through, _ in self._through))
        writes += self._forget(self._folded[0])
        return writes

    def _store(self, changed: dict[str, tuple[int, Any]]) -> dict[str, tuple[int, bytes | None]]:
        """Pickle each changed entry into the stored bytes; the delta's entries."""
        entries: dict[str, tuple[int, bytes | None]] = {}
        for pid, (b, packed) in changed.items():
            if packed is None:
                self._stored[b].pop(pid, None)
                entries[pid] = (b, None)
            else:
                data = self._stored[b][pid] = pickle.dumps(packed, protocol=5)
                entries[pid] = (b, data)
        return entries

    def _split(self, head: dict[str, Any], items: list[tuple[str, Any]]) -> list[bytes]:
        """The delta's parts: halves until each fits in ``max_bytes``."""
        chunks = [items]
        while True:
            values = [
                pickle.dumps({**head, "parts": len(chunks), "entries": dict(chunk)}, protocol=5)
                for chunk in chunks
            ]
            big = [n for n, value in enumerate(values) if len(value) > self.max_bytes]
            if not big:
                return values
            if any(len(chunks[n]) <= 1 for n in big):
                raise StateTooLargeError(
                    f"one join entry is over the {self.max_bytes}-byte state value limit; "
                    "send fewer or smaller features with each prediction"
                )
            chunks = [half for chunk in chunks for half in _halves(chunk)]

    def _rewrite_bases(self, changed: int, head: dict[str, Any]) -> list[Write]:
        writes: list[Write] = []
        written = 0
        for _ in range(self.buckets):
            b = self._cursor
            self._cursor = (b + 1) % self.buckets
            entries = self._stored[b]
            base = {
                "format": STATE_FORMAT,
                "through": (head["seq"], head["id"]),
                "stamp": head["stamp"],
                "buckets": self.buckets,
                "times": head["times"],
                "entries": entries,
            }
            value = pickle.dumps(base, protocol=5)
            if len(value) > self.max_bytes:
                raise StateTooLargeError(
                    f"join bucket {b} is {len(value)} bytes, over the {self.max_bytes}-byte "
                    "limit; use more partitions, or more monitor.join_buckets with a fresh state"
                )
            writes.append((f"base/{b}", value))
            self._through[b] = (head["seq"], head["id"])
            written += len(entries)
            if written >= changed:
                break
        return writes

    def _forget(self, folded: int) -> list[Write]:
        writes: list[Write] = []
        while self._live and self._live[0][0] <= folded:
            seq, parts = self._live.popleft()
            writes += [(f"delta/{seq}/{n}", None) for n in range(parts)]
        return writes

    # ----------------------------------------------------------------------------- restoring

    def restore(self, read: Callable[[str], bytes | None]) -> RestoredJoin:
        """Read the bases and the delta chain with ``read(key)``; continue the chain from there."""
        if read("meta") is not None and read("base/0") is None and read("delta/1/0") is None:
            raise CheckpointError(
                "the join state was written by an older driftline (a 'meta' value, no bases); "
                f"its format is not readable: {RESET_STATE}"
            )
        restored = RestoredJoin([{} for _ in range(self.buckets)])
        for b in range(self.buckets):
            data = read(f"base/{b}")
            if data is None:
                continue
            base = self._same_layout(pickle.loads(data))
            self._stored[b] = base["entries"]
            self._through[b] = base["through"]
            restored.stamp, restored.times = _newer(restored, base)
        start = min(self._through)
        chain = self._chain(start, read)
        for delta in chain:
            for pid, (b, stored) in delta["entries"].items():
                if self._through[b][0] >= delta["seq"]:
                    continue
                if stored is None:
                    self._stored[b].pop(pid, None)
                else:
                    self._stored[b][pid] = stored
            restored.stamp, restored.times = _newer(restored, delta)
        ids = {start[0]: start[1]} | {delta["seq"]: delta["id"] for delta in chain}
        for b, (seq, ident) in enumerate(self._through):
            if ids.get(seq) != ident:
                raise CheckpointError(
                    f"join base {b} is current through delta {seq}, which the delta chain "
                    f"({start[0]}..{self._seq}) does not hold: the worker's local store is ahead of the "
                    "changelog; delete the worker's state directory to restore from the changelog"
                )
        self._cursor = min(range(self.buckets), key=lambda b: (self._through[b][0], b))
        self._folded.extend([start[0]] * (_FOLD_LAG + 1))
        self._find_older(start[0], read)
        restored.buckets = [
            {pid: pickle.loads(data) for pid, data in stored.items()} for stored in self._stored
        ]
        return restored

    def _chain(self, start: tuple[int, str], read: Callable[[str], bytes | None]) -> list[Any]:
        self._seq, self._id = start
        chain: list[Any] = []
        while True:
            first = read(f"delta/{self._seq + 1}/0")
            if first is None:
                return chain
            delta = self._same_layout(pickle.loads(first))
            if delta["prev"] != self._id:
                return chain  # a stale delta of a crashed run: the chain ends before it
            for n in range(1, delta["parts"]):
                part = read(f"delta/{self._seq + 1}/{n}")
                if part is None:
                    return chain  # written in part: that checkpoint did not complete
                delta["entries"].update(pickle.loads(part)["entries"])
            chain.append(delta)
            self._live.append((delta["seq"], delta["parts"]))
            self._seq, self._id = delta["seq"], delta["id"]

    def _same_layout(self, value: dict[str, Any]) -> dict[str, Any]:
        found = value.get("format", "driftline.join-state/1")
        if found != STATE_FORMAT:
            raise CheckpointError(
                f"the stored join state is in format {found!r}, this driftline reads "
                f"{STATE_FORMAT!r}: {RESET_STATE}"
            )
        if value["buckets"] != self.buckets:
            raise CheckpointError(
                f"the stored join state has {value['buckets']} buckets per partition, "
                f"monitor.join_buckets is {self.buckets}: set it back, or {RESET_STATE}"
            )
        return value

    def _find_older(self, start: int, read: Callable[[str], bytes | None]) -> None:
        """Deltas every base folded in that are still stored: deleted by the next checkpoints."""
        seq = start
        while seq > 0:
            data = read(f"delta/{seq}/0")
            if data is None:
                return
            self._live.appendleft((seq, pickle.loads(data)["parts"]))
            seq -= 1


def _newer(restored: RestoredJoin, value: dict[str, Any]) -> tuple[dict[str, int], Times]:
    stamp = dict(restored.stamp)
    for topic, offset in value["stamp"].items():
        stamp[topic] = max(offset, stamp.get(topic, -1))
    (w, p, label), (w2, p2, label2) = restored.times, value["times"]
    return stamp, (max(w, w2), max(p, p2), max(label, label2))


def _halves(items: list[Any]) -> list[list[Any]]:
    middle = len(items) // 2
    return [items[:middle], items[middle:]]
