"""Multiclass classification head (softmax, cross-entropy)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from models.errors import SchemaError
from models.heads.base import TaskHead, masked_mean

__all__ = ["MulticlassHead"]


class MulticlassHead(TaskHead):
    """One logit per class; labels are class names (or their indices); predicts probabilities.

    Examples
    --------
    >>> import pandas as pd
    >>> from models.specs import TaskSpec
    >>> head = MulticlassHead(TaskSpec("cat", "multiclass", classes=("a", "b")), input_dim=4)
    >>> target, mask = head.encode_labels(pd.Series(["b", None, "a"]))
    >>> target.tolist(), mask.tolist()
    ([1.0, 0.0, 0.0], [True, False, True])
    >>> head.predict(head(torch.zeros(3, 4))).shape
    (3, 2)
    """

    def encode_labels(self, labels: pd.Series) -> tuple[torch.Tensor, torch.Tensor]:
        """Class names (or integer indices) → indices as float32, plus the mask."""
        classes = list(self.spec.classes or ())
        index = {name: i for i, name in enumerate(classes)}
        values = np.zeros(len(labels), dtype=np.float32)
        mask = labels.notna().to_numpy()
        for row, label in enumerate(labels.to_numpy()):
            if not mask[row]:
                continue
            key = str(label)
            if key in index:
                values[row] = index[key]
            elif isinstance(label, int | np.integer | float) and 0 <= int(label) < len(classes):
                values[row] = int(label)
            else:
                raise SchemaError(
                    f"task {self.spec.name!r}: label {label!r} is not one of the classes {classes}"
                )
        return torch.from_numpy(values), torch.from_numpy(mask)

    def loss(
        self, output: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, group: torch.Tensor
    ) -> torch.Tensor:
        """Masked cross-entropy."""
        target = torch.where(mask, target, torch.zeros_like(target))  # no NaN/inf can leak
        per_row = F.cross_entropy(output.float(), target.long(), reduction="none")
        return masked_mean(per_row, mask)

    def predict(self, output: torch.Tensor) -> np.ndarray:
        """Class probabilities, shape ``(rows, classes)``."""
        return torch.softmax(output.float(), dim=-1).detach().cpu().numpy()
