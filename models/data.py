"""DataFrames → tensors (features, labels, masks, groups) and the batch plans of one epoch."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import torch

from models.errors import SchemaError
from models.model import MultiTaskModel

__all__ = ["EncodedData", "encode_frame", "epoch_batches", "split_frame"]

BatchMode = Literal["uniform", "balanced", "group"]


@dataclass
class EncodedData:
    """Everything a training or evaluation pass needs, as tensors.

    ``targets`` and ``masks`` are ``(tasks, rows)``; a False mask entry means "no label" and the
    target there is 0 (never used: losses select with the mask).
    """

    x_num: torch.Tensor
    x_cat: torch.Tensor
    targets: torch.Tensor
    masks: torch.Tensor
    group: torch.Tensor

    def __len__(self) -> int:
        return int(self.x_num.shape[0])

    def to(self, device: torch.device | str) -> EncodedData:
        """A copy on ``device``."""
        return EncodedData(
            *(t.to(device) for t in (self.x_num, self.x_cat, self.targets, self.masks, self.group))
        )

    def rows(self, index: torch.Tensor) -> EncodedData:
        """The rows at ``index``."""
        return EncodedData(
            self.x_num[index],
            self.x_cat[index],
            self.targets[:, index],
            self.masks[:, index],
            self.group[index],
        )

    def label_counts(self) -> list[int]:
        """Labelled rows per task."""
        return [int(c) for c in self.masks.sum(dim=1).tolist()]


def encode_frame(
    model: MultiTaskModel, frame: pd.DataFrame, group_column: str = "group"
) -> EncodedData:
    """Encode features with the model's preprocessing and labels with its heads.

    A task whose label column is absent counts as unlabelled on every row. Ranking tasks need
    ``group_column`` (rows of one query share a group id).
    """
    x_num, x_cat = model.preprocessor.encode(frame)
    targets, masks = [], []
    for spec in model.tasks:
        if spec.name in frame.columns:
            target, mask = model.head(spec.name).encode_labels(frame[spec.name])
        else:
            target, mask = torch.zeros(len(frame)), torch.zeros(len(frame), dtype=torch.bool)
        targets.append(target)
        masks.append(mask)
    if any(t.type == "ranking" for t in model.tasks):
        if group_column not in frame.columns:
            raise SchemaError(
                f"ranking tasks need a {group_column!r} column (rows of one query share a group id)"
            )
        codes, _ = pd.factorize(frame[group_column], sort=True)
        group = torch.from_numpy(codes.astype(np.int64))
    else:
        group = torch.zeros(len(frame), dtype=torch.int64)
    return EncodedData(x_num, x_cat, torch.stack(targets), torch.stack(masks), group)


def split_frame(
    frame: pd.DataFrame, fraction: float, seed: int, group_column: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seeded split into (rest, holdout); whole groups go to one side when ``group_column`` is set.

    >>> a, b = split_frame(pd.DataFrame({"x": range(10)}), 0.2, seed=0)
    >>> len(a), len(b)
    (8, 2)
    """
    rng = np.random.default_rng(seed)
    if group_column and group_column in frame.columns:
        groups = frame[group_column].unique()
        held = set(rng.permutation(groups)[: max(1, round(len(groups) * fraction))].tolist())
        chosen = frame[group_column].isin(held).to_numpy()
    else:
        chosen = np.zeros(len(frame), dtype=bool)
        chosen[rng.permutation(len(frame))[: max(1, round(len(frame) * fraction))]] = True
    return frame[~chosen], frame[chosen]


def epoch_batches(
    data: EncodedData,
    batch_size: int,
    generator: torch.Generator,
    mode: BatchMode = "uniform",
    tasks: list[int] | None = None,
) -> list[torch.Tensor]:
    """Row indices of each batch of one epoch.

    ``uniform``: a seeded permutation cut into batches. ``balanced``: every batch holds
    ``batch_size / tasks`` rows drawn (with replacement) from each task's labelled rows, so a task
    with few labels is seen as often as one with many; an epoch has ``ceil(rows / batch_size)``
    batches. ``group``: whole groups (queries) in a seeded order, for ranking losses.
    ``tasks`` limits balancing to those task indices (default: all with labels).
    """
    n = len(data)
    if mode == "group":
        groups = torch.unique(data.group)
        order = groups[torch.randperm(len(groups), generator=generator)]
        rows_of = {int(g): (data.group == g).nonzero().flatten() for g in groups.tolist()}
        batches, current, size = [], [], 0
        for g in order.tolist():
            current.append(rows_of[g])
            size += len(rows_of[g])
            if size >= batch_size:
                batches.append(torch.cat(current))
                current, size = [], 0
        if current:
            batches.append(torch.cat(current))
        return batches
    if mode == "balanced":
        chosen = tasks if tasks is not None else list(range(data.masks.shape[0]))
        labelled = [data.masks[t].nonzero().flatten() for t in chosen]
        labelled = [rows for rows in labelled if len(rows)]
        if labelled:
            per_task = max(1, batch_size // len(labelled))
            batches = []
            for _ in range(math.ceil(n / batch_size)):
                picks = [
                    rows[torch.randint(len(rows), (per_task,), generator=generator)]
                    for rows in labelled
                ]
                batches.append(torch.cat(picks))
            return batches
    permutation = torch.randperm(n, generator=generator)
    return list(torch.split(permutation, batch_size))
