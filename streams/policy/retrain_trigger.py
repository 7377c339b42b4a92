"""Decides when an alert turns into a retrain request (severity, cooldown, minimum labels)."""

from __future__ import annotations

from collections.abc import Iterable

from driftline.config.models import RetrainPolicy

__all__ = ["RetrainTrigger"]


class RetrainTrigger:
    """One task's retrain policy, decided in event time and label counts (never the wall clock).

    Parameters
    ----------
    on_severity
        Alert severities that ask for a retrain.
    cooldown
        Event-time seconds after a request during which no other is sent.
    min_labels
        Labels of the current model version needed before a request.

    Examples
    --------
    >>> trigger = RetrainTrigger(["critical"], cooldown=3600, min_labels=100)
    >>> trigger.should_request("critical", labels=50, t=0.0)      # too few labels
    False
    >>> trigger.should_request("critical", labels=500, t=10.0)
    True
    >>> trigger.should_request("critical", labels=900, t=100.0)   # cooling down
    False
    >>> trigger.should_request("warning", labels=900, t=9000.0)   # not a retrain severity
    False
    """

    def __init__(
        self, on_severity: Iterable[str], cooldown: float = 3600.0, min_labels: int = 1000
    ) -> None:
        if cooldown < 0 or min_labels < 1:
            raise ValueError("cooldown must be >= 0 and min_labels >= 1")
        self.on_severity = tuple(on_severity)
        self.cooldown = cooldown
        self.min_labels = min_labels
        self._reset()

    @classmethod
    def from_config(cls, config: RetrainPolicy) -> RetrainTrigger:
        """Build from a task's ``retrain`` section."""
        return cls(config.on_severity, config.cooldown, config.min_labels)

    def _reset(self) -> None:
        self._last_request: float | None = None

    def should_request(self, severity: str, labels: int, t: float) -> bool:
        """Whether an alert of ``severity`` at event time ``t`` asks for a retrain now."""
        if severity not in self.on_severity or labels < self.min_labels:
            return False
        if self._last_request is not None and t - self._last_request < self.cooldown:
            return False
        self._last_request = t
        return True
