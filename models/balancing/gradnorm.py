"""GradNorm (Chen et al., ICML 2018): adapt loss weights so task gradient norms stay balanced."""

from __future__ import annotations

from typing import Any

import torch

from models.balancing.base import LossBalancer

__all__ = ["GradNorm"]


class GradNorm(LossBalancer):
    """Weights ``w_t`` move so that ``||∇ w_t L_t||`` tracks ``mean_norm × r_t^alpha``.

    ``r_t`` is task ``t``'s loss relative to its first loss, divided by the mean of those ratios:
    tasks that train slower get larger weights. The gradient of the GradNorm objective with respect
    to ``w_t`` is ``sign(G_t - target_t) × ||∇ L_t||``, computed in closed form (no second-order
    backward); weights are renormalised to sum to the number of active tasks.

    Parameters
    ----------
    n_tasks
        Number of tasks.
    alpha
        Strength of the restoring force towards balanced training rates.
    lr
        Step size of the weight update.

    Examples
    --------
    >>> import torch
    >>> balancer = GradNorm(2, alpha=1.5, lr=0.1)
    >>> grads = torch.tensor([[10.0, 0.0], [0.0, 1.0]])   # task 0's gradient is 10x larger
    >>> _ = balancer.shared_gradient(grads, torch.tensor([1.0, 1.0]), torch.tensor([True, True]))
    >>> w = balancer.loss_weights()
    >>> w[0] < 1.0 < w[1]
    True
    """

    needs_task_gradients = True
    weights: torch.Tensor  # buffers (registered in __init__)
    initial_losses: torch.Tensor

    def __init__(self, n_tasks: int, alpha: float = 1.5, lr: float = 0.025) -> None:
        super().__init__(n_tasks)
        if alpha < 0 or lr <= 0:
            raise ValueError("GradNorm needs alpha >= 0 and lr > 0")
        self.alpha = alpha
        self.lr = lr
        self.register_buffer("weights", torch.ones(n_tasks))
        self.register_buffer("initial_losses", torch.full((n_tasks,), float("nan")))

    def total(self, losses: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
        """Weighted sum of active losses."""
        weighted = self.weights.to(losses.dtype) * losses
        return torch.where(active, weighted, torch.zeros_like(weighted)).sum()

    @torch.no_grad()
    def shared_gradient(
        self, grads: torch.Tensor, losses: torch.Tensor, active: torch.Tensor
    ) -> torch.Tensor | None:
        """Update the weights from this step's per-task gradients; keep the backward gradient."""
        first = torch.isnan(self.initial_losses) & active
        self.initial_losses[first] = losses.detach()[first].float().clamp(min=1e-8)
        if int(active.sum()) < 2:
            return None
        idx = active.nonzero().flatten()
        norms = grads[idx].float().norm(dim=1)
        weighted = self.weights[idx] * norms
        ratio = losses.detach()[idx].float() / self.initial_losses[idx]
        rate = ratio / ratio.mean().clamp(min=1e-12)
        target = weighted.mean() * rate**self.alpha
        step = torch.sign(weighted - target) * norms
        updated = (self.weights[idx] - self.lr * step).clamp(min=1e-3)
        self.weights[idx] = updated * len(idx) / updated.sum()
        return None

    def loss_weights(self) -> list[float]:
        """Current ``w_t``."""
        return [float(w) for w in self.weights.tolist()]

    def state(self) -> dict[str, Any]:
        """Weights and the initial losses the training rates refer to."""
        return {
            "weights": self.loss_weights(),
            "initial_losses": [None if v != v else float(v) for v in self.initial_losses.tolist()],
            "alpha": self.alpha,
        }
