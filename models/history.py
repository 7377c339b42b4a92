"""What training returns: the per-epoch log, the trained model and its loss-balancing state."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from models.balancing import LossBalancer
    from models.model import MultiTaskModel
    from models.training import TrainConfig

__all__ = ["EpochLog", "TrainResult"]


@dataclass
class EpochLog:
    """One epoch: per-task train loss and validation metrics, loss weights, gradient conflict.

    ``gradient_conflict`` maps ``"task_a|task_b"`` to the mean cosine similarity of the two tasks'
    gradients on the shared parameters (negative = conflict), measured on the epoch's first
    ``conflict_batches`` batches (every batch for GradNorm/PCGrad).
    """

    epoch: int
    seconds: float
    train_loss: dict[str, float]
    val_metrics: dict[str, dict[str, float]]
    loss_weights: dict[str, float]
    gradient_conflict: dict[str, float]
    active_tasks: list[str]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


@dataclass
class TrainResult:
    """A trained model and how it got there."""

    model: MultiTaskModel
    config: TrainConfig
    history: list[EpochLog]
    best_epoch: int
    stopped_at: dict[str, int | None]
    balancer: LossBalancer
    row_counts: dict[str, Any]
    device: str
    val_metrics: dict[str, dict[str, float]] = field(default_factory=dict)

    def loss_balancing_state(self) -> dict[str, Any]:
        """Method name and its state (weights, log-variances, ...) for the manifest."""
        names = self.model.task_names
        state = self.balancer.state()
        state = {
            k: dict(zip(names, v, strict=True))
            if isinstance(v, list) and len(v) == len(names)
            else v
            for k, v in state.items()
        }
        return {"method": self.config.loss_balancing, **state}

    def epoch_seconds(self) -> float:
        """Mean wall seconds per epoch."""
        return sum(e.seconds for e in self.history) / max(1, len(self.history))
