"""Regression head (linear output, squared error)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from models.heads.base import TaskHead, masked_mean
from models.specs import TaskSpec

__all__ = ["RegressionHead"]


class RegressionHead(TaskHead):
    """One value; loss is the mean squared error over labelled rows.

    Targets are standardised with the training labels' mean and scale (buffers saved with the
    model), so tasks on very different scales start with comparable losses; predictions are
    returned on the original scale.

    Examples
    --------
    >>> from models.specs import TaskSpec
    >>> head = RegressionHead(TaskSpec("spend", "regression"), input_dim=4)
    >>> out = head(torch.zeros(2, 4))
    >>> head.loss(out, torch.tensor([1.0, 2.0]), torch.tensor([False, False]), torch.zeros(2)).item()
    0.0
    """

    target_mean: torch.Tensor  # buffers (registered in __init__)
    target_scale: torch.Tensor

    def __init__(self, spec: TaskSpec, input_dim: int, tower: Sequence[int] = (16,)) -> None:
        super().__init__(spec, input_dim, tower)
        self.register_buffer("target_mean", torch.zeros(()))
        self.register_buffer("target_scale", torch.ones(()))

    def fit_target_scale(self, target: torch.Tensor, mask: torch.Tensor) -> None:
        """Remember the mean and standard deviation of the labelled training targets."""
        values = target[mask].double()
        if len(values) > 1:
            self.target_mean.fill_(float(values.mean()))
            self.target_scale.fill_(max(float(values.std()), 1e-6))

    def loss(
        self, output: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, group: torch.Tensor
    ) -> torch.Tensor:
        """Masked squared error on the standardised scale."""
        target = torch.where(mask, target, torch.zeros_like(target))  # no NaN/inf can leak
        scaled = (target.float() - self.target_mean) / self.target_scale
        return masked_mean((output[:, 0].float() - scaled) ** 2, mask)

    def predict(self, output: torch.Tensor) -> np.ndarray:
        """Values on the original label scale."""
        values = output[:, 0].float() * self.target_scale + self.target_mean
        return values.detach().cpu().numpy()
