"""PCGrad gradient surgery (Yu et al., NeurIPS 2020)."""

from __future__ import annotations

import torch

from models.balancing.base import LossBalancer

__all__ = ["PCGrad"]


class PCGrad(LossBalancer):
    """Project each task's shared gradient off the others' when they conflict (negative dot).

    For task ``i`` and each other task ``j`` in a random order, if ``g_i · g_j < 0`` then
    ``g_i ← g_i - (g_i · g_j / |g_j|²) g_j``. The shared parameters receive the sum of the projected
    gradients; head parameters keep their own task's gradient. Seeded by the trainer.

    Parameters
    ----------
    n_tasks
        Number of tasks.
    seed
        Seed of the random projection order.

    Examples
    --------
    >>> import torch
    >>> grads = torch.tensor([[1.0, 0.0], [-1.0, 1.0]])   # conflicting: dot = -1
    >>> g = PCGrad(2).shared_gradient(grads, torch.ones(2), torch.tensor([True, True]))
    >>> g.tolist()   # [0.5, 0.5] + [0, 1]: neither task's projected part opposes the other
    [0.5, 1.5]
    """

    needs_task_gradients = True

    def __init__(self, n_tasks: int, seed: int = 0) -> None:
        super().__init__(n_tasks)
        self.seed = seed
        self._generator = torch.Generator().manual_seed(seed)

    @torch.no_grad()
    def shared_gradient(
        self, grads: torch.Tensor, losses: torch.Tensor, active: torch.Tensor
    ) -> torch.Tensor | None:
        """Sum of the de-conflicted per-task gradients of the active tasks."""
        idx = active.nonzero().flatten().tolist()
        original = grads.float()
        projected = original.clone()
        for i in idx:
            others = [j for j in idx if j != i]
            order = torch.randperm(len(others), generator=self._generator).tolist()
            for k in order:
                g_j = original[others[k]]
                dot = torch.dot(projected[i], g_j)
                if dot < 0:
                    projected[i] -= dot / g_j.dot(g_j).clamp(min=1e-20) * g_j
        return projected[idx].sum(dim=0).to(grads.dtype)
