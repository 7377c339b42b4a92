"""Policies between detectors and the outside world: alerts and retrain requests."""

from streams.policy.alert_policy import AlertPolicy
from streams.policy.retrain_trigger import RetrainTrigger
from streams.policy.warning_limit import WarningLimit

__all__ = ["AlertPolicy", "RetrainTrigger", "WarningLimit"]
