"""Task heads, one per task type: binary, multiclass, regression, ranking."""

from __future__ import annotations

from collections.abc import Sequence

from models.heads.base import TaskHead, masked_mean
from models.heads.binary import BinaryHead
from models.heads.multiclass import MulticlassHead
from models.heads.ranking import RankingHead
from models.heads.regression import RegressionHead
from models.specs import TaskSpec

__all__ = [
    "BinaryHead",
    "MulticlassHead",
    "RankingHead",
    "RegressionHead",
    "TaskHead",
    "build_head",
    "masked_mean",
]

HEADS: dict[str, type[TaskHead]] = {
    "binary": BinaryHead,
    "multiclass": MulticlassHead,
    "regression": RegressionHead,
    "ranking": RankingHead,
}


def build_head(spec: TaskSpec, input_dim: int, tower: Sequence[int] = (16,)) -> TaskHead:
    """The head class for ``spec.type``.

    >>> type(build_head(TaskSpec("y", "regression"), 8)).__name__
    'RegressionHead'
    """
    return HEADS[spec.type](spec, input_dim, tower)
