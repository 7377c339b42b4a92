"""A dummy detector that fires every ``every`` values: the floor any real detector must beat."""

from __future__ import annotations

__all__ = ["PeriodicDetector"]


class PeriodicDetector:
    """Fires on every ``every``-th value, whatever the values are.

    Parameters
    ----------
    every
        Values between firings.

    Examples
    --------
    >>> det = PeriodicDetector(every=3)
    >>> [det.update(0.0) for _ in range(6)]
    [False, False, True, False, False, True]
    """

    def __init__(self, every: int = 1000) -> None:
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.every = every
        self._reset()

    def _reset(self) -> None:
        self._n = 0

    def reset(self) -> None:
        """Restart the count."""
        self._reset()

    def update(self, x: float) -> bool:
        """Count one value; ``True`` on every ``every``-th."""
        self._n += 1
        return self._n % self.every == 0
