"""Multi-task training: masked losses, loss balancing, per-task early stopping, mixed precision.

The same code runs on CPU and CUDA (``device="auto"`` picks CUDA when present). Mixed precision
(``amp``) is on by default on CUDA only: bfloat16 when supported, else float16 with a gradient
scaler; ``amp="bfloat16"``/``"float16"`` turn it on for any device. On CPU a run is deterministic
for a given seed.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
import torch

from models.balancing import BALANCERS, LossBalancer, build_balancer
from models.data import BatchMode, EncodedData, encode_frame, epoch_batches, split_frame
from models.evaluation import evaluate_encoded
from models.metrics import higher_is_better
from models.model import MultiTaskModel, build_model
from models.optim import OPTIMIZERS, OptimizerName, build_optimizer
from models.specs import FeatureSchema, TaskSpec
from models.step import AMP_MODES, AmpMode, TrainingStep

if TYPE_CHECKING:
    from driftline.config.models import RetrainerConfig

from models.history import EpochLog, TrainResult

__all__ = ["TrainConfig", "resolve_device", "train"]

logger = logging.getLogger("models.training")


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one training run (defaults suit small tabular problems).

    ``cpu_threads`` (default 1; 0 = torch's default) sets torch's intra-op threads (process-wide) for a CPU
    run: small tabular batches train about 10x faster single-threaded on a busy 2-core machine
    than with OpenMP threads spinning against each other (measured with torch 2.15).

    ``optimizer``: ``adam`` (``weight_decay`` as an L2 penalty) or ``adamw`` (decoupled weight
    decay), both from ``torch.optim``. ``amp``: mixed precision, ``auto`` (on CUDA only),
    ``off``, ``bfloat16`` or ``float16`` (any device; float16 with a gradient scaler).

    Examples
    --------
    >>> TrainConfig(architecture="ple", epochs=3).loss_balancing
    'uncertainty'
    """

    architecture: str = "mmoe"
    architecture_params: dict[str, Any] = field(default_factory=dict)
    tower: tuple[int, ...] = (16,)
    loss_balancing: str = "uncertainty"
    epochs: int = 20
    batch_size: int = 512
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    optimizer: OptimizerName = "adam"
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    patience: int = 5
    min_delta: float = 0.0
    batching: Literal["auto", "uniform", "balanced"] = "auto"
    balance_ratio: float = 10.0
    validation_fraction: float = 0.2
    group_column: str = "group"
    gradnorm_alpha: float = 1.5
    gradnorm_lr: float = 0.025
    conflict_batches: int = 2
    amp: AmpMode = "auto"
    restore_best: bool = True
    cpu_threads: int = 1

    def __post_init__(self) -> None:
        if self.loss_balancing not in BALANCERS:
            raise ValueError(f"loss_balancing must be one of {list(BALANCERS)}")
        if self.epochs < 1 or self.batch_size < 1 or self.learning_rate <= 0 or self.patience < 1:
            raise ValueError("epochs, batch_size, patience must be >= 1 and learning_rate > 0")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {list(OPTIMIZERS)}")
        if self.amp not in AMP_MODES:
            raise ValueError(f"amp must be one of {list(AMP_MODES)}")
        if self.weight_decay < 0:
            raise ValueError("weight_decay must be >= 0")

    @classmethod
    def from_retrainer_config(cls, config: RetrainerConfig, **overrides: Any) -> TrainConfig:
        """The training settings of a ``retrainer:`` config section (plus overrides)."""
        values: dict[str, Any] = {
            "architecture": config.architecture,
            "loss_balancing": config.loss_balancing,
            "epochs": config.epochs,
            "batch_size": config.batch_size,
            "learning_rate": config.learning_rate,
            "seed": config.seed,
            "device": config.device,
            "validation_fraction": config.holdout_fraction,
        }
        optional = ("patience", "architecture_params", "tower", "weight_decay", "batching")
        for name in (*optional, "optimizer", "amp"):
            if hasattr(config, name):
                value = getattr(config, name)
                values[name] = tuple(value) if name == "tower" else value
        values.update(overrides)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored in the manifest)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items()}


def resolve_device(device: str) -> torch.device:
    """``auto`` → CUDA when available, else CPU; ``cuda`` without a GPU is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device='cuda' but no CUDA device is available; use 'auto' or 'cpu'")
    return torch.device(device)


def train(
    train_frame: pd.DataFrame,
    tasks: Sequence[TaskSpec] | None = None,
    schema: FeatureSchema | None = None,
    config: TrainConfig | None = None,
    validation_frame: pd.DataFrame | None = None,
    init_model: MultiTaskModel | None = None,
    freeze_trunk: bool = False,
    train_tasks: Sequence[str] | None = None,
) -> TrainResult:
    """Train a multi-task model on a DataFrame (feature columns + one label column per task).

    Parameters
    ----------
    train_frame
        Feature columns of ``schema`` and one label column per task (NaN = no label for that
        task on that row; it contributes nothing to the loss). Ranking tasks need a ``group``.
    tasks, schema
        What to predict and from what; taken from ``init_model`` when fine-tuning.
    config
        Hyper-parameters (:class:`TrainConfig`).
    validation_frame
        Rows for early stopping; default: a seeded ``validation_fraction`` of ``train_frame``.
    init_model
        Start from this model (it is copied, never modified); its preprocessing is kept.
    freeze_trunk
        Train heads only (preprocessing and trunk frozen) — head-only fine-tuning.
    train_tasks
        Only these tasks' losses and heads train; the other heads stay as they are.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> frame = pd.DataFrame({"x": rng.normal(size=200)})
    >>> frame["pos"] = (frame["x"] > 0).astype(float)
    >>> frame["val"] = 2 * frame["x"]
    >>> tasks = [TaskSpec("pos", "binary"), TaskSpec("val", "regression")]
    >>> result = train(frame, tasks, FeatureSchema.of(numeric=["x"]),
    ...                TrainConfig(epochs=2, batch_size=64, device="cpu"))
    >>> len(result.history), sorted(result.history[-1].train_loss)
    (2, ['pos', 'val'])
    """
    config = config or TrainConfig()
    device = resolve_device(config.device)
    if validation_frame is None:
        group = config.group_column if config.group_column in train_frame.columns else None
        train_frame, validation_frame = split_frame(
            train_frame, config.validation_fraction, config.seed, group
        )
    if device.type == "cpu" and 0 < config.cpu_threads != torch.get_num_threads():
        torch.set_num_threads(config.cpu_threads)  # process-wide; switching back and forth is slow
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = _initial_model(train_frame, tasks, schema, config, init_model)
        return _Run(model, config, device, freeze_trunk, train_tasks).fit(
            train_frame, validation_frame
        )


def _initial_model(
    frame: pd.DataFrame,
    tasks: Sequence[TaskSpec] | None,
    schema: FeatureSchema | None,
    config: TrainConfig,
    init_model: MultiTaskModel | None,
) -> MultiTaskModel:
    if init_model is not None:
        if tasks is not None and [t.name for t in tasks] != init_model.task_names:
            raise ValueError(
                f"fine-tuning keeps the parent's tasks {init_model.task_names}; got "
                f"{[t.name for t in tasks]}"
            )
        model = copy.deepcopy(init_model).cpu()
        model.train()
        return model
    if tasks is None or schema is None:
        raise ValueError("train() needs tasks and schema (or init_model)")
    return build_model(
        tasks,
        schema,
        frame,
        config.architecture,
        config.architecture_params,
        config.tower,
        config.seed,
    )


class _Run:
    """One training run: state that lives for the duration of :func:`train`."""

    def __init__(
        self,
        model: MultiTaskModel,
        config: TrainConfig,
        device: torch.device,
        freeze_trunk: bool,
        train_tasks: Sequence[str] | None,
    ) -> None:
        self.model = model.to(device)
        self.config = config
        self.device = device
        names = model.task_names
        unknown = sorted(set(train_tasks or ()) - set(names))
        if unknown:
            raise ValueError(f"train_tasks {unknown} are not tasks of the model {names}")
        self.trainable = torch.tensor(
            [train_tasks is None or n in train_tasks for n in names], device=device
        )
        if freeze_trunk:
            for p in model.shared_parameters():
                p.requires_grad_(False)
        for name, trainable in zip(names, self.trainable.tolist(), strict=True):
            if not trainable:
                model.heads[name].requires_grad_(False)
        self.balancer: LossBalancer = build_balancer(
            config.loss_balancing,
            len(names),
            config.seed,
            config.gradnorm_alpha,
            config.gradnorm_lr,
        ).to(device)

    def _batch_mode(self, data: EncodedData) -> BatchMode:
        if any(t.type == "ranking" for t in self.model.tasks):
            return "group"
        if self.config.batching != "auto":
            return self.config.batching
        counts = [
            c
            for c, on in zip(data.label_counts(), self.trainable.tolist(), strict=True)
            if on and c
        ]
        if len(counts) > 1 and max(counts) / min(counts) > self.config.balance_ratio:
            return "balanced"
        return "uniform"

    def fit(self, train_frame: pd.DataFrame, validation_frame: pd.DataFrame) -> TrainResult:
        model, config, names = self.model, self.config, self.model.task_names
        data = encode_frame(model, train_frame, config.group_column).to(self.device)
        val = encode_frame(model, validation_frame, config.group_column).to(self.device)
        params = [p for p in model.parameters() if p.requires_grad] + list(
            self.balancer.parameters()
        )
        optimizer = build_optimizer(
            params, config.optimizer, config.learning_rate, config.weight_decay
        )
        step = TrainingStep(model, self.balancer, optimizer, self.device, config.amp)
        mode = self._batch_mode(data)
        generator = torch.Generator().manual_seed(config.seed)
        early = _EarlyStopping(model.tasks, config.patience, config.min_delta)
        history: list[EpochLog] = []
        best: tuple[float, int, dict[str, Any], dict[str, dict[str, float]]] = (
            -math.inf,
            0,
            copy.deepcopy(model.state_dict()),
            {},
        )
        logger.info(
            "training %s/%s on %s: %d rows (%s batching), labels per task %s",
            config.architecture,
            config.loss_balancing,
            self.device,
            len(data),
            mode,
            dict(zip(names, data.label_counts(), strict=True)),
        )
        for epoch in range(1, config.epochs + 1):
            started = time.perf_counter()
            active = self.trainable & early.active.to(self.device)
            trainable_idx = active.nonzero().flatten().tolist()
            step.start_epoch()
            for i, index in enumerate(
                epoch_batches(data, config.batch_size, generator, mode, trainable_idx)
            ):
                step.run(
                    data.rows(index.to(self.device)),
                    active,
                    want_conflict=i < config.conflict_batches,
                )
            metrics = evaluate_encoded(model, val)
            seconds = time.perf_counter() - started
            log = EpochLog(
                epoch=epoch,
                seconds=seconds,
                train_loss=dict(zip(names, step.mean_losses(), strict=True)),
                val_metrics=metrics,
                loss_weights=dict(zip(names, self.balancer.loss_weights(), strict=True)),
                gradient_conflict=step.mean_conflict(names),
                active_tasks=[n for n, on in zip(names, active.tolist(), strict=True) if on],
            )
            history.append(log)
            logger.info("epoch %d %.2fs %s", epoch, seconds, _summary(log, model.tasks))
            score = early.update(epoch, metrics)
            if score > best[0]:
                best = (score, epoch, copy.deepcopy(model.state_dict()), metrics)
            if not bool((self.trainable & early.active.to(self.device)).any()):
                logger.info("every task stopped early at epoch %d", epoch)
                break
        if config.restore_best:
            model.load_state_dict(best[2])
        model.eval()
        best_epoch = best[1] if config.restore_best else len(history)
        final_metrics = best[3] if config.restore_best else history[-1].val_metrics
        for p in model.parameters():
            p.requires_grad_(True)
        return TrainResult(
            model=model,
            config=config,
            history=history,
            best_epoch=best_epoch,
            stopped_at=dict(early.stopped_at),
            balancer=self.balancer,
            row_counts={
                "train": len(data),
                "validation": len(val),
                "train_labels": dict(zip(names, data.label_counts(), strict=True)),
                "validation_labels": dict(zip(names, val.label_counts(), strict=True)),
            },
            device=str(self.device),
            val_metrics=final_metrics,
        )


def _summary(log: EpochLog, tasks: Sequence[TaskSpec]) -> str:
    parts = []
    for spec in tasks:
        value = log.val_metrics.get(spec.name, {}).get(spec.primary_metric, float("nan"))
        parts.append(
            f"{spec.name}: loss={log.train_loss[spec.name]:.4f} "
            f"{spec.primary_metric}={value:.4f} w={log.loss_weights[spec.name]:.3f}"
        )
    conflict = " ".join(f"cos[{k}]={v:+.2f}" for k, v in log.gradient_conflict.items())
    return "; ".join(parts) + (f"; {conflict}" if conflict else "")


class _EarlyStopping:
    """Per-task patience on the primary validation metric; scores epochs for "restore best"."""

    def __init__(self, tasks: Sequence[TaskSpec], patience: int, min_delta: float) -> None:
        self.tasks = list(tasks)
        self.patience = patience
        self.min_delta = min_delta
        self.active = torch.ones(len(tasks), dtype=torch.bool)
        self.best: list[float | None] = [None] * len(tasks)
        self.reference: list[float | None] = [None] * len(tasks)
        self.bad_epochs = [0] * len(tasks)
        self.stopped_at: dict[str, int | None] = {t.name: None for t in tasks}

    def update(self, epoch: int, metrics: dict[str, dict[str, float]]) -> float:
        """Record an epoch; return its score (mean signed relative change vs. the first epoch)."""
        changes = []
        for t, spec in enumerate(self.tasks):
            value = metrics.get(spec.name, {}).get(spec.primary_metric, float("nan"))
            if not math.isfinite(value):
                continue
            sign = 1.0 if higher_is_better(spec.primary_metric) else -1.0
            reference = self.reference[t]
            if reference is None:
                reference = self.reference[t] = value
            changes.append(sign * (value - reference) / max(abs(reference), 1e-12))
            if not bool(self.active[t]):
                continue
            best = self.best[t]
            if best is None or sign * (value - best) > self.min_delta:
                self.best[t], self.bad_epochs[t] = value, 0
            else:
                self.bad_epochs[t] += 1
                if self.bad_epochs[t] >= self.patience:
                    self.active[t] = False
                    self.stopped_at[spec.name] = epoch
        return sum(changes) / len(changes) if changes else float(epoch)
