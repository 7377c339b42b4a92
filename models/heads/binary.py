"""Binary classification head (sigmoid, binary cross-entropy)."""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from models.heads.base import TaskHead, masked_mean

__all__ = ["BinaryHead"]


class BinaryHead(TaskHead):
    """One logit; loss is binary cross-entropy over labelled rows; predicts ``P(label = 1)``.

    Examples
    --------
    >>> from models.specs import TaskSpec
    >>> head = BinaryHead(TaskSpec("churn", "binary"), input_dim=4)
    >>> out = head(torch.zeros(3, 4))
    >>> target, mask = torch.tensor([1.0, 0.0, 0.0]), torch.tensor([True, True, False])
    >>> head.loss(out, target, mask, torch.zeros(3)).item() > 0
    True
    >>> head.predict(out).shape
    (3,)
    """

    def loss(
        self, output: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, group: torch.Tensor
    ) -> torch.Tensor:
        """Masked binary cross-entropy with logits."""
        target = torch.where(mask, target, torch.zeros_like(target))  # no NaN/inf can leak
        per_row = F.binary_cross_entropy_with_logits(
            output[:, 0].float(), target.float(), reduction="none"
        )
        return masked_mean(per_row, mask)

    def predict(self, output: torch.Tensor) -> np.ndarray:
        """Probabilities of the positive class."""
        return torch.sigmoid(output[:, 0].float()).detach().cpu().numpy()
