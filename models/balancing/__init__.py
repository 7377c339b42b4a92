"""Loss balancing for multi-task training: equal, uncertainty, GradNorm, PCGrad."""

from __future__ import annotations

from models.balancing.base import LossBalancer
from models.balancing.equal import EqualWeighting
from models.balancing.gradnorm import GradNorm
from models.balancing.pcgrad import PCGrad
from models.balancing.uncertainty import UncertaintyWeighting

__all__ = [
    "BALANCERS",
    "EqualWeighting",
    "GradNorm",
    "LossBalancer",
    "PCGrad",
    "UncertaintyWeighting",
    "build_balancer",
]

BALANCERS = ("equal", "uncertainty", "gradnorm", "pcgrad")


def build_balancer(
    name: str, n_tasks: int, seed: int = 0, gradnorm_alpha: float = 1.5, gradnorm_lr: float = 0.025
) -> LossBalancer:
    """A balancer by name.

    >>> type(build_balancer("pcgrad", 3)).__name__
    'PCGrad'
    """
    if name == "equal":
        return EqualWeighting(n_tasks)
    if name == "uncertainty":
        return UncertaintyWeighting(n_tasks)
    if name == "gradnorm":
        return GradNorm(n_tasks, alpha=gradnorm_alpha, lr=gradnorm_lr)
    if name == "pcgrad":
        return PCGrad(n_tasks, seed=seed)
    raise ValueError(f"unknown loss balancing {name!r}; use one of {list(BALANCERS)}")
