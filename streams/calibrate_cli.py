"""``driftline calibrate``: choose each task's error detector on its own history."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import yaml

from driftline.cli.options import config_option, load_or_exit
from driftline.config import find_config
from driftline.config.models import DetectorConfig, DriftlineConfig

__all__ = ["calibrate"]


@click.command()
@config_option
@click.option("--history", "histories", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSONL of prediction and label events (repeatable).")  # fmt: skip
@click.option("--from-topics", is_flag=True,
              help="Read the config's predictions and labels topics (all retained records).")  # fmt: skip
@click.option("--since", type=click.DateTime(), default=None,
              help="With --from-topics: only events at or after this event time (UTC).")  # fmt: skip
@click.option("--until", type=click.DateTime(), default=None,
              help="With --from-topics: only events before this event time (UTC).")  # fmt: skip
@click.option("--idle", default=10.0, show_default=True,
              help="With --from-topics: give up after this many seconds without a record "
                   "(it reads up to the end the topics have when it starts).")  # fmt: skip
@click.option("--task", "tasks", multiple=True, help="Only these tasks (repeatable).")
@click.option("--candidate", "candidates", multiple=True,
              help="A detector to try, as YAML: '{kind: adwin, params: {delta: 0.001}}' "
              "(repeatable; default: the built-in list).")  # fmt: skip
@click.option("--null-labels", default=3_000_000, show_default=True,
              help="Length of the resampled stationary stream the false alarms are counted on.")  # fmt: skip
@click.option("--shift", default=0.5, show_default=True,
              help="Injected shift: relative growth of the error rate (or size).")  # fmt: skip
@click.option("--trials", default=10, show_default=True, help="Injected shifts per candidate.")
@click.option("--max-false-alarms", default=0.0, show_default=True,
              help="False alarms per 1 M labels a chosen candidate may have.")  # fmt: skip
@click.option("--write", "write_to", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the config with each task's chosen error detector here.")  # fmt: skip
@click.option("--seed", default=0, show_default=True)
def calibrate(
    config_path: str | None, histories: tuple[Path, ...], from_topics: bool,
    since: datetime | None, until: datetime | None, idle: float, tasks: tuple[str, ...],
    candidates: tuple[str, ...], null_labels: int, shift: float, trials: int,
    max_false_alarms: float, write_to: Path | None, seed: int,
) -> None:  # fmt: skip
    """Replay a history and report, per task and candidate detector, false alarms per 1 M
    labels and the delay on injected shifts; choose the fastest candidate without false alarms.

    The history (--history files, or --from-topics) is taken as each task's normal behaviour:
    its errors are resampled into a long stationary stream (false alarms) and into streams with
    an injected shift (delays). Prints one JSON report; --write saves the config with the chosen
    detectors, each with its measured null_alarms_per_1m (at least one per --null-labels; the
    false discovery rate option uses it; comments of the original are not kept).
    """
    from streams.calibration import CANDIDATES, DetectorCalibration, task_histories

    if bool(histories) == from_topics:
        raise click.UsageError("give --history FILE (one or more) or --from-topics")
    config = load_or_exit(config_path)
    unknown = [t for t in tasks if t not in config.tasks]
    if unknown:
        raise click.BadParameter(f"{unknown} not in the config's tasks {sorted(config.tasks)}",
                                 param_hint="--task")  # fmt: skip
    tried = [_candidate(text) for text in candidates] or list(CANDIDATES)
    if from_topics:  # one bounded check (kafka.connect_timeout), not an --idle wait on nothing
        from driftline.reachability import require_topics

        require_topics(config.kafka, [config.topics.predictions, config.topics.labels])
    events = _from_topics(config, since, until, idle) if from_topics else _from_files(histories)
    joined, skipped = task_histories(config, events)
    report: dict[str, Any] = {"skipped_events": skipped, "shift": shift, "null_labels": null_labels,
                              "max_false_alarms_per_1m": max_false_alarms, "tasks": {}}  # fmt: skip
    chosen: dict[str, DetectorConfig] = {}
    floor = 1e6 / null_labels  # zero seen in the null stream: at most about one per its length
    for name in tasks or tuple(config.tasks):
        history = joined[name]
        row: dict[str, Any] = {"type": history.task_type, "labels": len(history.pairs)}
        if len(history.pairs) < 200:
            row["skipped"] = "fewer than 200 labelled predictions in the history"
            report["tasks"][name] = row
            continue
        errors = history.errors
        calibration = DetectorCalibration(config.tasks[name], errors, null_labels, shift, trials,
                                          seed)  # fmt: skip
        best, results = calibration.choose(tried, max_false_alarms)
        row["error_mean"] = sum(errors) / len(errors)
        row["candidates"] = [r.as_dict() for r in results]
        row["chosen"] = best.as_dict()
        rate = max(best.false_alarms_per_1m, floor)
        chosen[name] = best.config.model_copy(update={"null_alarms_per_1m": round(rate, 3)})
        report["tasks"][name] = row
    if write_to is not None and chosen:
        source = find_config(config_path)
        write_to.write_text(_calibrated_yaml(source.read_text(encoding="utf-8"), chosen))
        report["written"] = str(write_to)
    click.echo(json.dumps(report, indent=2))
    if not chosen:
        sys.exit(1)


def _candidate(text: str) -> DetectorConfig:
    try:
        return DetectorConfig.model_validate(yaml.safe_load(text))
    except Exception as exc:  # yaml or pydantic: both say what was wrong
        raise click.BadParameter(f"{text!r}: {exc}", param_hint="--candidate") from None


def _from_files(paths: tuple[Path, ...]) -> Iterator[str]:
    for path in paths:
        with path.open(encoding="utf-8") as lines:
            yield from (line for line in lines if line.strip())


def _from_topics(
    config: DriftlineConfig, since: datetime | None, until: datetime | None, idle: float
) -> Iterator[Any]:
    from datetime import UTC

    from driftline.events import Label, Prediction
    from driftline.reader import EventReader

    low = since.replace(tzinfo=UTC) if since else None
    high = until.replace(tzinfo=UTC) if until else None
    topics = [config.topics.predictions, config.topics.labels]
    with EventReader(config, topics, from_beginning=True) as reader:
        for item in reader.read_to_end(idle=idle):  # what the topics hold now
            event = item.event
            if not isinstance(event, Prediction | Label):
                continue
            if (low and event.event_time < low) or (high and event.event_time >= high):
                continue
            yield event.model_dump(mode="json", by_alias=True)


def _calibrated_yaml(text: str, chosen: dict[str, DetectorConfig]) -> str:
    """The config text's data with each task's error detectors replaced by the chosen one."""
    from driftline.config import parse_config

    data = yaml.safe_load(text)
    for name, detector in chosen.items():
        task = data["tasks"][name]
        kept = [d for d in task.get("detectors") or [] if d.get("signal", "error") != "error"]
        entry = detector.model_dump(exclude_defaults=True)
        entry["severity"] = detector.severity or "critical"
        task["detectors"] = [entry, *kept]
    out = "# written by `driftline calibrate`\n" + yaml.safe_dump(data, sort_keys=False)
    parse_config(out, "<calibrated>")  # what is written must load
    return out
