"""retrainer: answers retrain requests with new, gated, registered and announced model versions.

Public API (imported lazily, so ``import retrainer`` imports neither torch nor Kafka):

- :class:`RetrainWorker` — the Kafka consumer-group worker (``driftline retrainer``);
- :class:`RetrainJob` — one run, Kafka-free: coalesced requests → plan → data → train → gate →
  register → :class:`driftline.events.ModelUpdate`;
- :class:`PendingRetrain`, :class:`RetrainPlan`, :func:`plan_retrain` — coalescing and planning;
- :class:`PromotionGate`, :class:`TaskEvidence`, :class:`GateDecision` — the promotion gate;
- :func:`publish_update`, :class:`UpdatePublisher` — sending model updates;
- :func:`build_request` — a ``requested_by="cli"`` retrain request.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "GateDecision",
    "JobOutcome",
    "OffsetTracker",
    "PendingRetrain",
    "PromotionGate",
    "PublishError",
    "RequestQueue",
    "RequestRejected",
    "RetrainJob",
    "RetrainPlan",
    "RetrainWorker",
    "RetrainerError",
    "TaskEvidence",
    "TaskVerdict",
    "UpdatePublisher",
    "build_request",
    "plan_retrain",
    "publish_update",
]

_WHERE = {
    "GateDecision": "retrainer.gate",
    "JobOutcome": "retrainer.job",
    "OffsetTracker": "retrainer.offsets",
    "PendingRetrain": "retrainer.planner",
    "PromotionGate": "retrainer.gate",
    "PublishError": "retrainer.errors",
    "RequestQueue": "retrainer.queue",
    "RequestRejected": "retrainer.errors",
    "RetrainJob": "retrainer.job",
    "RetrainPlan": "retrainer.planner",
    "RetrainWorker": "retrainer.worker",
    "RetrainerError": "retrainer.errors",
    "TaskEvidence": "retrainer.gate",
    "TaskVerdict": "retrainer.gate",
    "UpdatePublisher": "retrainer.publisher",
    "build_request": "retrainer.cli_trigger",
    "plan_retrain": "retrainer.planner",
    "publish_update": "retrainer.publisher",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'retrainer' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
