"""What every task head does: a small tower, a masked loss, label encoding and predictions."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from models.architectures.mlp import mlp
from models.specs import TaskSpec

__all__ = ["TaskHead", "masked_mean"]


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` over ``mask``; masked entries contribute exactly 0 (value and gradient).

    ``torch.where`` (not multiplication) selects, so a NaN or inf in a masked entry cannot leak.

    >>> masked_mean(torch.tensor([1.0, float("nan"), 3.0]), torch.tensor([True, False, True]))
    tensor(2.)
    """
    kept = torch.where(mask, values, torch.zeros_like(values))
    return kept.sum() / mask.sum().clamp(min=1)


class TaskHead(nn.Module):
    """Base class of the heads: ``tower`` MLP then an output layer of ``spec.n_outputs`` units."""

    def __init__(self, spec: TaskSpec, input_dim: int, tower: Sequence[int] = (16,)) -> None:
        super().__init__()
        self.spec = spec
        self.input_dim = input_dim
        self.tower_dims = tuple(tower)
        self.tower = mlp(input_dim, self.tower_dims)
        width = self.tower_dims[-1] if self.tower_dims else input_dim
        self.output = nn.Linear(width, spec.n_outputs)

    def forward(self, representation: torch.Tensor) -> torch.Tensor:
        """Raw outputs (logits or values), shape ``(rows, n_outputs)``."""
        output: torch.Tensor = self.output(self.tower(representation))
        return output

    def encode_labels(self, labels: pd.Series) -> tuple[torch.Tensor, torch.Tensor]:
        """Labels as float32 (0 where missing) and the mask of present labels."""
        values = pd.to_numeric(labels, errors="coerce").to_numpy(dtype=np.float64)
        self._check_present(labels, values)
        mask = ~np.isnan(values)
        return (
            torch.from_numpy(np.where(mask, values, 0.0).astype(np.float32)),
            torch.from_numpy(mask),
        )

    def _check_present(self, labels: pd.Series, values: np.ndarray) -> None:
        bad = labels.notna().to_numpy() & np.isnan(values)
        if bad.any():
            first = labels[bad].iloc[0]
            from models.errors import SchemaError

            raise SchemaError(
                f"task {self.spec.name!r}: label {first!r} is not a number; "
                "use NaN for a missing label"
            )

    @abstractmethod
    def loss(
        self, output: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, group: torch.Tensor
    ) -> torch.Tensor:
        """Mean loss over labelled rows (exactly 0 with no gradient when none is labelled)."""

    @abstractmethod
    def predict(self, output: torch.Tensor) -> np.ndarray:
        """Predictions from raw outputs (probabilities, values or scores)."""
