"""Equal weighting: the plain sum of task losses."""

from __future__ import annotations

from models.balancing.base import LossBalancer

__all__ = ["EqualWeighting"]


class EqualWeighting(LossBalancer):
    """Every task's loss has weight 1.

    Examples
    --------
    >>> import torch
    >>> EqualWeighting(2).total(torch.tensor([1.0, 2.0]), torch.tensor([True, True])).item()
    3.0
    """
