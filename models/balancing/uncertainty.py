"""Homoscedastic uncertainty weighting (Kendall, Gal & Cipolla, CVPR 2018)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from models.balancing.base import LossBalancer

__all__ = ["UncertaintyWeighting"]


class UncertaintyWeighting(LossBalancer):
    """Learn a log-variance ``s_t`` per task; minimise ``L_t / (2 e^{s_t}) + s_t / 2``.

    A noisy task learns a large ``s_t`` and so a small weight; the ``s_t / 2`` term keeps the
    weights from collapsing to zero. ``s`` is trained by the same optimiser as the model.

    Examples
    --------
    >>> import torch
    >>> balancer = UncertaintyWeighting(2)
    >>> balancer.total(torch.tensor([1.0, 3.0]), torch.tensor([True, False])).item()
    0.5
    >>> balancer.loss_weights()
    [0.5, 0.5]
    """

    def __init__(self, n_tasks: int) -> None:
        super().__init__(n_tasks)
        self.log_vars = nn.Parameter(torch.zeros(n_tasks))

    def total(self, losses: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
        """Uncertainty-weighted sum of active losses."""
        terms = losses / (2 * torch.exp(self.log_vars)) + self.log_vars / 2
        return torch.where(active, terms, torch.zeros_like(terms)).sum()

    def loss_weights(self) -> list[float]:
        """``1 / (2 e^{s_t})`` per task."""
        return [float(w) for w in (0.5 * torch.exp(-self.log_vars.detach())).tolist()]

    def state(self) -> dict[str, Any]:
        """Weights and the learnt log-variances."""
        return {"weights": self.loss_weights(), "log_vars": self.log_vars.detach().tolist()}
