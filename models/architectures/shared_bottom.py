"""Hard parameter sharing: one MLP whose output every task head reads."""

from __future__ import annotations

import torch
from torch import nn

from models.architectures.mlp import mlp

__all__ = ["SharedBottom"]


class SharedBottom(nn.Module):
    """Shared-bottom trunk (Caruana 1997): all tasks read the same representation.

    Parameters
    ----------
    input_dim
        Width of the preprocessed input.
    n_tasks
        Number of task heads.
    hidden
        Widths of the shared MLP; the last one is the representation width.
    dropout
        Dropout after each hidden layer.

    Examples
    --------
    >>> trunk = SharedBottom(input_dim=5, n_tasks=2, hidden=(16, 8))
    >>> [r.shape for r in trunk(torch.zeros(3, 5))]
    [torch.Size([3, 8]), torch.Size([3, 8])]
    """

    def __init__(
        self, input_dim: int, n_tasks: int, hidden: tuple[int, ...] = (64, 32), dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.input_dim = input_dim
        self.n_tasks = n_tasks
        self.hidden = tuple(hidden)
        self.dropout = dropout
        self.bottom = mlp(input_dim, self.hidden, dropout)

    @property
    def output_dim(self) -> int:
        """Width of each task's representation."""
        return self.hidden[-1]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """One representation per task (the same tensor for every task)."""
        shared = self.bottom(x)
        return [shared] * self.n_tasks
