"""Progressive Layered Extraction and its one-level form CGC (Tang et al., RecSys 2020)."""

from __future__ import annotations

from typing import cast

import torch
from torch import nn

from models.architectures.mlp import mlp

__all__ = ["PLE"]


class _ExtractionLevel(nn.Module):
    """One CGC level: task-specific and shared experts, a gate per task (+ a shared gate)."""

    def __init__(
        self,
        input_dim: int,
        n_tasks: int,
        n_specific: int,
        n_shared: int,
        hidden: tuple[int, ...],
        dropout: float,
        with_shared_gate: bool,
    ) -> None:
        super().__init__()
        self.n_tasks = n_tasks
        self.specific = nn.ModuleList(
            nn.ModuleList(mlp(input_dim, hidden, dropout) for _ in range(n_specific))
            for _ in range(n_tasks)
        )
        self.shared = nn.ModuleList(mlp(input_dim, hidden, dropout) for _ in range(n_shared))
        self.task_gates = nn.ModuleList(
            nn.Linear(input_dim, n_specific + n_shared) for _ in range(n_tasks)
        )
        n_all = n_tasks * n_specific + n_shared
        self.shared_gate = nn.Linear(input_dim, n_all) if with_shared_gate else None

    def forward(
        self, task_inputs: list[torch.Tensor], shared_input: torch.Tensor
    ) -> tuple[list[torch.Tensor], torch.Tensor | None]:
        shared_out = [expert(shared_input) for expert in self.shared]
        outputs, every = [], []
        for t in range(self.n_tasks):
            own = [expert(task_inputs[t]) for expert in cast(nn.ModuleList, self.specific[t])]
            every += own
            experts = torch.stack(own + shared_out, dim=1)
            weights = torch.softmax(self.task_gates[t](task_inputs[t]), dim=-1)
            outputs.append(torch.einsum("be,bew->bw", weights, experts))
        if self.shared_gate is None:
            return outputs, None
        experts = torch.stack(every + shared_out, dim=1)
        weights = torch.softmax(self.shared_gate(shared_input), dim=-1)
        return outputs, torch.einsum("be,bew->bw", weights, experts)


class PLE(nn.Module):
    """PLE trunk: stacked CGC levels separating task-specific and shared experts.

    ``levels=1`` is CGC (Customized Gate Control). Each task's gate mixes its own experts with the
    shared ones, which limits the "seesaw" where one task's gain is another's loss.

    Parameters
    ----------
    input_dim
        Width of the preprocessed input.
    n_tasks
        Number of task heads.
    levels
        Number of extraction levels (1 = CGC).
    n_specific
        Task-specific experts per task and level.
    n_shared
        Shared experts per level.
    expert_hidden
        Widths of each expert MLP; the last one is the representation width.
    dropout
        Dropout inside the experts.

    Examples
    --------
    >>> trunk = PLE(input_dim=5, n_tasks=2, levels=2, expert_hidden=(8,))
    >>> [r.shape for r in trunk(torch.zeros(3, 5))]
    [torch.Size([3, 8]), torch.Size([3, 8])]
    """

    def __init__(
        self,
        input_dim: int,
        n_tasks: int,
        levels: int = 2,
        n_specific: int = 1,
        n_shared: int = 2,
        expert_hidden: tuple[int, ...] = (32,),
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if levels < 1 or n_specific < 0 or n_shared < 0 or n_specific + n_shared < 1:
            raise ValueError("PLE needs levels >= 1 and at least one expert per gate")
        self.input_dim = input_dim
        self.n_tasks = n_tasks
        self.levels = levels
        self.n_specific = n_specific
        self.n_shared = n_shared
        self.expert_hidden = tuple(expert_hidden)
        self.dropout = dropout
        width = self.expert_hidden[-1]
        self.extraction = nn.ModuleList(
            _ExtractionLevel(
                input_dim if level == 0 else width,
                n_tasks,
                n_specific,
                n_shared,
                self.expert_hidden,
                dropout,
                with_shared_gate=level < levels - 1,
            )
            for level in range(levels)
        )

    @property
    def output_dim(self) -> int:
        """Width of each task's representation."""
        return self.expert_hidden[-1]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """One representation per task after the last extraction level."""
        task_inputs, shared = [x] * self.n_tasks, x
        for level in self.extraction:
            task_inputs, next_shared = level(task_inputs, shared)
            shared = next_shared if next_shared is not None else shared
        return task_inputs
