"""JoinStore: the join's state on disk, what a checkpoint writes, and rebuilding it from the
changelog alone (a worker on another host taking the partition over)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rocksdict import WriteBatch

from driftline.config import parse_config
from driftline.errors import ConfigError
from streams.errors import StateRefusedError
from streams.join import LabelJoin, entry_codec
from streams.join_entry import EarlyLabel, EntryCodec, JoinEntry
from streams.join_store import JoinStore, sortable, unsortable
from streams.records import LabelRecord, PredictionRecord

CFG = parse_config(
    "model: m\nmonitor: {feature_sink: false}\ntasks:\n"
    "  churn: {type: binary, label_delay: 3600, slices: [country]}\n"
    "  category: {type: multiclass, classes: [a, b, c], label_delay: 43200}\n"
    "  spend: {type: regression, label_delay: 259200}\n"
)
DELAYS = {name: task.label_delay for name, task in CFG.tasks.items()}
Changelog = list[tuple[bytes, bytes | None]]


def _events(n: int, seed: int) -> list[tuple[str, object]]:
    """Predictions every 10 s of event time, labels after their task's delay (some early,
    some never), in event-time order."""
    rng = random.Random(seed)
    events: list[tuple[float, str, object]] = []
    for i in range(n):
        t = 1_700_000_000.0 + 10 * i
        outputs = {"churn": {"score": rng.random()}, "category": {"label": "b"},
                   "spend": {"value": rng.gauss(50, 5)}}  # fmt: skip
        events.append((t, "predictions", PredictionRecord(
            f"p-{i}", "m", "1", f"e-{i}", t, outputs, {}, {"country": "DE"})))  # fmt: skip
        for task, delay, label in (
            ("churn", 1800, 1),
            ("category", 20000, "a"),
            ("spend", 9e4, 3.0),
        ):
            if rng.random() < 0.1:
                continue
            lt = t + rng.uniform(-30, delay)
            events.append((lt, "labels", LabelRecord(f"p-{i}", task, label, lt)))
    events.sort(key=lambda e: e[0])
    return [(topic, record) for _, topic, record in events]


def _run(
    join: LabelJoin, events: list[tuple[str, object]], changelog: Changelog, every: int
) -> list:
    out, offsets = [], {"predictions": 0, "labels": 0}
    for n, (topic, record) in enumerate(events, 1):
        offset = offsets[topic]
        offsets[topic] += 1
        out += join.add(record, (topic, 0, offset, 0))  # type: ignore[arg-type]
        join.mark_applied(topic, offset)
        if n % every == 0 or n == len(events):
            records, batch = join.checkpoint()
            changelog.extend(records)
            join.commit(batch, len(changelog) - 1)
    return out


def _state(store: JoinStore) -> tuple[dict, list, list]:
    """Every entry (decoded), every expiry key, and every early label's key that still has its
    label (the join leaves the keys of labels joined when their prediction came: it skips them
    when their time comes)."""
    entries = {}
    iterator = store._db.iter()
    iterator.seek(b"e")
    while iterator.valid() and iterator.key().startswith(b"e"):
        entries[iterator.key()] = store.codec.decode(iterator.value())
        iterator.next()
    del iterator
    live = [
        (key, value)
        for key, value in store.early_deadlines.items()
        if any(e.code == key[9] for e in getattr(entries.get(b"e" + key[10:]), "early", ()))
    ]
    return entries, list(store.deadlines.items()), live


def test_a_store_rebuilt_from_the_changelog_equals_the_local_one(tmp_path: Path) -> None:
    changelog: Changelog = []
    local = JoinStore(tmp_path / "local", DELAYS, entry_codec(CFG))
    join = LabelJoin(CFG, local)
    _run(join, _events(3000, seed=1), changelog, every=250)
    assert join.pending > 1000 and local.changed == 0
    rebuilt = JoinStore(tmp_path / "rebuilt", DELAYS, entry_codec(CFG))
    rebuilt.apply_changelog(changelog, len(changelog) - 1)
    entries, x_keys, y_keys = _state(local)
    assert _state(rebuilt) == (entries, x_keys, y_keys)
    assert rebuilt.meta.stamp == local.meta.stamp and rebuilt.meta.times == local.meta.times
    assert rebuilt.meta.pending == local.meta.pending == len(entries)
    # applied again from the start (a catch-up that did not finish): the same state
    rebuilt.apply_changelog(changelog, len(changelog) - 1)
    assert _state(rebuilt) == (entries, x_keys, y_keys)


def test_a_restarted_join_goes_on_exactly_as_one_that_never_stopped(tmp_path: Path) -> None:
    events = _events(2000, seed=2)
    calm = _run(
        LabelJoin(CFG, JoinStore(tmp_path / "calm", DELAYS, entry_codec(CFG))), events, [], 100
    )
    changelog: Changelog = []
    first = LabelJoin(CFG, JoinStore(tmp_path / "restarted", DELAYS, entry_codec(CFG)))
    out = _run(first, events[:1000], changelog, 100)  # 1000 is a checkpoint: nothing after it
    first.close()
    second = LabelJoin(CFG, JoinStore(tmp_path / "restarted", DELAYS, entry_codec(CFG)))
    assert second.pending == first.pending and second.watermark == first.watermark
    offsets = {"predictions": 0, "labels": 0}
    for topic, _ in events[:1000]:
        offsets[topic] += 1
    for topic, record in events[1000:]:
        offset = offsets[topic]
        offsets[topic] += 1
        out += second.add(record, (topic, 0, offset, 0))  # type: ignore[arg-type]
    assert [(o.kind, o.task, o.prediction_id, o.origin) for o in out] == [
        (o.kind, o.task, o.prediction_id, o.origin) for o in calm
    ]


def test_a_checkpoint_writes_what_changed_and_memory_holds_only_that(tmp_path: Path) -> None:
    join = LabelJoin(CFG, JoinStore(tmp_path / "p", DELAYS, entry_codec(CFG)))
    changelog: Changelog = []
    _run(join, _events(2000, seed=3), changelog, every=2000)
    assert join.changed == 0
    late = PredictionRecord("new", "m", "1", "e", 1_700_019_000.0, {"spend": {"value": 1.0}})
    join.add(late, ("predictions", 0, 10**6, 0))
    assert join.changed == 1  # one entry changed: one changelog record besides the meta one
    records, batch = join.checkpoint()
    assert [key for key, _ in records] == [b"m", b"enew"]
    join.commit(batch, 0)


def test_entries_keep_only_what_the_join_needs(tmp_path: Path) -> None:
    lean = LabelJoin(CFG, JoinStore(tmp_path / "lean", DELAYS, entry_codec(CFG)))
    p = PredictionRecord("p-1", "m", "1", "e-1", 0.0,
                         {"churn": {"score": 0.25}, "category": {"label": "a"}, "spend": {"value": 9.5}},
                         {"tenure": 14, "text": "x" * 500}, {"country": "DE"})  # fmt: skip
    lean.add(p, ("predictions", 0, 0, 0))
    records, _ = lean.checkpoint()
    (value,) = [v for k, v in records if k == b"ep-1"]
    assert value is not None and len(value) < 110  # no features (no sink), segments (slices)
    assert b"tenure" not in value and b"DE" in value


def test_sortable_floats_sort_like_floats() -> None:
    values = [-1e300, -5.5, -0.0, 0.0, 1e-9, 3.0, 1.7e9, 1e300, float("inf"), float("-inf")]
    assert sorted(values, key=sortable) == sorted(values)
    assert [unsortable(sortable(v)) for v in values] == values


@settings(max_examples=300, deadline=None)
@given(
    version=st.text(min_size=1, max_size=20),
    t=st.floats(allow_nan=False, allow_infinity=False),
    outputs=st.dictionaries(
        st.integers(0, 62),
        st.one_of(
            st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=10), st.booleans()
        ),
        max_size=5,
    ),
    early=st.lists(
        st.tuples(st.integers(0, 62), st.integers(-5, 5), st.floats(0, 1e10)), max_size=3
    ),
)
def test_entries_round_trip(version: str, t: float, outputs: dict, early: list) -> None:
    entry = JoinEntry(
        version, t, t + 1, 5, 2, joined=3, expired=1 << 62, late=4,
        outputs={code: (value, None, None) for code, value in outputs.items()},
        early=[EarlyLabel(code, label, lt, 1, 0, lt + 60, lt + 1) for code, label, lt in early],
    )  # fmt: skip
    assert EntryCodec().decode(EntryCodec().encode(entry)) == entry


def test_a_store_of_another_format_is_refused(tmp_path: Path) -> None:
    store = JoinStore(tmp_path / "p", DELAYS)
    store._db.put(b"m", store.meta.local().replace(b"join-store/1", b"join-store/0"))
    store.close()
    with pytest.raises(StateRefusedError, match=r"format 'driftline.join-store/0'.*reset"):
        JoinStore(tmp_path / "p", DELAYS)


def test_task_codes_are_stable_when_tasks_are_added(tmp_path: Path) -> None:
    store = JoinStore(tmp_path / "p", {"churn": 1.0, "spend": 1.0})
    _, batch = store.checkpoint()
    store.commit_local(batch, 0)
    store.close()
    again = JoinStore(tmp_path / "p", {"spend": 1.0, "abandon": 1.0, "churn": 1.0})
    assert again.codes == {"churn": 0, "spend": 1, "abandon": 2}


def test_join_buckets_is_refused_with_what_to_do() -> None:
    with pytest.raises(ConfigError) as error:
        parse_config("model: m\nmonitor: {join_buckets: 64}\ntasks: {a: {type: binary}}\n")
    assert any("join_buckets was removed" in problem for problem in error.value.problems)


def test_early_labels_wait_on_disk_and_become_orphans_in_event_time(tmp_path: Path) -> None:
    join = LabelJoin(CFG, JoinStore(tmp_path / "p", DELAYS, entry_codec(CFG)))
    for i in range(500):
        join.add(LabelRecord(f"x-{i}", "churn", 1, float(i)), ("labels", 0, i, 0))
    assert join.early_labels == join.pending == 500
    _, batch = join.checkpoint()
    join.commit(batch, 0)
    out = join.add(PredictionRecord("q", "m", "1", "e", 3700.0, {"churn": {"score": 0.5}}),
                   ("predictions", 0, 0, 0))  # fmt: skip
    out += join.add(LabelRecord("q", "churn", 1, 3750.0), ("labels", 0, 500, 0))
    orphans = [o for o in out if o.kind == "orphan"]
    # the watermark is min(3700, 3750): the labels with t + 3600 < 3700 end
    assert [o.prediction_id for o in orphans] == [f"x-{i}" for i in range(100)]
    assert join.early_labels == 400


def test_feature_profiles_are_stored_with_the_join_and_rebuilt_from_the_changelog(
    tmp_path: Path,
) -> None:
    from streams.stages import JoinStage

    cfg = parse_config(
        "model: m\nkafka: {partitions: 1}\nfeatures: [{name: x}]\n"
        "feature_drift: {enabled: true}\ntasks:\n  a: {type: binary}\n"
    )
    delays = {"a": cfg.tasks["a"].label_delay}

    def prediction(i: int) -> bytes:
        return orjson.dumps({"schema": "driftline.prediction/1", "prediction_id": f"p-{i}",
                             "model": "m", "model_version": "1", "entity_id": "e",
                             "event_time": f"2026-01-01T00:00:{i:02d}Z",
                             "outputs": {"a": {"score": 0.5}}, "features": {"x": float(i)}})  # fmt: skip

    stage = JoinStage(cfg, 1, open_store=lambda _: JoinStore(tmp_path / "p0", delays))
    for i in range(30):
        stage.process("predictions", 0, i, b"k", prediction(i))
    pending = stage.profiles.of(0).pending()  # type: ignore[union-attr]
    assert pending > 0 and stage.profiles.dump(0) != b""  # type: ignore[union-attr]
    stage_state = stage.profiles.dump(0)  # type: ignore[union-attr]
    records, batch = stage.checkpoint(0)
    stage.joins[0].commit(batch, len(records) - 1)
    stage.close()
    again = JoinStage(cfg, 1, open_store=lambda _: JoinStore(tmp_path / "p0", delays))
    again.join_for(0)
    assert again.profiles.dump(0) == stage_state  # type: ignore[union-attr]
    rebuilt = JoinStore(tmp_path / "rebuilt", delays)
    rebuilt.apply_changelog(records, len(records) - 1)
    other = JoinStage(cfg, 1, open_store=lambda _: rebuilt)
    other.join_for(0)
    assert other.profiles.dump(0) == stage_state  # type: ignore[union-attr]


def test_the_store_reports_its_memory_and_disk(tmp_path: Path) -> None:
    """/metrics shows what a partition's store holds in memory (write buffers, block cache,
    table readers) next to its bytes on disk."""
    store = JoinStore(tmp_path / "p", {"churn": 1.0})
    empty = store.memory_bytes()
    batch = WriteBatch(raw_mode=True)
    for i in range(20_000):
        batch.put(b"e" + f"h-{i}".encode(), bytes(60))
    store.commit_local(batch, 0)
    assert store.memory_bytes() > empty + 1_000_000  # the write buffer holds them
    assert store.disk_bytes() > 0
    store.close()


def test_the_store_partitions_its_indexes_and_filters(tmp_path: Path) -> None:
    """A point read loads the index and filter block it needs, not a whole file's (whole-file
    ones were evicted from the cache and reloaded on every read of a large store)."""
    store = JoinStore(tmp_path / "p", {"churn": 1.0})
    batch = WriteBatch(raw_mode=True)
    for i in range(50_000):
        batch.put(b"e" + f"h-{i}".encode(), bytes(50))
    store.commit_local(batch, 0)
    store._db.flush()
    properties = store._db.property_value("rocksdb.aggregated-table-properties")
    partitions = int(properties.split("# index partitions=")[1].split(";")[0])
    assert partitions > 1
    store.close()


def test_an_attached_value_over_a_record_goes_in_parts_in_the_same_checkpoint(
    tmp_path: Path,
) -> None:
    """Feature profiles of many features can be larger than a changelog record: the checkpoint
    writes them as parts (one transaction, one local batch) and both restores join them."""
    from streams.split_values import PART_BYTES

    store = JoinStore(tmp_path / "local", DELAYS, entry_codec(CFG))
    changelog: Changelog = []
    for size in (int(2.5 * PART_BYTES), int(1.2 * PART_BYTES), 1000):
        value = random.Random(size).randbytes(size)
        store.attach(b"profiles", value)
        records, batch = store.checkpoint()
        assert all(len(v or b"") <= PART_BYTES for _, v in records)  # each fits a record
        changelog += records
        store.commit_local(batch, len(changelog) - 1)
        assert store.attached(b"profiles") == value
        rebuilt = JoinStore(tmp_path / f"rebuilt-{size}", DELAYS, entry_codec(CFG))
        rebuilt.apply_changelog(changelog, len(changelog) - 1)
        assert rebuilt.attached(b"profiles") == value
        parts = sorted(key for key, _ in rebuilt._db.items() if key.startswith(b"aprofiles#"))
        assert parts == sorted(key for key, _ in store._db.items() if key.startswith(b"aprofiles#"))
        rebuilt.close()
    assert parts == []  # the value fits one record again: its parts were deleted
    store.attach(b"profiles", random.Random(0).randbytes(2 * PART_BYTES))
    records, batch = store.checkpoint()
    store.commit_local(batch, 0)
    store._db[b"aprofiles#1"] = b"changed"
    with pytest.raises(StateRefusedError, match="does not match its header"):
        store.attached(b"profiles")


def _split(events: list[tuple[str, object]]) -> dict[str, list[object]]:
    topics: dict[str, list[object]] = {"predictions": [], "labels": []}
    for topic, record in events:
        topics[topic].append(record)
    return topics


def _read(
    rng: random.Random, topics: dict[str, list[object]], start: dict[str, int], first: str
) -> Iterator[tuple[str, int]]:
    """One read of both topics from ``start``: runs of 1–200 records of a topic at a time,
    ``first`` drained before the other (``"either"``: picked at random per run)."""
    at = dict(start)
    while any(at[t] < len(topics[t]) for t in topics):
        left = [t for t in topics if at[t] < len(topics[t])]
        topic = first if first in left else rng.choice(left)
        for _ in range(rng.randint(1, 200)):
            if at[topic] == len(topics[topic]):
                break
            yield topic, at[topic]
            at[topic] += 1


@pytest.mark.parametrize("seed", range(6))
def test_a_crash_mid_checkpoint_then_a_replay_in_another_order_changes_no_outcome(
    tmp_path: Path, seed: int
) -> None:
    """Killed after a checkpoint's changelog commit and before its local write, restarted from
    the local store plus the changelog tail, and fed from below the stamped offsets in another
    interleaving: with stage 2's repeat filter (same origin, same outcome), the outcomes are
    exactly those of a join that never stopped."""
    rng = random.Random(seed)
    topics = _split(_events(800, seed=seed))
    order = list(_read(rng, topics, {"predictions": 0, "labels": 0}, "either"))

    def feed(join: LabelJoin, reads, changelog: Changelog, crash_at: int | None = None) -> list:
        out = []
        for n, (topic, offset) in enumerate(reads, 1):
            if join.is_replay(topic, offset):
                continue
            out += join.add(topics[topic][offset], (topic, 0, offset, 0))  # type: ignore[arg-type]
            out += join.end_record()
            join.mark_applied(topic, offset)
            if n % 97 == 0:
                records, batch = join.checkpoint()
                changelog.extend(records)
                if n == crash_at:
                    return out  # the changelog transaction committed, the local batch lost
                join.commit(batch, len(changelog) - 1)
        return out

    calm = feed(LabelJoin(CFG, JoinStore(tmp_path / "calm", DELAYS, entry_codec(CFG))), order, [])
    changelog: Changelog = []
    first = LabelJoin(CFG, JoinStore(tmp_path / "r", DELAYS, entry_codec(CFG)))
    sent = feed(first, order, changelog, crash_at=97 * rng.randint(3, len(order) // 97 - 3))
    first.close()
    store = JoinStore(tmp_path / "r", DELAYS, entry_codec(CFG))
    behind = store.meta.changelog_offset + 1
    assert behind < len(changelog)  # the catch-up has a transaction to apply
    store.apply_changelog(changelog[behind:], len(changelog) - 1)
    second = LabelJoin(CFG, store)
    stamp = store.meta.stamp  # the restart reads from committed offsets, at or below it
    start = {t: max(0, stamp.get(t, -1) + 1 - rng.randint(0, 50)) for t in topics}
    sent += feed(second, _read(rng, topics, start, rng.choice(list(topics))), changelog)
    applied = {o.origin: (o.kind, o.task, o.prediction_id) for o in reversed(sent)}
    assert sorted(applied.values()) == sorted((o.kind, o.task, o.prediction_id) for o in calm)
    assert len(applied) == len(calm)
