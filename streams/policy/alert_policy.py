"""Turns a detector's firings into alerts: minimum samples, warm-up, hysteresis, cooldown."""

from __future__ import annotations

from collections import deque

from driftline.config.models import AlertPolicy as AlertPolicyConfig

__all__ = ["AlertPolicy"]


class AlertPolicy:
    """Decides, firing by firing, whether a detector's evidence becomes an alert.

    Counts are positions in the detector's own stream (labels for ``signal: error`` and threshold
    rules, predictions for ``signal: score``), so the decision depends on the data only — never on
    the wall clock — and a replay decides the same.

    Parameters
    ----------
    min_samples
        No alert before this many values since the stream started.
    warmup
        Values ignored after a re-baseline (a new model version).
    confirmations
        Firings needed ...
    confirm_within
        ... within this many values (hysteresis).
    cooldown
        Values of quiet after an alert.

    Examples
    --------
    >>> policy = AlertPolicy(min_samples=10, warmup=0, confirmations=2, confirm_within=5,
    ...                      cooldown=100)
    >>> policy.observe(5, True)       # too early
    False
    >>> policy.observe(20, True), policy.observe(23, True)   # confirmed on the second firing
    (False, True)
    >>> policy.observe(50, True), policy.observe(52, True)   # cooling down
    (False, False)
    """

    def __init__(
        self,
        min_samples: int = 500,
        warmup: int = 1000,
        confirmations: int = 1,
        confirm_within: int = 500,
        cooldown: int = 2000,
    ) -> None:
        for name, value in (
            ("min_samples", min_samples),
            ("warmup", warmup),
            ("cooldown", cooldown),
        ):
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        if confirmations < 1 or confirm_within < 1:
            raise ValueError("confirmations and confirm_within must be >= 1")
        self.min_samples = min_samples
        self.warmup = warmup
        self.confirmations = confirmations
        self.confirm_within = confirm_within
        self.cooldown = cooldown
        self._reset()

    @classmethod
    def from_config(cls, config: AlertPolicyConfig) -> AlertPolicy:
        """Build from a task's ``policy`` section."""
        return cls(
            config.min_samples,
            config.warmup,
            config.confirmations,
            config.confirm_within,
            config.cooldown,
        )

    def _reset(self) -> None:
        self._baseline: int | None = None
        self._firings: deque[int] = deque()
        self._last_alert: int | None = None

    def rebaseline(self, count: int) -> None:
        """A new model version from ``count`` on: start the warm-up, forget firings and cooldown."""
        self._baseline = count
        self._firings.clear()
        self._last_alert = None

    def in_warmup(self, count: int) -> bool:
        """Whether firings at ``count`` are ignored (too few samples or warming up)."""
        if count < self.min_samples:
            return True
        return self._baseline is not None and count - self._baseline < self.warmup

    def observe(self, count: int, fired: bool) -> bool:
        """Feed the detector's verdict at position ``count``; ``True`` means: alert now."""
        if not fired or self.in_warmup(count):
            return False
        if self._last_alert is not None and count - self._last_alert < self.cooldown:
            return False
        firings = self._firings
        firings.append(count)
        while firings and count - firings[0] >= self.confirm_within:
            firings.popleft()
        if len(firings) < self.confirmations:
            return False
        firings.clear()
        self._last_alert = count
        return True
