"""What a model predicts (:class:`TaskSpec`) and what it reads (:class:`FeatureSchema`).

These are plain frozen dataclasses so that :mod:`models` depends on neither Kafka nor the YAML
layer; :func:`task_specs_from_config` and :func:`feature_schema_from_config` translate a
:class:`driftline.config.DriftlineConfig`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from models.errors import SchemaError

if TYPE_CHECKING:
    from driftline.config import DriftlineConfig

__all__ = [
    "METRICS",
    "PRIMARY_METRIC",
    "FeatureColumn",
    "FeatureSchema",
    "TaskSpec",
    "feature_schema_from_config",
    "task_specs_from_config",
]

TaskKind = Literal["binary", "multiclass", "regression", "ranking"]
FeatureKind = Literal["numeric", "categorical"]

METRICS: dict[str, tuple[str, ...]] = {
    "binary": ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"),
    "multiclass": ("accuracy", "macro_f1"),
    "regression": ("mae", "rmse", "r2"),
    "ranking": ("ndcg", "mrr"),
}
"""Metric names per task type; the same names the monitor uses (``driftline.config``)."""

PRIMARY_METRIC = {
    "binary": "roc_auc",
    "multiclass": "accuracy",
    "regression": "mae",
    "ranking": "ndcg",
}
LOWER_IS_BETTER = frozenset({"log_loss", "mae", "rmse"})


@dataclass(frozen=True)
class TaskSpec:
    """One head: its name (= the label column), type and, for multiclass, its classes.

    Parameters
    ----------
    name
        Task name; the training DataFrame has a label column of that name (NaN = no label).
    type
        ``binary`` (labels 0/1), ``multiclass`` (labels are class names or indices),
        ``regression`` (float) or ``ranking`` (graded relevance; rows carry a ``group`` id).
    classes
        Class names of a multiclass task, in output order.
    primary_metric
        The metric early stopping and the promotion gate look at (default per type).
    ranking_k
        Cut-off of ``ndcg`` for ranking tasks.
    ranking_loss
        ``pairwise`` (RankNet) or ``listwise`` (ListNet) for ranking tasks.

    Examples
    --------
    >>> TaskSpec("churn", "binary").primary_metric
    'roc_auc'
    >>> TaskSpec("category", "multiclass", classes=("a", "b", "c")).n_outputs
    3
    """

    name: str
    type: TaskKind
    classes: tuple[str, ...] | None = None
    primary_metric: str = ""
    ranking_k: int = 10
    ranking_loss: Literal["pairwise", "listwise"] = "pairwise"

    def __post_init__(self) -> None:
        if self.type not in METRICS:
            raise ValueError(f"task {self.name!r}: type must be one of {sorted(METRICS)}")
        if self.type == "multiclass" and (not self.classes or len(self.classes) < 2):
            raise ValueError(f"task {self.name!r}: a multiclass task needs at least two classes")
        if self.classes is not None:
            object.__setattr__(self, "classes", tuple(str(c) for c in self.classes))
        if not self.primary_metric:
            object.__setattr__(self, "primary_metric", PRIMARY_METRIC[self.type])
        if self.primary_metric not in METRICS[self.type]:
            raise ValueError(
                f"task {self.name!r}: primary_metric {self.primary_metric!r} is not one of "
                f"{list(METRICS[self.type])}"
            )

    @property
    def n_outputs(self) -> int:
        """Width of the head's output layer."""
        return len(self.classes) if self.type == "multiclass" and self.classes else 1

    @property
    def metrics(self) -> tuple[str, ...]:
        """Metric names evaluated for this task."""
        return METRICS[self.type]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored in the manifest)."""
        return {
            "name": self.name,
            "type": self.type,
            "classes": list(self.classes) if self.classes else None,
            "primary_metric": self.primary_metric,
            "ranking_k": self.ranking_k,
            "ranking_loss": self.ranking_loss,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskSpec:
        """Inverse of :meth:`to_dict`."""
        classes = data.get("classes")
        return cls(
            name=data["name"],
            type=data["type"],
            classes=tuple(classes) if classes else None,
            primary_metric=data.get("primary_metric", ""),
            ranking_k=int(data.get("ranking_k", 10)),
            ranking_loss=data.get("ranking_loss", "pairwise"),
        )


@dataclass(frozen=True)
class FeatureColumn:
    """One input column: ``numeric`` (standardised) or ``categorical`` (embedded)."""

    name: str
    kind: FeatureKind = "numeric"


@dataclass(frozen=True)
class FeatureSchema:
    """The input columns of a model, in order.

    Examples
    --------
    >>> schema = FeatureSchema.of(numeric=["tenure"], categorical=["country"])
    >>> [c.name for c in schema.columns], schema.categorical
    (['tenure', 'country'], ('country',))
    """

    columns: tuple[FeatureColumn, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"feature schema names a column twice: {names}")
        if not names:
            raise ValueError("a feature schema needs at least one column")

    @classmethod
    def of(cls, numeric: Iterable[str] = (), categorical: Iterable[str] = ()) -> FeatureSchema:
        """Build a schema from lists of numeric and categorical column names."""
        cols = [FeatureColumn(n, "numeric") for n in numeric]
        cols += [FeatureColumn(n, "categorical") for n in categorical]
        return cls(tuple(cols))

    @classmethod
    def infer(cls, frame: pd.DataFrame, exclude: Iterable[str] = ()) -> FeatureSchema:
        """Numeric dtypes (and bool) become numeric columns, everything else categorical."""
        skip = set(exclude)
        cols = []
        for name in frame.columns:
            if name in skip:
                continue
            numeric = pd.api.types.is_numeric_dtype(frame[name]) or pd.api.types.is_bool_dtype(
                frame[name]
            )
            cols.append(FeatureColumn(str(name), "numeric" if numeric else "categorical"))
        return cls(tuple(cols))

    @property
    def numeric(self) -> tuple[str, ...]:
        """Names of the numeric columns, in order."""
        return tuple(c.name for c in self.columns if c.kind == "numeric")

    @property
    def categorical(self) -> tuple[str, ...]:
        """Names of the categorical columns, in order."""
        return tuple(c.name for c in self.columns if c.kind == "categorical")

    def check(self, frame: pd.DataFrame, where: str = "data") -> None:
        """Raise :class:`SchemaError` naming every column the frame lacks."""
        missing = [c.name for c in self.columns if c.name not in frame.columns]
        if missing:
            raise SchemaError(f"{where}: feature columns missing: {missing}; the schema needs them")

    def to_dict(self) -> list[dict[str, str]]:
        """JSON-ready form."""
        return [{"name": c.name, "kind": c.kind} for c in self.columns]

    @classmethod
    def from_dict(cls, data: Iterable[Mapping[str, str]]) -> FeatureSchema:
        """Inverse of :meth:`to_dict`."""
        return cls(tuple(FeatureColumn(d["name"], d["kind"]) for d in data))  # type: ignore[arg-type]


def task_specs_from_config(config: DriftlineConfig) -> list[TaskSpec]:
    """One :class:`TaskSpec` per task of a driftline config, in config order."""
    return [
        TaskSpec(
            name=name,
            type=task.type,
            classes=tuple(task.classes) if task.classes else None,
            primary_metric=task.primary_metric or "",
            ranking_k=task.ranking_k,
        )
        for name, task in config.tasks.items()
    ]


def feature_schema_from_config(config: DriftlineConfig) -> FeatureSchema:
    """Shared features then task-specific ones; ``string`` features are categorical."""
    specs = list(config.features) + [f for t in config.tasks.values() for f in t.features]
    return FeatureSchema(
        tuple(
            FeatureColumn(f.name, "categorical" if f.dtype == "string" else "numeric")
            for f in specs
        )
    )
