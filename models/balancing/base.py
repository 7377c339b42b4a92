"""What a loss balancer does: turn per-task losses (and maybe per-task gradients) into an update."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["LossBalancer"]


class LossBalancer(nn.Module):
    """Base class. Subclasses set ``needs_task_gradients`` when they use per-task gradients.

    The trainer calls :meth:`total` for the loss to back-propagate; when ``needs_task_gradients``
    it also passes the per-task gradients on the shared parameters to :meth:`shared_gradient`,
    which returns the gradient to install on them (``None``: keep the one ``backward`` produced).
    ``active`` marks tasks that take part in this step (labelled rows in the batch, not stopped).
    """

    needs_task_gradients = False

    def __init__(self, n_tasks: int) -> None:
        super().__init__()
        if n_tasks < 1:
            raise ValueError("n_tasks must be at least 1")
        self.n_tasks = n_tasks

    def total(self, losses: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
        """Sum of active losses (equal weighting); subclasses reweight."""
        return torch.where(active, losses, torch.zeros_like(losses)).sum()

    def shared_gradient(
        self, grads: torch.Tensor, losses: torch.Tensor, active: torch.Tensor
    ) -> torch.Tensor | None:
        """Gradient for the shared parameters from per-task gradients ``(tasks, params)``."""
        return None

    def loss_weights(self) -> list[float]:
        """The effective weight of each task's loss, for logging."""
        return [1.0] * self.n_tasks

    def state(self) -> dict[str, Any]:
        """JSON-ready state saved in the manifest."""
        return {"weights": self.loss_weights()}
