"""Input preprocessing built from a :class:`FeatureSchema` and saved with the model.

Numeric columns are standardised with the training mean and standard deviation (a missing value
becomes the mean, i.e. 0 after scaling); categorical columns are looked up in a vocabulary learnt
from the training data, where index 0 is the *unknown* bucket (unseen or missing values), and
embedded. The statistics are buffers and the embeddings parameters, so both travel in the
safetensors file; the vocabularies are JSON in the manifest.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from models.specs import FeatureSchema

__all__ = ["Preprocessor"]


def _embedding_dim(cardinality: int) -> int:
    return max(2, min(16, round(1.6 * math.pow(cardinality, 0.56))))


class Preprocessor(nn.Module):
    """Standardise numeric features and embed categorical ones.

    Parameters
    ----------
    schema
        The input columns.
    vocabularies
        Per categorical column, its known values (index ``i + 1``; 0 is unknown).
    embedding_dims
        Per categorical column, the embedding width (default from the vocabulary size).

    Examples
    --------
    >>> frame = pd.DataFrame({"age": [20.0, 40.0], "country": ["DE", "FR"]})
    >>> schema = FeatureSchema.of(numeric=["age"], categorical=["country"])
    >>> pre = Preprocessor.fit(schema, frame)
    >>> x_num, x_cat = pre.encode(pd.DataFrame({"age": [30.0], "country": ["XX"]}))
    >>> x_cat.tolist()                   # "XX" was never seen: the unknown bucket
    [[0]]
    >>> pre(x_num, x_cat)[0, 0].item()   # 30 is the training mean
    0.0
    >>> pre(x_num, x_cat).shape[1] == pre.output_dim
    True
    """

    mean: torch.Tensor  # buffers (registered in __init__)
    std: torch.Tensor

    def __init__(
        self,
        schema: FeatureSchema,
        vocabularies: dict[str, list[str]],
        embedding_dims: dict[str, int] | None = None,
    ) -> None:
        super().__init__()
        self.schema = schema
        self.vocabularies = vocabularies
        self.embedding_dims = embedding_dims or {
            name: _embedding_dim(len(vocabularies[name]) + 1) for name in schema.categorical
        }
        n_num = len(schema.numeric)
        self.register_buffer("mean", torch.zeros(n_num))
        self.register_buffer("std", torch.ones(n_num))
        self.embeddings = nn.ModuleDict(
            {
                name: nn.Embedding(len(vocabularies[name]) + 1, self.embedding_dims[name])
                for name in schema.categorical
            }
        )
        self._index = {
            name: {value: i + 1 for i, value in enumerate(vocab)}
            for name, vocab in vocabularies.items()
        }

    @classmethod
    def fit(
        cls, schema: FeatureSchema, frame: pd.DataFrame, max_categories: int = 1000
    ) -> Preprocessor:
        """Learn means, standard deviations and vocabularies from training data."""
        schema.check(frame, "preprocessing fit")
        vocabularies: dict[str, list[str]] = {}
        for name in schema.categorical:
            counts = frame[name].dropna().astype(str).value_counts(sort=True)
            vocabularies[name] = sorted(counts.index[:max_categories].tolist())
        pre = cls(schema, vocabularies)
        if schema.numeric:
            values = frame[list(schema.numeric)].astype("float64").to_numpy()
            mean, std = _column_moments(values)
            pre.mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
            pre.std.copy_(torch.as_tensor(std, dtype=torch.float32))
        return pre

    @property
    def output_dim(self) -> int:
        """Width of the encoded input the trunk receives."""
        return len(self.schema.numeric) + sum(self.embedding_dims.values())

    def encode(self, frame: pd.DataFrame) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw numeric values (float32, NaN kept) and category indices (int64) of a frame."""
        self.schema.check(frame, "encode")
        if self.schema.numeric:
            values = frame[list(self.schema.numeric)].astype("float64").to_numpy(np.float32)
        else:
            values = np.zeros((len(frame), 0), dtype=np.float32)
        indices = np.zeros((len(frame), len(self.schema.categorical)), dtype=np.int64)
        for j, name in enumerate(self.schema.categorical):
            index = self._index[name]
            column = frame[name].astype(object)
            indices[:, j] = [
                0 if v is None or (isinstance(v, float) and math.isnan(v)) else index.get(str(v), 0)
                for v in column
            ]
        return torch.from_numpy(values), torch.from_numpy(indices)

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        """Scaled numeric features and embeddings, concatenated."""
        scaled = (x_num - self.mean) / self.std
        parts = [torch.nan_to_num(scaled, nan=0.0, posinf=0.0, neginf=0.0)]
        parts += [self.embeddings[n](x_cat[:, j]) for j, n in enumerate(self.schema.categorical)]
        return torch.cat(parts, dim=1)

    def config(self) -> dict[str, Any]:
        """JSON-ready description (schema, vocabularies, embedding widths) for the manifest."""
        return {
            "schema": self.schema.to_dict(),
            "vocabularies": self.vocabularies,
            "embedding_dims": self.embedding_dims,
            "numeric_scaling": "standard (mean/std buffers in the weights file)",
            "unknown_bucket": 0,
        }

    @classmethod
    def from_config(cls, data: dict[str, Any]) -> Preprocessor:
        """Rebuild an (untrained) preprocessor from :meth:`config`; load the weights after."""
        return cls(
            FeatureSchema.from_dict(data["schema"]),
            {k: list(v) for k, v in data["vocabularies"].items()},
            {k: int(v) for k, v in data["embedding_dims"].items()},
        )


def _column_moments(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each column over its finite values; a column without any
    gets mean 0 and std 1 (no "Mean of empty slice" warning), a constant one std 1.

    >>> mean, std = _column_moments(np.array([[1.0, np.nan], [3.0, np.nan]]))
    >>> mean.tolist(), std.tolist()
    ([2.0, 0.0], [1.0, 1.0])
    """
    finite = np.isfinite(values)
    counts = finite.sum(axis=0)
    present = counts > 0
    zeros = np.zeros(values.shape[1])
    mean = np.divide(
        np.where(finite, values, 0.0).sum(axis=0), counts, out=zeros.copy(), where=present
    )
    squares = np.where(finite, (values - mean) ** 2, 0.0).sum(axis=0)
    std = np.sqrt(np.divide(squares, counts, out=zeros.copy(), where=present))
    return mean, np.where(std > 1e-12, std, 1.0)
