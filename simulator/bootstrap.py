"""The first champion, trained on historical (pre-drift) traffic that went through Feast.

A production system starting to use driftline has history: predictions of an older model and
their labels. The bootstrap writes that history into Feast exactly the way the monitor's label
sink writes live outcomes (features at prediction time, one label row per task), reads it back as
a point-in-time-correct training set, trains the multi-task model of the config
(``retrainer:`` settings), registers it as ``champion`` and announces it on ``model-updates``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from driftline.config.models import DriftlineConfig
from simulator.errors import SimulatorError
from simulator.event import SimEvent

__all__ = ["BootstrapReport", "bootstrap_champion", "publish_update", "write_history"]

log = logging.getLogger("driftline.simulator")
HISTORY_VERSION = "history"


@dataclass(frozen=True)
class BootstrapReport:
    """What the bootstrap trained and registered."""

    version: int
    rows: int
    metrics: dict[str, dict[str, float]]
    wall_s: float


def write_history(config: DriftlineConfig, events: list[SimEvent], repo: Any | None = None) -> int:
    """Write historical events into Feast: their features (offline, at each event's time) with
    :func:`featurestore.push_features`, every task's label with :class:`featurestore.LabelSink`.
    Returns the label rows written."""
    from featurestore import LabelSink, push_features

    entity = config.entity
    feature_rows = [
        {entity: e.entity_id, "event_time": datetime.fromtimestamp(e.t, UTC), **e.features}
        for e in events
    ]
    report = push_features(
        config, feature_rows, to="offline", repo=repo, source="simulator:history"
    )
    if report.rejected:
        raise SimulatorError(f"{len(report.rejected)} history feature rows rejected, first: {report.rejected[0]}")  # fmt: skip
    sink = LabelSink(config, batch_size=1_000_000, write_features=False, repo=repo)
    sink.write(
        {
            "outcome_id": f"{e.prediction_id}:{task}",
            "task": task,
            "prediction_id": e.prediction_id,
            entity: e.entity_id,
            "event_time": datetime.fromtimestamp(e.t, UTC),
            "label": label,
            "model_version": HISTORY_VERSION,
        }
        for e in events
        for task, label in e.labels.items()
    )
    return int(sink.flush())


def bootstrap_champion(
    config: DriftlineConfig, events: list[SimEvent], publish: bool = True
) -> BootstrapReport:
    """History → Feast → training set → train → register as champion → ``model-updates``."""
    import time

    from featurestore import FeatureRepo, label_column, training_set
    from models import (
        Registry,
        TrainConfig,
        evaluate,
        feature_schema_from_config,
        model_update,
        task_specs_from_config,
        train,
    )
    from retrainer.profile import training_profile

    if not events:
        raise SimulatorError("the bootstrap needs historical events")
    started = time.monotonic()
    repo = FeatureRepo(config)
    write_history(config, events, repo)
    start = datetime.fromtimestamp(events[0].t, UTC)
    end = datetime.fromtimestamp(events[-1].t, UTC)
    frame = training_set(config, list(config.tasks), start, end, repo=repo)
    frame = frame.rename(columns={label_column(t): t for t in config.tasks})
    holdout_rows = max(1, int(len(frame) * config.retrainer.holdout_fraction))
    train_frame, holdout = frame.iloc[:-holdout_rows], frame.iloc[-holdout_rows:]
    result = train(
        train_frame,
        task_specs_from_config(config),
        feature_schema_from_config(config),
        TrainConfig.from_retrainer_config(config.retrainer, device="cpu"),
    )
    metrics = evaluate(result.model, holdout)
    registry = Registry.from_config(config.registry)
    try:
        info = registry.register(
            config.model,
            result.model,
            result=result,
            metrics=metrics,
            training_window=(start.isoformat(), end.isoformat()),
            row_counts={"rows": len(frame), "holdout": holdout_rows},
            alias="champion",
            reason="bootstrap from historical traffic",
            feature_profile=training_profile(config, train_frame),
        )
    finally:
        registry.close()
    if publish:
        publish_update(config, model_update(info, "promoted", reason="bootstrap from history"))
    log.info("bootstrapped %s v%d on %d rows", config.model, info.version, len(frame))
    return BootstrapReport(info.version, len(frame), metrics, time.monotonic() - started)


def publish_update(config: DriftlineConfig, update: dict[str, Any]) -> None:
    """Send one ``driftline.model-update/1`` event (a JSON-ready dict) to ``model-updates``."""
    import json

    from driftline import kafka_clients

    producer = kafka_clients.producer(config.kafka, acks="all")
    errors: list[str] = []
    producer.produce(
        config.topics.model_updates,
        key=str(update["model"]).encode(),
        value=json.dumps(update, separators=(",", ":")).encode(),
        on_delivery=lambda err, _msg: errors.append(str(err)) if err else None,
    )
    if producer.flush(30) or errors:
        raise SimulatorError(f"could not publish the model update: {errors or 'timeout'}")
