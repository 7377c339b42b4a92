"""Ranking head: one score per row, pairwise (RankNet) or listwise (ListNet) loss within groups."""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from models.heads.base import TaskHead

__all__ = ["RankingHead"]

_FILL = -1e9


class RankingHead(TaskHead):
    """Scores rows; only rows of the same ``group`` (query) are compared.

    ``spec.ranking_loss="pairwise"``: mean of ``log(1 + exp(-(s_i - s_j)))`` over labelled pairs of
    one group with ``y_i > y_j``. ``"listwise"``: cross-entropy between ``softmax(y)`` and
    ``softmax(s)`` within each group, averaged over groups. Labels are graded relevance (>= 0).
    Batches keep groups whole (the trainer batches by group when a ranking task exists).

    Examples
    --------
    >>> from models.specs import TaskSpec
    >>> head = RankingHead(TaskSpec("search", "ranking"), input_dim=2)
    >>> scores = torch.tensor([[2.0], [0.0], [1.0]])
    >>> target = torch.tensor([1.0, 0.0, 1.0])
    >>> mask = torch.tensor([True, True, True])
    >>> group = torch.tensor([0, 0, 1])
    >>> round(head.loss(scores, target, mask, group).item(), 4)   # one pair: log(1 + e^-2)
    0.1269
    """

    def loss(
        self, output: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, group: torch.Tensor
    ) -> torch.Tensor:
        """Masked pairwise or listwise loss."""
        target = torch.where(mask, target, torch.zeros_like(target))  # no NaN/inf can leak
        scores = output[:, 0].float()
        same = (group[:, None] == group[None, :]) & mask[:, None] & mask[None, :]
        if self.spec.ranking_loss == "listwise":
            return self._listwise(scores, target.float(), mask, same, group)
        pairs = same & (target[:, None] > target[None, :])
        diff = scores[:, None] - scores[None, :]
        per_pair = torch.where(pairs, F.softplus(-diff), torch.zeros_like(diff))
        return per_pair.sum() / pairs.sum().clamp(min=1)

    @staticmethod
    def _listwise(
        scores: torch.Tensor,
        target: torch.Tensor,
        mask: torch.Tensor,
        same: torch.Tensor,
        group: torch.Tensor,
    ) -> torch.Tensor:
        fill = torch.full_like(same, _FILL, dtype=scores.dtype)
        log_norm = torch.logsumexp(torch.where(same, scores[None, :].expand_as(same), fill), dim=1)
        target_norm = torch.logsumexp(
            torch.where(same, target[None, :].expand_as(same), fill), dim=1
        )
        zero = torch.zeros_like(log_norm)
        log_norm = torch.where(mask, log_norm, zero)  # an unlabelled row has an empty list:
        target_norm = torch.where(mask, target_norm, zero)  # keep its terms finite (grad 0 * 1)
        prob = torch.exp(target - target_norm)
        per_row = -prob * (scores - log_norm)
        kept = torch.where(mask, per_row, torch.zeros_like(per_row))
        n_groups = torch.unique(group[mask]).numel() if bool(mask.any()) else 1
        return kept.sum() / n_groups

    def predict(self, output: torch.Tensor) -> np.ndarray:
        """Scores (higher ranks first)."""
        return output[:, 0].float().detach().cpu().numpy()
