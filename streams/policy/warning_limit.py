"""At most so many info/warning alerts of a task per period of event time."""

from __future__ import annotations

from collections import deque

from driftline.config.models import AlertPolicy as AlertPolicyConfig

__all__ = ["WarningLimit"]


class WarningLimit:
    """A sliding event-time window that lets at most ``limit`` warnings through per ``period``.

    Critical alerts do not pass through it (they are never held back); what it refuses is
    counted in ``suppressed``.

    Parameters
    ----------
    limit
        Warnings per period (``None``: no limit).
    period
        Event-time seconds.

    Examples
    --------
    >>> limit = WarningLimit(limit=2, period=100.0)
    >>> [limit.allow(t) for t in (0.0, 10.0, 20.0, 105.0)], limit.suppressed
    ([True, True, False, True], 1)
    """

    def __init__(self, limit: int | None = 3, period: float = 86400.0) -> None:
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be >= 1 or None, got {limit}")
        if period <= 0:
            raise ValueError(f"period must be > 0, got {period}")
        self.limit = limit
        self.period = period
        self._reset()

    @classmethod
    def from_config(cls, config: AlertPolicyConfig) -> WarningLimit:
        """Build from a task's ``policy`` (``warning_limit``, ``warning_period``)."""
        return cls(config.warning_limit, config.warning_period)

    def _reset(self) -> None:
        self._times: deque[float] = deque()
        self.suppressed = 0

    def allow(self, t: float) -> bool:
        """Whether a warning at event time ``t`` may go out (it is counted when it may)."""
        if self.limit is None:
            return True
        times = self._times
        while times and t - times[0] >= self.period:
            times.popleft()
        if len(times) >= self.limit:
            self.suppressed += 1
            return False
        times.append(t)
        return True
