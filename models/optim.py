"""The optimiser of a training run: ``torch.optim``'s Adam or AdamW.

Earlier versions carried a hand-written Adam to avoid the cost of constructing a ``torch.optim``
optimiser (it imports ``torch._dynamo``: about 2 s of CPU once per process on a loaded 2-core
machine, torch 2.15). That Adam was no ``torch.optim.Optimizer``, so ``GradScaler.step`` refused
it and float16 mixed precision could not train; the one-off import is cheaper than that.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import torch

__all__ = ["OPTIMIZERS", "OptimizerName", "build_optimizer"]

OptimizerName = Literal["adam", "adamw"]
OPTIMIZERS: tuple[OptimizerName, ...] = ("adam", "adamw")


def build_optimizer(
    params: Iterable[torch.nn.Parameter],
    name: OptimizerName = "adam",
    lr: float = 1e-3,
    weight_decay: float = 0.0,
) -> torch.optim.Optimizer:
    """``torch.optim.Adam`` (``weight_decay`` an L2 penalty added to the gradient) or
    ``torch.optim.AdamW`` (decoupled weight decay) over ``params``.

    Examples
    --------
    >>> w = torch.nn.Parameter(torch.tensor([1.0]))
    >>> opt = build_optimizer([w], "adam", lr=0.1)
    >>> (w**2).sum().backward()
    >>> opt.step()
    >>> round(w.item(), 4)
    0.9
    >>> type(build_optimizer([w], "adamw", weight_decay=0.01)).__name__
    'AdamW'
    """
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"optimizer must be one of {list(OPTIMIZERS)}, not {name!r}")
