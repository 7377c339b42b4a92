"""One training run: coalesced requests → plan → data → train → gate → register → update.

Kafka-free: the worker hands a :class:`PendingRetrain` in and sends the returned updates out.
Idempotent by request id through the registry: a request that already produced a version is
never trained again; its recorded outcome (kept in the version's manifest under
``retrainer``) is announced again with the same ``update_id``.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from driftline.config import DriftlineConfig
from driftline.events import ModelUpdate
from retrainer.data import TrainingData, load_training_data
from retrainer.errors import RequestRejected
from retrainer.gate import GateDecision, PromotionGate, TaskEvidence, constant_prediction
from retrainer.planner import PendingRetrain, RetrainPlan, plan_retrain
from retrainer.profile import training_profile
from retrainer.updates import rejected_update, version_update

if TYPE_CHECKING:
    from featurestore import FeatureRepo
    from models import MultiTaskModel, Registry

__all__ = ["JobOutcome", "RetrainJob", "answered_requests"]

logger = logging.getLogger("retrainer.job")
MANIFEST_KEY = "retrainer"


@dataclass
class JobOutcome:
    """An update to publish, and what led to it (``trained``: a model was trained for it)."""

    update: ModelUpdate
    trained: bool
    phases: dict[str, float] = field(default_factory=dict)
    plan: RetrainPlan | None = None
    gate: GateDecision | None = None
    row_counts: dict[str, Any] = field(default_factory=dict)
    device: str | None = None


def answered_requests(registry: Any, model: str, request_ids: list[str]) -> dict[str, int]:
    """``{request_id: version}`` for the requests that already produced a version.

    The idempotency rule: such a request is never trained again.

    >>> class Registry:
    ...     def version_for_request(self, model, request_id):
    ...         return {"r1": 4}.get(request_id)
    >>> answered_requests(Registry(), "shop", ["r1", "r2"])
    {'r1': 4}
    """
    found = {rid: registry.version_for_request(model, rid) for rid in request_ids}
    return {rid: version for rid, version in found.items() if version is not None}


class RetrainJob:
    """Answers coalesced retrain requests for the config's model.

    Parameters
    ----------
    config
        The driftline config (tasks, retrainer, feature store, registry).
    registry
        A :class:`models.Registry` (default: from ``config.registry``).
    repo
        A :class:`featurestore.FeatureRepo` to reuse (default: one per job).
    """

    def __init__(
        self,
        config: DriftlineConfig,
        registry: Registry | None = None,
        repo: FeatureRepo | None = None,
    ) -> None:
        self.config = config
        self.registry = registry
        self.repo = repo

    def _registry(self) -> Registry:
        if self.registry is None:
            from models import Registry

            self.registry = Registry.from_config(self.config.registry)
        return self.registry

    def run(self, pending: PendingRetrain, now: datetime | None = None) -> list[JobOutcome]:
        """Answer every request of ``pending``: re-announce answered ones, train the rest once."""
        registry = self._registry()
        model = pending.model
        answered = answered_requests(registry, model, pending.request_ids)
        outcomes = [
            JobOutcome(self.recorded_update(version), trained=False)
            for version in sorted(set(answered.values()))
        ]
        fresh = pending.without(answered)
        if fresh.requests:
            outcomes.append(self._train(fresh, now or datetime.now(UTC)))
        return outcomes

    # ------------------------------------------------------------------ a fresh request

    def _train(self, pending: PendingRetrain, now: datetime) -> JobOutcome:
        phases: dict[str, float] = {}
        started = time.perf_counter()
        champion_version, champion = self._champion()
        try:
            plan = plan_retrain(
                self.config, pending, now, champion_version,
                champion.task_names if champion is not None else None,
            )  # fmt: skip
            logger.info(
                "plan for %s (requests %s): %s retrain, drifted %s, window %s → %s",
                plan.model, ", ".join(plan.request_ids), plan.mode, list(plan.drifted),
                plan.window_start.isoformat(), plan.window_end.isoformat(),
            )  # fmt: skip
            data = load_training_data(self.config, plan, self.repo)
        except RequestRejected as exc:
            logger.warning("rejected %s: %s", pending.request_ids, exc.reason)
            update = rejected_update(
                pending.model, pending.tasks, pending.request_ids, pending.alert_ids,
                exc.reason, champion_version, now,
            )  # fmt: skip
            phases["data_s"] = time.perf_counter() - started
            return JobOutcome(update, trained=False, phases=phases)
        phases["data_s"] = time.perf_counter() - started
        logger.info("data for %s: %s", plan.model, json.dumps(data.row_counts["labels"]))

        mark = time.perf_counter()
        result, baselines = self._fit(plan, data, champion)
        phases["train_s"] = time.perf_counter() - mark

        mark = time.perf_counter()
        candidate = result.model.cpu()
        decision, metrics, champion_metrics, baseline_metrics = self._judge(
            plan, data, candidate, champion, baselines
        )
        phases["gate_s"] = time.perf_counter() - mark
        status = (
            ("promoted" if self.config.retrainer.auto_promote else "candidate")
            if decision.passed
            else "rejected"
        )
        logger.info("gate for %s: %s → %s", plan.model, decision.reason, status)

        mark = time.perf_counter()
        update = self._register(
            plan, data, result, candidate, decision, status, metrics, champion_metrics,
            baseline_metrics,
        )  # fmt: skip
        phases["register_s"] = time.perf_counter() - mark
        return JobOutcome(
            update, True, phases, plan, decision, data.row_counts, device=result.device
        )

    def _champion(self) -> tuple[int | None, MultiTaskModel | None]:
        from models import UnknownVersionError

        registry = self._registry()
        try:
            version = registry.aliases(self.config.model).get("champion")
        except UnknownVersionError:
            return None, None
        if version is None:
            return None, None
        return version, registry.load(self.config.model, version).model

    def _fit(
        self, plan: RetrainPlan, data: TrainingData, champion: MultiTaskModel | None
    ) -> tuple[Any, dict[str, Any]]:
        from models import (
            TrainConfig,
            feature_schema_from_config,
            task_specs_from_config,
            train,
            train_baselines,
        )

        settings = TrainConfig.from_retrainer_config(self.config.retrainer)
        specs = task_specs_from_config(self.config)
        schema = feature_schema_from_config(self.config)
        if plan.mode == "head_only":
            assert champion is not None
            result = train(
                data.train, config=settings, init_model=champion, freeze_trunk=True,
                train_tasks=list(plan.drifted),
            )  # fmt: skip
        else:
            result = train(data.train, specs, schema, settings)
        baselines: dict[str, Any] = {}
        if self.config.retrainer.min_delta_p is not None:
            baselines = train_baselines(data.train, specs, schema, settings)
        return result, baselines

    def _judge(
        self,
        plan: RetrainPlan,
        data: TrainingData,
        candidate: MultiTaskModel,
        champion: MultiTaskModel | None,
        baselines: dict[str, Any],
    ) -> tuple[GateDecision, dict[str, Any], dict[str, Any], dict[str, Any]]:
        from models import SchemaError, delta_p, evaluate

        holdout = data.holdout
        metrics = evaluate(candidate, holdout)
        champion_metrics: dict[str, Any] = {}
        champion_outputs: dict[str, np.ndarray] = {}
        if champion is not None:
            try:
                champion_metrics = evaluate(champion, holdout)
                champion_outputs = champion.predict(holdout)
            except (SchemaError, KeyError, ValueError) as exc:
                logger.warning("the champion cannot be evaluated on this holdout (%s)", exc)
                champion_metrics, champion_outputs = {}, {}
        outputs = candidate.predict(holdout)
        group = holdout["group"].to_numpy() if "group" in holdout.columns else None
        evidence = []
        for spec in candidate.tasks:
            head = candidate.head(spec.name)
            target, mask_t = head.encode_labels(holdout[spec.name])
            mask = mask_t.numpy().astype(bool)
            y = target.numpy()[mask]
            if spec.name in champion_outputs:
                reference, kind = champion_outputs[spec.name][mask], "champion"
            else:
                train_target, train_mask = head.encode_labels(data.train[spec.name])
                y_train = train_target.numpy()[train_mask.numpy().astype(bool)]
                reference, kind = constant_prediction(spec, y_train, int(mask.sum())), "constant"
            evidence.append(
                TaskEvidence(
                    spec, y, outputs[spec.name][mask], reference, kind,  # type: ignore[arg-type]
                    drifted=spec.name in plan.drifted,
                    unchanged=plan.mode == "head_only" and spec.name not in plan.drifted,
                    group=group[mask] if group is not None else None,
                )
            )  # fmt: skip
        baseline_metrics: dict[str, Any] = {}
        dp = None
        if baselines:
            baseline_metrics = {
                task: evaluate(result.model.cpu(), holdout)[task]
                for task, result in baselines.items()
            }
            dp = delta_p(metrics, baseline_metrics, candidate.tasks, metrics="primary")
        gate = PromotionGate(
            {t: c.gate for t, c in self.config.tasks.items()},
            n_resamples=self.config.retrainer.bootstrap_resamples,
            seed=self.config.retrainer.seed,
        )
        decision = gate.judge(evidence, dp, self.config.retrainer.min_delta_p)
        return decision, metrics, champion_metrics, baseline_metrics

    def _register(
        self,
        plan: RetrainPlan,
        data: TrainingData,
        result: Any,
        candidate: MultiTaskModel,
        decision: GateDecision,
        status: str,
        metrics: dict[str, Any],
        champion_metrics: dict[str, Any],
        baseline_metrics: dict[str, Any],
    ) -> ModelUpdate:
        from models import DuplicateRequestError

        registry = self._registry()
        record = {
            "status": status,
            "reason": decision.reason,
            "plan": plan.to_dict(),
            "gate": decision.to_dict(),
            "champion_metrics": champion_metrics,
            "baseline_metrics": baseline_metrics,
            "data": data.row_counts,
        }
        alias = {"promoted": "champion", "candidate": "candidate"}.get(status)
        try:
            info = registry.register(
                plan.model, candidate, result=result, metrics=metrics,
                training_window=(plan.window_start.isoformat(), plan.window_end.isoformat()),
                row_counts={**result.row_counts, "window": data.row_counts},
                request_ids=plan.request_ids, alert_ids=plan.alert_ids,
                parent_version=plan.parent_version, alias=alias,
                description=f"{plan.mode} retrain for {', '.join(plan.drifted)}",
                reason=decision.reason, manifest_extra={MANIFEST_KEY: _json_ready(record)},
                feature_profile=training_profile(self.config, data.train),
            )  # fmt: skip
        except DuplicateRequestError as exc:  # another worker answered it meanwhile
            logger.warning("%s", exc)
            return self.recorded_update(exc.version)
        if status == "rejected":
            registry.reject(plan.model, info.version, decision.reason)
        logger.info("registered %s v%d as %s", plan.model, info.version, status)
        return version_update(info, status, decision.reason, plan.parent_version, champion_metrics)

    # ------------------------------------------------------------------ an answered request

    def recorded_update(self, version: int) -> ModelUpdate:
        """The update a registered version was announced with (re-built from its manifest).

        Also finishes what a crash may have left: a version the gate rejected but that is not
        yet marked ``rejected`` in the registry.
        """
        registry = self._registry()
        model = self.config.model
        info = registry.get_version(model, version)
        manifest_path = info.artifact_path / "manifest.json"
        if not manifest_path.exists():
            registry.cleanup_orphans(min_age_s=float("inf"))  # finishes a pending rename
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        record = manifest.get(MANIFEST_KEY) or {}
        status = record.get("status", "candidate")
        reason = record.get("reason", "")
        if status == "rejected" and info.status != "rejected":
            registry.reject(model, version, reason)
        return version_update(
            info, status, reason, info.parent_version, record.get("champion_metrics") or {}
        )


def _json_ready(value: Any) -> Any:
    """Floats that JSON cannot hold (NaN/inf) become None; numpy scalars become Python."""
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value
