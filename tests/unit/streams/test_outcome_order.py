"""OutcomeOrder and HeldOutcomes: the apply order depends on the outcomes alone, not on how the
sources' outcomes and watermarks interleave, also when the held outcomes spill to disk."""

from __future__ import annotations

import pickle
import random
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from driftline.config import parse_config
from streams.outcome import Outcome
from streams.outcome_order import OutcomeOrder
from streams.stages import MonitorStage


def _source(source: int, taus: list[float]) -> list[tuple[str, object]]:
    """One source's stream: its outcomes in emission order, each followed now and then by the
    watermark it may report (never above a later outcome's tau)."""
    events: list[tuple[str, object]] = []
    for n, tau in enumerate(taus):
        origin = ("labels", source, n, 0, 0)
        events.append(("outcome", Outcome("labelled", "m", "1", "a", f"p-{source}-{n}", tau,
                                           origin, y_pred=0.5, y_true=1, tau=tau)))  # fmt: skip
        later = min(taus[n + 1 :], default=tau + 1)
        events.append(("watermark", (source, min(later, tau))))
    return events


def _released(streams: list[list[tuple[str, object]]], seed: int, tmp: Path, memory: int) -> list:
    order = OutcomeOrder(len(streams), spill_dir=tmp, memory_items=memory)
    rng = random.Random(seed)
    cursors = [0] * len(streams)
    out: list = []
    record = 0
    while any(c < len(s) for c, s in zip(cursors, streams, strict=True)):
        source = rng.choice([i for i, s in enumerate(streams) if cursors[i] < len(s)])
        kind, value = streams[source][cursors[source]]
        cursors[source] += 1
        if kind == "outcome":
            assert order.offer(value, None, None, record) == []  # type: ignore[arg-type]
            order.read(record)
            record += 1
        else:
            order.advance(*value)  # type: ignore[misc]
        out += [held.outcome.order_key for held in order.release()]
    out += [held.outcome.order_key for held in order.release(until=float("inf"))]
    assert order.held == 0 and order.holding_from is None
    return out


@settings(max_examples=60, deadline=None)
@given(
    taus=st.lists(
        st.lists(st.floats(0, 100).map(lambda t: round(t, 1)), min_size=1, max_size=30),
        min_size=1,
        max_size=4,
    ),
    seed=st.integers(0, 10**6),
)
def test_the_apply_order_is_the_same_for_every_interleaving(
    taus: list[list[float]], seed: int, tmp_path_factory
) -> None:  # type: ignore[no-untyped-def]
    streams = [_source(i, sorted(t) if i % 2 else t) for i, t in enumerate(taus)]
    tmp = tmp_path_factory.mktemp("spill")
    one = _released(streams, seed, tmp, memory=1_000)
    other = _released(streams, seed + 1, tmp, memory=3)  # spills to disk
    assert one == other
    assert sorted(one) == one and len(one) == sum(map(len, taus))


def test_the_configured_memory_bound_applies_also_to_a_restored_order(tmp_path: Path) -> None:
    """``monitor.held_in_memory`` bounds the outcomes a task holds in memory, also for an order
    restored from the state of a worker that ran with another bound."""
    config = parse_config("model: m\nmonitor: {held_in_memory: 3}\ntasks: {a: {type: binary}}\n")
    stage = MonitorStage(config, spill_dir=tmp_path)
    order = stage.order_for("m", "a")
    assert order.memory_items == 3
    restored = pickle.loads(pickle.dumps(OutcomeOrder(2, memory_items=500)))
    stage.monitor_for("m", "a").order = restored
    assert stage.order_for("m", "a") is restored
    assert restored.memory_items == 3
    for n in range(10):  # nothing passed yet: all held, 3 in memory, the rest on disk
        origin = ("labels", 0, n, 0, 0)
        restored.offer(
            Outcome("labelled", "m", "1", "a", f"p{n}", 10.0 + n, origin, tau=10.0 + n),
            None,
            None,
            n,
        )
    assert restored._held.spilled >= 7
