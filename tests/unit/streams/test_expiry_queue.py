"""The join's expiry queue against a model: every key comes out once, in order, when its
deadline passes; a checkpoint writes the queue's changes; a restart goes back to the last
checkpoint (what was pushed or handed out since then comes again, as the replayed input would
make it).

The queue is used the way :class:`streams.join.LabelJoin` uses it: the bound (the join's
watermark) never goes back, and every key below it is handed out before the next checkpoint.
A checkpoint that does not stop the join (issue 15) changes exactly this contract: extend the
model first.
"""

from __future__ import annotations

import struct
from pathlib import Path
from tempfile import TemporaryDirectory

from hypothesis import given, settings
from hypothesis import strategies as st
from rocksdict import WriteBatch

from streams.join_store import ExpiryQueue, _open

_KEY = struct.Struct(">QI")  # deadline, serial (keys are unique, as a deadline + pid is)

Op = tuple[str, int]
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("push"), st.integers(-30, 200)),  # deadline relative to the bound
        st.tuples(st.just("advance"), st.integers(0, 60)),
        st.tuples(st.just("checkpoint"), st.just(0)),
        st.tuples(st.just("restart"), st.just(0)),
    ),
    max_size=120,
)


def _key(deadline: int, serial: int) -> bytes:
    return b"x" + _KEY.pack(deadline, serial)


class _Run:
    """The queue on a real (in-memory) database, and the model it must match."""

    def __init__(self, directory: Path) -> None:
        self.db = _open(directory / "store", 2**20)
        self.queue = ExpiryQueue(self.db, b"x", b"x")
        self.bound, self.serial = 1_000, 0
        self.live: set[bytes] = set()  # the model: keys pushed and not handed out
        self.saved: tuple[set[bytes], bytes, int] = (set(), b"x", self.bound)
        self.out: list[bytes] = []

    def apply(self, op: Op) -> None:
        kind, value = op
        if kind == "push":
            self.serial += 1
            key = _key(max(0, self.bound + value), self.serial)
            self.queue.push(key, b"v")
            self.live.add(key)
            self._drain()  # the join expires what is due after every event
        elif kind == "advance":
            self.bound += value
            self._drain()
        elif kind == "checkpoint":
            batch = WriteBatch(raw_mode=True)
            self.queue.flush(batch)
            self.db.write(batch)
            self.saved = (set(self.live), self.queue.cursor, self.bound)
            self._check_disk()
        else:  # a crash: the database holds the last checkpoint, the input replays from there
            live, cursor, bound = self.saved
            self.queue.release()
            self.queue = ExpiryQueue(self.db, b"x", cursor)
            self.live, self.bound = set(live), bound

    def _check_disk(self) -> None:
        """What a restart would read: every key live at the checkpoint, and no other after its
        cursor (one would come out twice)."""
        live, cursor, _ = self.saved
        stored = {key for key, _ in self.db.items(from_key=b"x") if key[:1] == b"x"}
        assert live <= stored, "a live key is missing from the checkpoint"
        extra = {key for key in stored - live if key > cursor}
        assert not extra, f"{len(extra)} handed-out keys would come out again after a restart"

    def _drain(self) -> None:
        bound = b"x" + _KEY.pack(self.bound, 0)
        while (item := self.queue.pop(bound)) is not None:
            key = item[0]
            assert key in self.live, f"{key.hex()} handed out twice (or never pushed)"
            assert key == min(self.live), "keys come out in order"
            self.live.discard(key)
            self.out.append(key)
        assert not any(k < bound for k in self.live), "a due key was not handed out"

    def close(self) -> None:
        self.queue.release()
        self.db.close()


@settings(max_examples=150, deadline=None)
@given(OPS)
def test_every_key_comes_out_once_in_order_across_checkpoints_and_restarts(ops: list[Op]) -> None:
    with TemporaryDirectory() as directory:
        run = _Run(Path(directory))
        try:
            for op in ops:
                run.apply(op)
            run.apply(("advance", 10**9))  # the end: everything is due
            assert not run.live
            assert sorted(run.queue.items()) == []
        finally:
            run.close()


def test_a_key_flushed_below_the_cursor_is_not_lost_by_a_restart() -> None:
    """The case the contract rules out and the model relies on: a key pushed below the cursor is
    handed out before the checkpoint that would write it."""
    with TemporaryDirectory() as directory:
        run = _Run(Path(directory))
        try:
            for op in [("push", 5), ("checkpoint", 0), ("advance", 10), ("push", -3),
                       ("checkpoint", 0), ("restart", 0), ("advance", 10**9)]:  # fmt: skip
                run.apply(op)
            assert not run.live and len(run.out) == 2
        finally:
            run.close()
