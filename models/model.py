"""The multi-task model: preprocessing → trunk → one head per task."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from models.architectures import build_trunk
from models.heads import TaskHead, build_head
from models.heads.regression import RegressionHead
from models.preprocessing import Preprocessor
from models.specs import FeatureSchema, TaskSpec

__all__ = ["MultiTaskModel", "build_model"]

DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "shared_bottom": {"hidden": (64, 32)},
    "mmoe": {"n_experts": 4, "expert_hidden": (32,)},
    "ple": {"levels": 2, "n_specific": 1, "n_shared": 2, "expert_hidden": (32,)},
}


class MultiTaskModel(nn.Module):
    """Preprocessor, trunk and heads of one multi-task model.

    The *shared* parameters (those every task's gradient flows through) are the preprocessor's
    embeddings and the trunk; each head's tower and output layer belong to its task only.
    Build one with :func:`build_model`.

    Parameters
    ----------
    tasks
        Task specs, in head order.
    preprocessor
        Fitted input preprocessing.
    architecture
        ``shared_bottom``, ``mmoe`` or ``ple``.
    architecture_params
        Keyword arguments of the trunk class.
    tower
        Hidden widths of each head's tower.

    Examples
    --------
    >>> frame = pd.DataFrame({"x": [0.0, 1.0, 2.0], "a": [0, 1, 1], "b": [0.5, 1.5, 2.5]})
    >>> tasks = [TaskSpec("a", "binary"), TaskSpec("b", "regression")]
    >>> model = build_model(tasks, FeatureSchema.of(numeric=["x"]), frame, architecture="ple")
    >>> sorted(model.predict(frame))
    ['a', 'b']
    """

    def __init__(
        self,
        tasks: Sequence[TaskSpec],
        preprocessor: Preprocessor,
        architecture: str = "mmoe",
        architecture_params: dict[str, Any] | None = None,
        tower: Sequence[int] = (16,),
    ) -> None:
        super().__init__()
        if not tasks:
            raise ValueError("a model needs at least one task")
        names = [t.name for t in tasks]
        if len(set(names)) != len(names):
            raise ValueError(f"task names must be unique: {names}")
        self.tasks = list(tasks)
        self.architecture = architecture
        params = dict(DEFAULT_PARAMS.get(architecture, {}))
        params.update(architecture_params or {})
        self.architecture_params = params
        self.tower = tuple(tower)
        self.preprocessor = preprocessor
        self.trunk = build_trunk(architecture, preprocessor.output_dim, len(tasks), **params)
        width = int(self.trunk.output_dim)  # type: ignore[arg-type]
        self.heads = nn.ModuleDict({t.name: build_head(t, width, self.tower) for t in tasks})

    @property
    def task_names(self) -> list[str]:
        """Task names in head order."""
        return [t.name for t in self.tasks]

    def head(self, task: str) -> TaskHead:
        """The head of one task."""
        head = self.heads[task]
        assert isinstance(head, TaskHead)
        return head

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> list[torch.Tensor]:
        """Raw outputs of every head, in task order."""
        representations = self.trunk(self.preprocessor(x_num, x_cat))
        return [self.heads[t.name](r) for t, r in zip(self.tasks, representations, strict=True)]

    def shared_parameters(self) -> list[nn.Parameter]:
        """Parameters every task shares (preprocessor embeddings + trunk), trainable or not."""
        return list(self.preprocessor.parameters()) + list(self.trunk.parameters())

    @torch.no_grad()
    def predict(self, frame: pd.DataFrame, batch_size: int = 4096) -> dict[str, np.ndarray]:
        """Predictions per task: probabilities (binary/multiclass), values, or scores."""
        was_training = self.training
        self.eval()
        device = next(self.parameters()).device
        x_num, x_cat = self.preprocessor.encode(frame)
        chunks: dict[str, list[np.ndarray]] = {t: [] for t in self.task_names}
        for start in range(0, len(frame), batch_size):
            outputs = self(
                x_num[start : start + batch_size].to(device),
                x_cat[start : start + batch_size].to(device),
            )
            for task, output in zip(self.task_names, outputs, strict=True):
                chunks[task].append(self.head(task).predict(output))
        self.train(was_training)
        empty = {
            t.name: np.zeros((0, t.n_outputs) if t.type == "multiclass" else 0) for t in self.tasks
        }
        return {t: np.concatenate(c) if c else empty[t] for t, c in chunks.items()}

    def config(self) -> dict[str, Any]:
        """JSON-ready description of everything needed to rebuild the modules."""
        return {
            "architecture": self.architecture,
            "architecture_params": {
                k: list(v) if isinstance(v, tuple) else v
                for k, v in self.architecture_params.items()
            },
            "tower": list(self.tower),
            "tasks": [t.to_dict() for t in self.tasks],
            "preprocessing": self.preprocessor.config(),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> MultiTaskModel:
        """Rebuild an untrained model with the shapes of :meth:`config` (then load weights)."""
        return cls(
            [TaskSpec.from_dict(t) for t in config["tasks"]],
            Preprocessor.from_config(config["preprocessing"]),
            config["architecture"],
            config["architecture_params"],
            config["tower"],
        )


def build_model(
    tasks: Sequence[TaskSpec],
    schema: FeatureSchema,
    train_frame: pd.DataFrame,
    architecture: str = "mmoe",
    architecture_params: dict[str, Any] | None = None,
    tower: Sequence[int] = (16,),
    seed: int = 0,
) -> MultiTaskModel:
    """Fit the preprocessing on ``train_frame`` and build a seeded, untrained model.

    Regression heads also learn their label mean and scale from ``train_frame``.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        preprocessor = Preprocessor.fit(schema, train_frame)
        model = MultiTaskModel(tasks, preprocessor, architecture, architecture_params, tower)
    for spec in tasks:
        head = model.head(spec.name)
        if isinstance(head, RegressionHead) and spec.name in train_frame:
            target, mask = head.encode_labels(train_frame[spec.name])
            head.fit_target_scale(target, mask)
    return model
