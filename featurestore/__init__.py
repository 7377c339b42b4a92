"""featurestore: driftline's task-partitioned Feast repo, label sink and training sets.

Public API (imported lazily, so ``import featurestore`` does not import Feast):

- :class:`FeatureRepo` — the Feast repo generated from ``driftline.yaml`` (``.apply()``,
  ``.store``, ``.service(task)``);
- :class:`LabelSink` — labelled outcomes into per-task label views, once per outcome id;
- :func:`push_features` / :func:`read_feature_file` — production feature values, validated;
- :func:`training_set` — point-in-time-correct multi-task training frame;
- :func:`online_features` — serving-time lookups;
- :class:`RepoLayout` — names and columns of every generated object.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "FeatureRepo",
    "LabelSink",
    "RepoLayout",
    "label_column",
    "online_features",
    "push_features",
    "read_feature_file",
    "training_set",
]

_WHERE = {
    "FeatureRepo": "featurestore.repo",
    "LabelSink": "featurestore.label_sink",
    "RepoLayout": "featurestore.layout",
    "label_column": "featurestore.retrieval",
    "online_features": "featurestore.retrieval",
    "push_features": "featurestore.ingest",
    "read_feature_file": "featurestore.ingest",
    "training_set": "featurestore.retrieval",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'featurestore' has no attribute {name!r}")
