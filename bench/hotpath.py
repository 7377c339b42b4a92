"""``driftline bench hotpath``: the monitor's per-event Python work, in-process, without a broker.

Pushes the three-task workload of :mod:`bench.workload` (ADWIN and PageHinkley on each task, 10 %
of labels never come, labels shuffled within 50 predictions) through the code the Faust worker
runs, stage by stage, and times each on one core:

* ``decode``: :func:`driftline.events.decode_record` + :class:`streams.decoding.EventDecoder` on
  every input record (a part of ``join``, timed again on its own);
* ``join``: :meth:`streams.stages.JoinStage.process` on every input record (decode, route, join);
* ``join_checkpoint``: :meth:`streams.join.LabelJoin.checkpoint` and ``commit`` of every join
  partition at each checkpoint (the changelog records are built; the local RocksDB batch is
  written, to a store in RocksDB's memory environment here);
* ``wire``: each outcome's ``to_wire()`` and the ``driftline.outcomes/1`` envelopes of up to 500
  outcomes per (model, task), sent every ``--checkpoint-events`` input events, as the app does;
* ``monitor``: :meth:`streams.stages.MonitorStage.process` on every outcomes envelope (JSON,
  ``Outcome.from_wire``, replay filter, metrics, detectors, policy);
* ``monitor_apply``: the same outcomes, already decoded, through
  :meth:`streams.stages.MonitorStage.apply` on a fresh stage (the monitor's own work);
* ``dump``: :meth:`streams.task_monitor.TaskMonitor.dump` of every touched monitor per checkpoint.

Every rate is **input events** (predictions + labels) per CPU second of that stage alone;
``total`` is input events over the sum of ``join``, ``join_checkpoint``, ``wire``, ``monitor``
and ``dump``. The
``digest`` (sha256 of every monitor's counts and cumulative metrics) must not change when the
code gets faster. Run it under ``python -m cProfile -s cumtime -m bench.hotpath`` to profile.
"""

from __future__ import annotations

import cProfile
import hashlib
import json
import math
import os
import pstats
import time
from collections import defaultdict
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import click

from bench.report import emit, report_options
from bench.workload import TASKS_YAML, Workload
from driftline.config import DriftlineConfig, parse_config
from driftline.config.models import MonitorConfig
from driftline.events import decode_record
from driftline.partitioning import partition_for
from streams.checkpoint import CheckpointRule
from streams.decoding import EventDecoder
from streams.gc_tuning import THRESHOLDS, worker_collector
from streams.outcome import Outcome, encode_outcomes
from streams.stages import JoinStage, MonitorResult, MonitorStage

__all__ = ["CHECKPOINT_EVENTS", "TOTAL_STAGES", "StageClock", "drive", "main", "run"]

PARTITIONS = 2
OUTCOMES_PER_ENVELOPE = 500
InputRecord = tuple[str, int, int, bytes, bytes]
"""``(topic, partition, offset, key, value)`` of one input record."""


def bench_config() -> DriftlineConfig:
    """The benchmark's ``driftline.yaml``: the workload's tasks, no snapshots, no feature sink."""
    return parse_config(
        f"model: shop\nkafka: {{partitions: {PARTITIONS}}}\n"
        "monitor: {snapshot_interval: 1000000, feature_sink: false}\n"
        f"tasks:\n{TASKS_YAML}"
    )


def input_records(workload: Workload, envelope: int) -> list[InputRecord]:
    """The workload as Kafka records: envelopes of ``envelope`` events per (topic, partition)."""
    records: list[InputRecord] = []
    buffers: dict[tuple[str, int], list[bytes]] = defaultdict(list)
    offsets: dict[tuple[str, int], int] = defaultdict(int)

    def send(where: tuple[str, int], items: list[bytes], key: str) -> None:
        if envelope == 1:
            value = items[0]
        else:
            value = b'{"schema":"driftline.batch/1","events":[' + b",".join(items) + b"]}"
        records.append((where[0], where[1], offsets[where], key.encode(), value))
        offsets[where] += 1

    for topic, key, event in workload.events():
        where = (topic, partition_for(key, PARTITIONS))
        buffers[where].append(json.dumps(event, separators=(",", ":")).encode())
        if len(buffers[where]) >= envelope:
            send(where, buffers.pop(where), key)
    for where, items in buffers.items():
        send(where, items, f"batch-{where[1]}")
    return records


class StageClock:
    """CPU seconds spent per stage (and, with ``profile``, one cProfile per stage).

    CPU time, not wall time: on a shared machine another process's load shows up in wall time
    but much less in this process's CPU time, so before/after figures stay comparable.
    """

    def __init__(self, profile: bool) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.profiles: dict[str, cProfile.Profile] = {}
        self.profile = profile

    def time(self, stage: str, call: Callable[[], Any]) -> Any:
        profiler = None
        if self.profile:
            profiler = self.profiles.setdefault(stage, cProfile.Profile())
            profiler.enable()
        start = time.process_time()
        try:
            return call()
        finally:
            self.seconds[stage] += time.process_time() - start
            if profiler is not None:
                profiler.disable()


def _decode_all(decoder: EventDecoder, records: list[InputRecord]) -> int:
    decoded = 0
    for _, _, _, _, value in records:
        for raw in decode_record(value):
            decoder.decode(raw)
            decoded += 1
    return decoded


CHECKPOINT_EVENTS: int = MonitorConfig.model_fields["checkpoint_events"].default
"""Input events between checkpoints: the monitor's default, as the app uses it."""


def run(
    predictions: int = 30_000,
    envelope: int = 100,
    checkpoint_events: int = CHECKPOINT_EVENTS,
    seed: int = 1,
    repeat: int = 1,
    profile: bool = False,
) -> tuple[dict[str, Any], dict[str, cProfile.Profile]]:
    """Time each stage ``repeat`` times (best time per stage wins); the JSON-ready result and,
    with ``profile``, one cProfile per stage (of all passes)."""
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    config = bench_config()
    records = input_records(Workload(predictions=predictions, seed=seed), envelope)
    clock = StageClock(profile)
    best: dict[str, float] = {}
    with worker_collector():  # the collector settings of a monitor worker
        for _ in range(repeat):
            clock.seconds.clear()
            stats = _measure(config, records, checkpoint_events, clock)
            for stage, seconds in clock.seconds.items():
                best[stage] = min(best.get(stage, seconds), seconds)
    events = stats["events"]
    total = sum(best[s] for s in TOTAL_STAGES)
    report = {
        "benchmark": "hotpath",
        **stats,
        "input_records": len(records),
        "events_per_s": {stage: round(events / s) for stage, s in sorted(best.items()) if s > 0}
        | {"total": round(events / total)},
        "seconds": {stage: round(s, 4) for stage, s in sorted(best.items())},
        "details": {
            "predictions": predictions,
            "envelope": envelope,
            "checkpoint_events": checkpoint_events,
            "seed": seed,
            "repeat": repeat,
            "clock": "process CPU time, best of the passes per stage",
            "gc_thresholds": THRESHOLDS,
            "partitions": PARTITIONS,
            "cpu_count": os.cpu_count(),
            "load_average": os.getloadavg(),
        },
    }
    return report, clock.profiles


TOTAL_STAGES = ("join", "join_checkpoint", "wire", "monitor", "dump")
"""The stages of the hot path proper (what ``total`` counts): stage 1, its checkpoints, the
outcome wire and stage 2."""


def _measure(
    config: DriftlineConfig,
    records: list[InputRecord],
    checkpoint_events: int,
    clock: StageClock,
) -> dict[str, Any]:
    """One pass of every stage, timed into ``clock``; the counts and the monitors' digest."""
    events = clock.time("decode", lambda: _decode_all(EventDecoder(config), records))
    stats, _, envelopes = drive(config, records, checkpoint_events, clock)
    # the same outcomes, decoded, in the order stage 2 applies them (tau, origin)
    decoded = [_decoded(value) for _, value in envelopes]
    ordered = sorted(
        ((o, f, d) for batch, f, d in decoded for o in batch), key=lambda x: x[0].order_key
    )
    apply_stage = MonitorStage(config, seed=0)
    result = MonitorResult()
    clock.time("monitor_apply", partial(_apply_ordered, apply_stage, ordered, result))

    if stats["events"] != events:
        raise click.ClickException(f"join saw {stats['events']} events, decode {events}")
    if stats["digest"] != _digest(apply_stage):
        raise click.ClickException("process() and apply() left different monitor states")
    return stats


def drive(
    config: DriftlineConfig,
    records: list[InputRecord],
    checkpoint_events: int,
    clock: StageClock,
) -> tuple[dict[str, Any], MonitorStage, list[tuple[bytes, bytes]]]:
    """The hot path on ``records``, each stage timed into ``clock`` (see :data:`TOTAL_STAGES`):
    stage 1, a checkpoint of its joins every ``checkpoint_events`` input events with the outcome
    envelopes sent then, stage 2 on those envelopes (with monitor state dumps every
    ``checkpoint_events`` outcomes applied or skipped, as the app counts them), and
    what stage 2 still held at the end. Returns the counts and digest, the stage 2 that ran and
    the outcome envelopes ``(key, value)`` it read."""
    join_stage = JoinStage(config, PARTITIONS)
    pending: dict[str, list[list[Any]]] = defaultdict(list)
    envelopes: list[tuple[bytes, bytes]] = []
    keys = [f"{config.model}/{task}" for task in sorted(config.tasks)]

    def send_outcomes() -> None:
        frontiers = {p: join.frontier() for p, join in join_stage.joins.items()}
        for key in keys:  # as the app does: every task hears every watermark
            items = pending.pop(key, [])
            for start in range(0, max(1, len(items)), OUTCOMES_PER_ENVELOPE):
                chunk = items[start : start + OUTCOMES_PER_ENVELOPE]
                value = encode_outcomes(chunk, frontiers, durables, watermarks)
                envelopes.append((key.encode(), value))

    def to_wire(outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            pending[outcome.key].append(outcome.to_wire())

    durables: dict[int, dict[str, int]] = {}
    watermarks: dict[int, float] = {}
    outcomes = joined = 0
    rule = CheckpointRule(checkpoint_events, interval=math.inf)
    for n, (topic, partition, offset, key, value) in enumerate(records, 1):
        result = clock.time(
            "join", partial(join_stage.process, topic, partition, offset, key, value)
        )
        joined += result.events
        outcomes += len(result.outcomes)
        clock.time("wire", partial(to_wire, result.outcomes))
        if rule.record(result.events) or n == len(records):
            rule.done()
            clock.time("join_checkpoint", partial(_checkpoint_joins, join_stage))
            clock.time("wire", send_outcomes)
            durables = {p: join.frontier() for p, join in join_stage.joins.items()}
            watermarks = {
                p: j.watermark for p, j in join_stage.joins.items() if j.watermark > float("-inf")
            }

    monitor_stage = MonitorStage(config, seed=0)
    alerts = 0
    rule = CheckpointRule(checkpoint_events, interval=math.inf)
    for offset, (key, value) in enumerate(envelopes):
        process = partial(monitor_stage.process, "outcomes", 0, offset, value, key)
        out = clock.time("monitor", process)
        alerts += len(out.outputs)
        if rule.record(out.applied + out.skipped) or offset + 1 == len(envelopes):
            rule.done()
            for monitor in monitor_stage.monitors.values():
                clock.time("dump", monitor.dump)

    alerts += len(clock.time("monitor", partial(monitor_stage.release_due, True)).outputs)
    stats = {
        "events": joined,
        "outcomes": outcomes,
        "outcome_envelopes": len(envelopes),
        "outputs": alerts,
        "monitor_state_bytes": {
            k: len(m.dump()) for k, m in sorted(monitor_stage.monitors.items())
        },
        "digest": _digest(monitor_stage),
    }
    return stats, monitor_stage, envelopes


def _checkpoint_joins(stage: JoinStage) -> None:
    for join in stage.joins.values():
        _, batch = join.checkpoint()
        join.commit(batch)


def _decoded(value: bytes) -> tuple[list[Outcome], dict[int, dict[str, int]], dict[int, Any]]:
    envelope = json.loads(value)
    frontiers = {int(p): f for p, f in envelope["f"].items()}
    durables = {int(p): d for p, d in envelope["d"].items()}
    return [Outcome.from_wire(raw) for raw in envelope["events"]], frontiers, durables


def _apply_ordered(
    stage: MonitorStage,
    ordered: list[tuple[Outcome, dict[int, dict[str, int]], dict[int, Any]]],
    result: MonitorResult,
) -> None:
    for outcome, frontiers, durables in ordered:
        source = outcome.origin[1]
        stage.apply(outcome, result, frontiers.get(source), durables.get(source))
    result.labelled.clear()
    result.outputs.clear()


def _digest(stage: MonitorStage) -> str:
    """sha256 of each monitor's counts and cumulative metrics (12 significant digits)."""
    state = {
        key: {
            "counts": monitor.counts(),
            "metrics": {
                repr(scope_key): {
                    name: f"{value:.12g}" for name, value in scope.metrics.cumulative().items()
                }
                for scope_key, scope in monitor.scopes.items()
            },
            "firings": {repr(k): s.firing_counts for k, s in monitor.scopes.items()},
        }
        for key, monitor in sorted(stage.monitors.items())
    }
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:16]


@click.command()
@report_options
@click.option(
    "--predictions", default=30_000, show_default=True, help="Predictions (~3.7 events each)."
)
@click.option("--envelope", default=100, show_default=True, help="Events per input record.")
@click.option(
    "--checkpoint-events",
    default=CHECKPOINT_EVENTS,
    show_default=True,
    help="Input events per checkpoint.",
)
@click.option("--seed", default=1, show_default=True, help="Seed of the workload.")
@click.option(
    "--repeat", default=3, show_default=True, help="Passes; the best time per stage wins."
)
@click.option(
    "--profile",
    "profile_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write one cProfile .pstats per stage here and print the top of each (cumtime).",
)
def main(
    as_json: bool, out: Path | None, predictions: int, envelope: int, checkpoint_events: int,
    seed: int, repeat: int, profile_dir: Path | None,
) -> None:  # fmt: skip
    """In-process events/s of decode, join, outcome wire, monitor and state dumps (no broker)."""
    report, profiles = run(
        predictions, envelope, checkpoint_events, seed, repeat, profile_dir is not None
    )
    if profile_dir is not None:
        profile_dir.mkdir(parents=True, exist_ok=True)
        for stage, profiler in profiles.items():
            path = profile_dir / f"{stage}.pstats"
            profiler.dump_stats(path)
            click.echo(f"==== {stage} ({path})", err=True)
            pstats.Stats(profiler, stream=click.get_text_stream("stderr")).sort_stats(
                "cumulative"
            ).print_stats(25)
    emit(report, as_json, out)


if __name__ == "__main__":
    main()
