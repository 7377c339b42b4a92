"""A threshold rule on a rolling metric, in the shape of a detector."""

from __future__ import annotations

import operator
from collections.abc import Callable

__all__ = ["ThresholdDetector"]

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


class ThresholdDetector:
    """Fires while ``metric op value`` holds (e.g. rolling accuracy < 0.8).

    Parameters
    ----------
    metric
        The rolling metric's name (``accuracy``, ``mae``, ...).
    op
        ``<``, ``<=``, ``>`` or ``>=``.
    value
        The bound.

    Examples
    --------
    >>> rule = ThresholdDetector("accuracy", "<", 0.8)
    >>> rule.update(0.9), rule.update(0.7)
    (False, True)
    """

    def __init__(self, metric: str, op: str, value: float) -> None:
        if op not in _OPS:
            raise ValueError(f"op must be one of {sorted(_OPS)}, got {op!r}")
        self.metric = metric
        self.op = op
        self.value = value
        self._reset()

    def _reset(self) -> None:
        self._first: float | None = None

    def reset(self) -> None:
        """Forget the metric values seen (re-baseline)."""
        self._reset()

    def update(self, metric_value: float) -> bool:
        """Feed the metric's current value; ``True`` when the rule is broken."""
        if self._first is None:
            self._first = metric_value
        return _OPS[self.op](metric_value, self.value)

    @property
    def baseline(self) -> float | None:
        """The metric's first value since the last reset."""
        return self._first
