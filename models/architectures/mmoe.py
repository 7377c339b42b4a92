"""Multi-gate Mixture-of-Experts (Ma et al., KDD 2018)."""

from __future__ import annotations

import torch
from torch import nn

from models.architectures.mlp import mlp

__all__ = ["MMoE"]


class MMoE(nn.Module):
    """MMoE trunk: shared experts, one softmax gate per task mixing them.

    Each task ``t`` reads ``sum_e softmax(W_t x)_e * expert_e(x)``, so tasks whose relation is weak
    can learn to use different experts instead of fighting over one shared layer.

    Parameters
    ----------
    input_dim
        Width of the preprocessed input.
    n_tasks
        Number of task heads (= number of gates).
    n_experts
        Number of expert MLPs.
    expert_hidden
        Widths of each expert MLP; the last one is the representation width.
    dropout
        Dropout inside the experts.

    Examples
    --------
    >>> trunk = MMoE(input_dim=5, n_tasks=3, n_experts=4, expert_hidden=(8,))
    >>> reps = trunk(torch.zeros(2, 5))
    >>> len(reps), reps[0].shape
    (3, torch.Size([2, 8]))
    >>> trunk.gate_weights(torch.zeros(2, 5)).shape   # tasks, rows, experts
    torch.Size([3, 2, 4])
    """

    def __init__(
        self,
        input_dim: int,
        n_tasks: int,
        n_experts: int = 4,
        expert_hidden: tuple[int, ...] = (32,),
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if n_experts < 1:
            raise ValueError("n_experts must be at least 1")
        self.input_dim = input_dim
        self.n_tasks = n_tasks
        self.n_experts = n_experts
        self.expert_hidden = tuple(expert_hidden)
        self.dropout = dropout
        self.experts = nn.ModuleList(
            mlp(input_dim, self.expert_hidden, dropout) for _ in range(n_experts)
        )
        self.gates = nn.ModuleList(nn.Linear(input_dim, n_experts) for _ in range(n_tasks))

    @property
    def output_dim(self) -> int:
        """Width of each task's representation."""
        return self.expert_hidden[-1]

    def gate_weights(self, x: torch.Tensor) -> torch.Tensor:
        """Softmax gate weights, shape ``(tasks, rows, experts)``."""
        return torch.stack([torch.softmax(gate(x), dim=-1) for gate in self.gates])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """One gated mixture of experts per task."""
        experts = torch.stack([expert(x) for expert in self.experts], dim=1)  # rows, E, width
        return [torch.einsum("be,bew->bw", weights, experts) for weights in self.gate_weights(x)]
