"""Benjamini-Hochberg: which of a family of tests to reject so the false discovery rate is at
most ``q``."""

from __future__ import annotations

__all__ = ["benjamini_hochberg"]


def benjamini_hochberg(p_values: list[float], q: float) -> list[bool]:
    """Reject the ``k`` smallest p-values, ``k`` the largest with ``p_(k) <= k q / m``.

    Controls the false discovery rate at ``q`` for independent (or positively dependent) tests.

    >>> benjamini_hochberg([0.001, 0.02, 0.04, 0.3], q=0.05)
    [True, True, False, False]
    >>> benjamini_hochberg([0.001, 0.02, 0.03, 0.04], q=0.05)   # step-up: all four
    [True, True, True, True]
    """
    if not 0 < q < 1:
        raise ValueError(f"q must be in (0, 1), got {q}")
    m = len(p_values)
    order = sorted(range(m), key=p_values.__getitem__)
    cut = 0
    for rank, i in enumerate(order, start=1):
        if p_values[i] <= rank * q / m:
            cut = rank
    rejected = [False] * m
    for i in order[:cut]:
        rejected[i] = True
    return rejected
