"""Multi-task models for driftline: architectures, training, evaluation, artifacts, registry.

Public API (what the retrainer uses)::

    from models import (TaskSpec, FeatureSchema, TrainConfig, train, evaluate, train_baselines,
                        delta_p, paired_bootstrap, save_artifact, load_artifact, Registry)

    tasks = task_specs_from_config(config)            # or [TaskSpec("churn", "binary"), ...]
    schema = feature_schema_from_config(config)       # or FeatureSchema.infer(frame, exclude=...)
    result = train(train_df, tasks, schema, TrainConfig.from_retrainer_config(config.retrainer))
    holdout = evaluate(result.model, holdout_df)      # {task: {metric: value}}
    registry = Registry.from_config(config.registry)
    if registry.version_for_request(config.model, request_id) is None:
        info = registry.register(config.model, result.model, result=result, metrics=holdout,
                                 request_ids=[request_id], alias="candidate")

Frames hold the feature columns and one label column per task (NaN = no label for that task;
it contributes nothing to the loss); ranking rows carry a ``group`` column.
Head-only fine-tuning: ``train(df, config=..., init_model=champion, freeze_trunk=True)``.
This package never imports Kafka.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "ArtifactError": "models.errors",
    "ArtifactIntegrityError": "models.errors",
    "BinaryHead": "models.heads",
    "BootstrapResult": "models.bootstrap",
    "DuplicateRequestError": "models.errors",
    "EpochLog": "models.history",
    "EqualWeighting": "models.balancing",
    "FeatureColumn": "models.specs",
    "FeatureSchema": "models.specs",
    "GradNorm": "models.balancing",
    "HistoryEntry": "models.registry",
    "LoadedArtifact": "models.artifacts",
    "LossBalancer": "models.balancing",
    "METRICS": "models.specs",
    "MMoE": "models.architectures",
    "ModelsError": "models.errors",
    "MultiTaskModel": "models.model",
    "MulticlassHead": "models.heads",
    "PCGrad": "models.balancing",
    "PLE": "models.architectures",
    "Preprocessor": "models.preprocessing",
    "RankingHead": "models.heads",
    "Registry": "models.registry",
    "RegistryError": "models.errors",
    "RegressionHead": "models.heads",
    "RollbackResult": "models.registry",
    "SchemaError": "models.errors",
    "SharedBottom": "models.architectures",
    "TaskHead": "models.heads",
    "TaskSpec": "models.specs",
    "TrainConfig": "models.training",
    "TrainResult": "models.history",
    "UncertaintyWeighting": "models.balancing",
    "UnknownVersionError": "models.errors",
    "VersionInfo": "models.registry",
    "build_model": "models.model",
    "build_trunk": "models.architectures",
    "delta_p": "models.comparison",
    "delta_percent": "models.comparison",
    "evaluate": "models.evaluation",
    "feature_schema_from_config": "models.specs",
    "higher_is_better": "models.metrics",
    "load_artifact": "models.artifacts",
    "model_update": "models.registry",
    "paired_bootstrap": "models.bootstrap",
    "parameter_hash": "models.artifacts",
    "resolve_device": "models.training",
    "save_artifact": "models.artifacts",
    "task_metrics": "models.metrics",
    "task_specs_from_config": "models.specs",
    "train": "models.training",
    "train_baselines": "models.comparison",
}
"""Public name -> module; imported on first use so the CLI starts without torch."""


__all__ = [
    "METRICS",
    "PLE",
    "ArtifactError",
    "ArtifactIntegrityError",
    "BinaryHead",
    "BootstrapResult",
    "DuplicateRequestError",
    "EpochLog",
    "EqualWeighting",
    "FeatureColumn",
    "FeatureSchema",
    "GradNorm",
    "HistoryEntry",
    "LoadedArtifact",
    "LossBalancer",
    "MMoE",
    "ModelsError",
    "MultiTaskModel",
    "MulticlassHead",
    "PCGrad",
    "Preprocessor",
    "RankingHead",
    "Registry",
    "RegistryError",
    "RegressionHead",
    "RollbackResult",
    "SchemaError",
    "SharedBottom",
    "TaskHead",
    "TaskSpec",
    "TrainConfig",
    "TrainResult",
    "UncertaintyWeighting",
    "UnknownVersionError",
    "VersionInfo",
    "build_model",
    "build_trunk",
    "delta_p",
    "delta_percent",
    "evaluate",
    "feature_schema_from_config",
    "higher_is_better",
    "load_artifact",
    "model_update",
    "paired_bootstrap",
    "parameter_hash",
    "resolve_device",
    "save_artifact",
    "task_metrics",
    "task_specs_from_config",
    "train",
    "train_baselines",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'models' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
