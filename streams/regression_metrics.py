"""The metrics of a regression task from running sums, with River's own update formulas.

River's ``MAE``, ``RMSE`` and ``R2`` are running means and a running variance; this class does
the same arithmetic (so the same floats) in one object, without three metric objects and their
method calls per label. Every update can be reverted (River's ``Rolling`` does it the same way),
so the same object serves a rolling window.
"""

from __future__ import annotations

__all__ = ["RegressionMetrics"]


class RegressionMetrics:
    """MAE, RMSE and R² of (truth, prediction) pairs.

    Examples
    --------
    >>> m = RegressionMetrics()
    >>> for y, p in [(1.0, 1.0), (2.0, 1.0), (3.0, 1.0)]:
    ...     m.update(y, p)
    >>> m.values(["mae", "rmse", "r2"])
    {'mae': 1.0, 'rmse': 1.2909944487358056, 'r2': -1.5}
    >>> m.revert(1.0, 1.0)
    >>> m.values(["mae"])
    {'mae': 1.5}
    """

    NAMES = frozenset({"mae", "rmse", "r2"})
    """The metrics this class computes."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.n = 0.0
        self._abs_mean = 0.0
        self._sq_mean = 0.0
        self._y_mean = 0.0
        self._y_s = 0.0  # Welford's sum of squared deviations of y
        self._rss = 0.0

    def update(self, y: float, prediction: float) -> None:
        """Add one label ``y`` and its ``prediction``."""
        self._step(y, prediction, 1.0)

    def revert(self, y: float, prediction: float) -> None:
        """Remove a pair :meth:`update` added (the oldest of a rolling window)."""
        self._step(y, prediction, -1.0)

    def _step(self, y: float, prediction: float, w: float) -> None:
        error = y - prediction
        n = self.n + w
        self.n = n
        if n == 0:
            self._abs_mean = self._sq_mean = self._y_mean = self._y_s = self._rss = 0.0
            return
        share = w / n
        self._abs_mean += share * (abs(error) - self._abs_mean)
        self._sq_mean += share * (error**2 - self._sq_mean)
        mean_old = self._y_mean
        self._y_mean = mean_new = mean_old + share * (y - mean_old)
        self._y_s += w * (y - mean_old) * (y - mean_new)
        self._rss += error * error * w

    def values(self, names: list[str] | tuple[str, ...]) -> dict[str, float]:
        """The current value of each metric in ``names`` (River's value before any label)."""
        return {name: self.value(name) for name in names}

    def value(self, name: str) -> float:
        """One metric's current value."""
        if name == "mae":
            return self._abs_mean
        if name == "rmse":
            return float(self._sq_mean**0.5)
        if name == "r2":
            if self.n > 1:
                total = (self.n - 1) * (self._y_s / (self.n - 1))
                return 1 - self._rss / total if total else 0.0
            return 0.0
        raise ValueError(f"unknown regression metric {name!r}; use one of {sorted(self.NAMES)}")
