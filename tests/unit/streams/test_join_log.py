"""The join's stored state: deltas plus rolling bases restore exactly, after crashes too."""

from __future__ import annotations

import pickle
import random
import zlib
from typing import Any

import pytest

from streams.errors import CheckpointError, StateTooLargeError
from streams.join_log import JoinLog

BUCKETS = 8


class _Partition:
    """A join partition's entries (``pid -> value``) with checkpoints into a dict store."""

    def __init__(self, store: dict[str, bytes], max_bytes: int = 900 * 1024) -> None:
        self.store = store
        self.log = JoinLog(BUCKETS, max_bytes)
        restored = self.log.restore(store.get)
        self.entries = {pid: v for bucket in restored.buckets for pid, v in bucket.items()}
        self.stamp = restored.stamp
        self.changed: dict[str, tuple[int, Any]] = {}
        self.checkpoints = 0

    def set(self, pid: str, value: Any) -> None:
        if value is None:
            self.entries.pop(pid, None)
        else:
            self.entries[pid] = value
        self.changed[pid] = (_bucket(pid), value)

    def writes(self) -> list[tuple[str, bytes | None]]:
        self.checkpoints += 1
        self.stamp = {"predictions": self.checkpoints}
        changed, self.changed = self.changed, {}
        return self.log.checkpoint(changed, self.stamp, (1.0, 2.0, 3.0))

    def checkpoint(self) -> list[tuple[str, bytes | None]]:
        writes = self.writes()
        _apply(self.store, writes)
        return writes


def _bucket(pid: str) -> int:
    return zlib.crc32(pid.encode()) % BUCKETS


def _apply(store: dict[str, bytes], writes: list[tuple[str, bytes | None]]) -> None:
    for key, value in writes:
        if value is None:
            store.pop(key, None)
        else:
            store[key] = value


def _churn(part: _Partition, rng: random.Random, changes: int) -> None:
    for _ in range(changes):
        pid = f"p-{rng.randrange(400)}"
        part.set(pid, None if rng.random() < 0.3 else rng.random())


def _restored(store: dict[str, bytes]) -> dict[str, Any]:
    return _Partition(dict(store)).entries


def test_restore_is_exact_after_many_checkpoints_and_the_log_stays_short() -> None:
    rng = random.Random(1)
    store: dict[str, bytes] = {}
    part = _Partition(store)
    for _ in range(200):
        _churn(part, rng, rng.randrange(0, 40))
        part.checkpoint()
        assert _restored(store) == part.entries
    deltas = {key.split("/")[1] for key in store if key.startswith("delta/")}
    assert len(deltas) <= BUCKETS + 3
    assert JoinLog(BUCKETS).restore(store.get).stamp == {"predictions": 200}


def test_a_checkpoint_costs_what_changed_not_the_state() -> None:
    store: dict[str, bytes] = {}
    part = _Partition(store)
    for i in range(4000):
        part.set(f"p-{i}", i)
    part.checkpoint()
    part.set("p-1", -1)
    writes = part.checkpoint()
    bases = [key for key, value in writes if key.startswith("base/") and value is not None]
    assert len(bases) == 1  # one bucket (~500 entries), not all eight
    assert _restored(store) == part.entries


def test_a_crash_in_the_middle_of_a_checkpoint_restores_the_one_before() -> None:
    rng = random.Random(2)
    store: dict[str, bytes] = {}
    part = _Partition(store, max_bytes=2000)  # deltas of several parts
    for _ in range(30):
        _churn(part, rng, 60)
        part.checkpoint()
    before = dict(part.entries)
    _churn(part, rng, 200)
    writes = part.writes()
    parts = sum(1 for key, value in writes if key.startswith("delta/") and value is not None)
    assert parts > 1
    for cut in range(len(writes) + 1):
        crashed = dict(store)
        _apply(crashed, writes[:cut])
        assert _restored(crashed) == (part.entries if cut >= parts else before)


def test_bases_set_back_to_the_previous_checkpoint_are_brought_forward_by_the_deltas() -> None:
    """Faust's recovery replays the changelog after the last delivered offset over the local
    store: a value written in the checkpoint that crashed can go back to its previous one."""
    rng = random.Random(3)
    store: dict[str, bytes] = {}
    part = _Partition(store)
    checked = 0
    for _ in range(40):
        _churn(part, rng, 30)
        previous = dict(store)
        part.checkpoint()
        rolled_back = {
            key: previous[key]
            for key in store
            if key.startswith("base/") and key in previous and previous[key] != store[key]
        }
        assert _restored({**store, **rolled_back}) == part.entries
        checked += bool(rolled_back)
    assert checked > 30


def test_a_stale_delta_of_a_crashed_run_ends_the_chain() -> None:
    store: dict[str, bytes] = {}
    part = _Partition(store)
    part.set("p-1", 1)
    part.checkpoint()
    at_one = dict(store)
    for pid in ("p-2", "p-3"):  # the first run's checkpoints 2 and 3, then it is gone
        part.set(pid, 2)
        part.checkpoint()
    stale = {key: value for key, value in store.items() if key.startswith("delta/3/")}
    rerun = _Partition(at_one)  # another worker, from what the changelog held: checkpoint 1
    rerun.set("p-4", 4)
    rerun.checkpoint()  # its own delta 2; the first run's delta 3 names another predecessor
    assert _restored({**at_one, **stale}) == {"p-1": 1, "p-4": 4}


def test_a_base_ahead_of_the_chain_is_an_error() -> None:
    store: dict[str, bytes] = {}
    part = _Partition(store)
    part.set("p-1", 1)
    part.checkpoint()
    part.set("p-2", 2)
    part.checkpoint()
    del store["delta/2/0"]
    with pytest.raises(CheckpointError, match="does not hold"):
        _restored(store)


def test_state_of_the_older_format_is_refused_not_ignored() -> None:
    with pytest.raises(CheckpointError, match="older driftline"):
        JoinLog(BUCKETS).restore({"meta": b"x", "3": b"y"}.get)


def test_state_without_the_format_mark_is_refused() -> None:
    """A base as driftline wrote it before entries were stored pickled (no format mark)."""
    old = {"through": (1, "ab"), "stamp": {}, "buckets": BUCKETS, "times": (0.0, 0.0, 0.0),
           "entries": {"p-1": (None, set(), set(), {}, None)}}  # fmt: skip
    with pytest.raises(CheckpointError, match=r"format 'driftline.join-state/1'.*join-state/2"):
        JoinLog(BUCKETS).restore({"base/0": pickle.dumps(old)}.get)


class _Counted:
    """An entry that counts how often it is pickled."""

    pickled = 0

    def __reduce__(self) -> tuple[Any, ...]:
        _Counted.pickled += 1
        return (int, (0,))


def test_an_entry_is_pickled_once_per_change_not_at_every_base_rewrite() -> None:
    log = JoinLog(buckets=1)
    _Counted.pickled = 0
    log.checkpoint({f"p-{n}": (0, _Counted()) for n in range(100)}, {}, (0.0, 0.0, 0.0))
    assert _Counted.pickled == 100
    for n in range(20):  # the single base is rewritten at every checkpoint
        writes = log.checkpoint({f"q-{n}": (0, _Counted())}, {}, (0.0, 0.0, 0.0))
        assert "base/0" in dict(writes)
    assert _Counted.pickled == 120
    restored = JoinLog(buckets=1).restore(dict(writes).get)  # the last base holds them all
    assert restored.buckets[0] == {pid: 0 for pid in [f"p-{n}" for n in range(100)]
                                   + [f"q-{n}" for n in range(20)]}  # fmt: skip


def test_an_entry_too_big_for_one_value_is_a_clear_error() -> None:
    part = _Partition({}, max_bytes=500)
    part.set("p-1", "x" * 1000)
    with pytest.raises(StateTooLargeError, match="one join entry"):
        part.checkpoint()


def test_state_stored_with_another_bucket_count_is_refused() -> None:
    store: dict[str, bytes] = {}
    part = _Partition(store)
    part.set("p-1", 1)
    part.checkpoint()
    with pytest.raises(
        CheckpointError, match=r"8 buckets per partition, monitor\.join_buckets is 16"
    ):
        JoinLog(16).restore(store.get)
