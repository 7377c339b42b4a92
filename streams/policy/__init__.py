"""Policies between detectors and the outside world: alerts and retrain requests."""

from streams.policy.alert_policy import AlertPolicy
from streams.policy.retrain_trigger import RetrainTrigger

__all__ = ["AlertPolicy", "RetrainTrigger"]
