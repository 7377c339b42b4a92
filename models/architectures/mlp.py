"""The small building block every architecture uses: Linear → ReLU (→ Dropout), repeated."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

__all__ = ["mlp"]


def mlp(input_dim: int, hidden: Sequence[int], dropout: float = 0.0) -> nn.Sequential:
    """A ReLU MLP with the given hidden widths (its output width is ``hidden[-1]``).

    >>> mlp(4, [8, 3])(__import__("torch").zeros(2, 4)).shape
    torch.Size([2, 3])
    """
    layers: list[nn.Module] = []
    width = input_dim
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = size
    return nn.Sequential(*layers)
