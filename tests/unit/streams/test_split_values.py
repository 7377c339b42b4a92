"""Values larger than a record, stored in parts: whole after a crash at any write, never a cliff."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest

from driftline.config import parse_config
from streams.errors import StateRefusedError
from streams.split_values import DictTable, SplitValueTable
from streams.task_monitor import TaskMonitor


class RecordedTable(DictTable):
    """A :class:`DictTable` that remembers each write and delete, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[str, str, bytes | None]] = []

    def write(self, key: str, value: bytes, event: Any) -> None:
        super().write(key, value, event)
        self.log.append(("write", key, value))

    def delete(self, key: str, event: Any) -> None:
        super().delete(key, event)
        self.log.append(("delete", key, None))


def _value(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


@pytest.mark.parametrize("sizes", [(5, 30), (30, 5), (30, 45), (45, 30), (30, 30), (12, 31)])
def test_a_crash_at_any_write_leaves_the_old_value_or_the_new_one_whole(
    sizes: tuple[int, int],
) -> None:
    """A worker killed after any prefix of a write's records: a new worker reads either the
    previous value or the new one, never a mix (Faust tables are not transactional)."""
    before = [_value(size, seed) for seed, size in enumerate((17, *sizes[:1]))]
    new = _value(sizes[1], 99)
    table = RecordedTable()
    values = SplitValueTable(table, part_bytes=10)
    for value in before:
        values.write("m/t", value, event=None)
    start = dict(table.data)
    table.log.clear()
    values.write("m/t", new, event=None)
    writes = list(table.log)
    commit = next(i for i, (op, key, _) in enumerate(writes) if op == "write" and key == "m/t")
    for n in range(len(writes) + 1):
        replayed = RecordedTable()
        replayed.data = dict(start)
        for op, key, value in writes[:n]:
            if op == "write":
                assert value is not None
                replayed.write(key, value, None)
            else:
                replayed.delete(key, None)
        got = SplitValueTable(replayed, part_bytes=10).get("m/t")
        committed = n > commit  # the header (or the value of one record) was written
        assert got == (new if committed else before[-1]), (n, commit)


@pytest.mark.parametrize("follow", [3, 25, 45])
def test_parts_a_crash_left_without_a_header_go_with_the_next_write(follow: int) -> None:
    """Killed after a value of one record replaced a header, before the old parts were
    deleted: nothing names those parts, and the next write of the key deletes them (or the
    header it writes names them), whatever its size."""
    table = RecordedTable()
    values = SplitValueTable(table, part_bytes=10)
    for size in (50, 45):  # both slots hold parts
        values.write("m/t", _value(size, size), event=None)
    before = dict(table.data)
    table.log.clear()
    values.write("m/t", _value(4, 4), event=None)
    assert table.log[0] == ("write", "m/t", _value(4, 4))  # the one-record value comes first
    crashed = DictTable()
    crashed.data = {**before, "m/t": _value(4, 4)}  # the crash: no part deleted
    assert SplitValueTable(crashed, part_bytes=10).get("m/t") == _value(4, 4)
    restarted = SplitValueTable(crashed, part_bytes=10)
    restarted.write("m/t", _value(follow, 7), event=None)
    assert restarted.get("m/t") == _value(follow, 7)
    header = orjson.loads(crashed.data["m/t"][18:]) if follow > 10 else {"parts": [0, 0]}
    named = {f"m/t#{slot}.{i}" for slot in (0, 1) for i in range(header["parts"][slot])}
    assert {key for key in crashed.data if "#" in key} == named


def test_values_round_trip_and_parts_are_removed_when_no_longer_needed() -> None:
    table = DictTable()
    values = SplitValueTable(table, part_bytes=10)
    for size in (35, 12, 51, 8, 23, 0):
        value = _value(size, size)
        values.write("m/t", value, event=None)
        assert values.get("m/t") == value
        assert SplitValueTable(table, part_bytes=10).get("m/t") == value  # a restart
        assert list(values.keys()) == ["m/t"]
    assert sorted(table.data) == ["m/t"]  # 0 bytes fit one record: every part deleted


def test_a_restarted_table_keeps_alternating_slots_and_removes_stale_parts() -> None:
    table = DictTable()
    SplitValueTable(table, part_bytes=10).write("m/t", _value(50, 1), event=None)
    SplitValueTable(table, part_bytes=10).write("m/t", _value(45, 2), event=None)
    restarted = SplitValueTable(table, part_bytes=10)  # writes before reading (no get first)
    restarted.write("m/t", _value(21, 3), event=None)
    assert restarted.get("m/t") == _value(21, 3)
    parts = sorted(key for key in table.data if "#" in key)
    # slot 0 held 5 parts, slot 1 then 5; the third value went to slot 0 in 3: 2 deleted
    assert parts == [f"m/t#0.{i}" for i in range(3)] + [f"m/t#1.{i}" for i in range(5)]


def test_parts_that_do_not_match_their_header_are_refused() -> None:
    table = DictTable()
    SplitValueTable(table, part_bytes=10).write("m/t", _value(25, 1), event=None)
    table.data["m/t#0.1"] = b"x" * 10
    with pytest.raises(StateRefusedError, match="does not match its header"):
        SplitValueTable(table, part_bytes=10).get("m/t")
    del table.data["m/t#0.1"]
    with pytest.raises(StateRefusedError, match="parts missing"):
        SplitValueTable(table, part_bytes=10).get("m/t")


def test_a_key_with_the_separator_is_refused() -> None:
    with pytest.raises(ValueError, match="must not contain"):
        SplitValueTable(DictTable()).write("m/t#1", b"", event=None)


def test_a_task_monitor_over_a_record_round_trips_through_parts() -> None:
    """A window of 100 000 labels: about 1.3 MB of state, two parts of the default size."""
    from streams.outcome import Outcome

    config = parse_config("model: m\ntasks:\n  churn: {type: binary, window: 100000}\n")
    monitor, rng = TaskMonitor(config, "m", "churn"), random.Random(3)
    for n in range(100_000):
        y = rng.random()
        monitor.apply(Outcome("labelled", "m", "1", "churn", f"p{n}", n / 100,
                              ("labels", 0, n, 0, 0), y_pred=y, y_true=int(rng.random() < y)))  # fmt: skip
    data = monitor.dump()
    assert len(data) > 1_000_000
    table = DictTable()
    SplitValueTable(table).write("m/churn", data, event=None)
    assert len([key for key in table.data if "#" in key]) == 2
    stored = SplitValueTable(table).get("m/churn")
    assert stored == data
    restored = TaskMonitor.load(config, stored)
    assert restored.scopes[()].metrics.cumulative() == monitor.scopes[()].metrics.cumulative()


# ---------------------------------------------------------------- outcomes envelopes (stage 1)


def test_envelopes_stay_under_the_limit_and_an_oversized_outcome_is_dead_lettered() -> None:
    """Profiles of many features are large: envelopes are halved until they fit, in order; one
    outcome over the limit alone becomes a dead letter (without its sketches), never a send
    the broker would refuse at every restart."""
    from streams.join_runner import _oversized, envelopes
    from streams.outcome import Outcome, encode_outcomes

    def profile(n: int, size: int) -> list[Any]:
        features = {"window": [0.0, 60.0], "partition": 0, "profile": {"x": "y" * size}}
        return Outcome("profile", "m", "1", "churn", "", 60.0, ("profiles", 0, n, 0, 0),
                       features=features).to_wire()  # fmt: skip

    items = [profile(n, size) for n, size in enumerate((300, 400, 500, 2000, 100))]
    values, oversized = envelopes(items, lambda c: encode_outcomes(c, {}, {}), False, limit=1200)
    assert all(len(value) <= 1200 for value in values)
    sent = [item[6][2] for value in values for item in orjson.loads(value)["events"]]
    assert sent == [0, 1, 2, 4] and [(wire[6][2], size > 2000) for wire, size in oversized] == [
        (3, True)
    ]
    letter = _oversized(*oversized[0])
    assert letter.reason.startswith("outcome too large: a profile outcome of task churn is ")
    assert "y" * 100 not in str(letter.payload) and "window" in str(letter.payload)


def test_a_training_profile_over_a_record_falls_back_to_the_first_windows(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from streams.model_updates import _encoded
    from streams.outcome import Outcome

    features = {"reference": "champion", "profile": {"x": "y" * 1_000_000}}
    outcome = Outcome("version", "m", "2", "churn", "u-2", 60.0, ("model-updates", 0, 4, 0, 0),
                      features=features)  # fmt: skip
    value = _encoded(outcome)
    assert len(value) < 10_000
    (wire,) = orjson.loads(value)["events"]
    assert wire[15]["reference"] == "first_windows"
    assert "training profile for task churn is" in wire[15]["why"]
    assert "feature drift reference of m v2, task churn: its first windows" in caplog.text
