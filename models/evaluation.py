"""Per-task metrics of a model on a labelled frame (labelled rows only, per task)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from models.data import EncodedData, encode_frame
from models.metrics import task_metrics
from models.model import MultiTaskModel

__all__ = ["evaluate", "evaluate_encoded", "predict_encoded"]


@torch.no_grad()
def predict_encoded(
    model: MultiTaskModel, data: EncodedData, batch_size: int = 8192
) -> list[np.ndarray]:
    """Predictions of every head (task order) on encoded rows."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    chunks: list[list[np.ndarray]] = [[] for _ in model.tasks]
    for start in range(0, len(data), batch_size):
        outputs = model(
            data.x_num[start : start + batch_size].to(device),
            data.x_cat[start : start + batch_size].to(device),
        )
        for t, (spec, output) in enumerate(zip(model.tasks, outputs, strict=True)):
            chunks[t].append(model.head(spec.name).predict(output))
    model.train(was_training)
    return [np.concatenate(c) if c else np.zeros(0) for c in chunks]


def evaluate_encoded(model: MultiTaskModel, data: EncodedData) -> dict[str, dict[str, float]]:
    """Metrics per task on encoded rows (only rows labelled for that task count)."""
    predictions = predict_encoded(model, data)
    result: dict[str, dict[str, float]] = {}
    for t, spec in enumerate(model.tasks):
        mask = data.masks[t].cpu().numpy()
        target = data.targets[t].cpu().numpy()[mask]
        if spec.type == "multiclass":
            target = target.astype(np.int64)
        group = data.group.cpu().numpy()[mask]
        result[spec.name] = task_metrics(spec, target, predictions[t][mask], group)
        result[spec.name]["n"] = float(mask.sum())
    return result


def evaluate(
    model: MultiTaskModel, frame: pd.DataFrame, group_column: str = "group"
) -> dict[str, dict[str, float]]:
    """Metrics per task (the monitor's names, plus ``n`` = labelled rows) on a labelled frame.

    Examples
    --------
    >>> from models.specs import FeatureSchema, TaskSpec
    >>> from models.model import build_model
    >>> frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "y": [0, 0, 1, float("nan")]})
    >>> model = build_model([TaskSpec("y", "binary")], FeatureSchema.of(numeric=["x"]), frame)
    >>> metrics = evaluate(model, frame)
    >>> metrics["y"]["n"], sorted(metrics["y"])[:3]
    (3.0, ['accuracy', 'f1', 'log_loss'])
    """
    return evaluate_encoded(model, encode_frame(model, frame, group_column))
