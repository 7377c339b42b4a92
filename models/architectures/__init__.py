"""Trunks for tabular multi-task models: shared-bottom, MMoE, PLE/CGC.

Every trunk maps the preprocessed input ``(rows, input_dim)`` to a list with one representation
``(rows, output_dim)`` per task.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from models.architectures.mmoe import MMoE
from models.architectures.ple import PLE
from models.architectures.shared_bottom import SharedBottom

__all__ = ["ARCHITECTURES", "PLE", "MMoE", "SharedBottom", "build_trunk"]

ARCHITECTURES: dict[str, type[nn.Module]] = {
    "shared_bottom": SharedBottom,
    "mmoe": MMoE,
    "ple": PLE,
}


def build_trunk(architecture: str, input_dim: int, n_tasks: int, **params: Any) -> nn.Module:
    """Instantiate a trunk by name (``shared_bottom``, ``mmoe``, ``ple``).

    >>> build_trunk("mmoe", 4, 2, n_experts=3).n_experts
    3
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(
            f"unknown architecture {architecture!r}; use one of {sorted(ARCHITECTURES)}"
        )
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
    return ARCHITECTURES[architecture](input_dim=input_dim, n_tasks=n_tasks, **params)
