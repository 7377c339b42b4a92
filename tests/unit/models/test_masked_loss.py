"""A missing label contributes nothing: zero loss term and exactly zero gradient."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from models import FeatureSchema, TaskSpec, build_model
from models.data import encode_frame

SPECS = {
    "binary": TaskSpec("t", "binary"),
    "regression": TaskSpec("t", "regression"),
    "multiclass": TaskSpec("t", "multiclass", classes=("a", "b", "c")),
    "ranking": TaskSpec("t", "ranking"),
    "listwise": TaskSpec("t", "ranking", ranking_loss="listwise"),
}


@pytest.mark.parametrize("kind", sorted(SPECS))
def test_missing_labels_get_exactly_zero_gradient(kind):
    spec = SPECS[kind]
    head = build_model(
        [spec], FeatureSchema.of(numeric=["x"]), pd.DataFrame({"x": [0.0, 1.0]})
    ).head("t")
    torch.manual_seed(0)
    output = torch.randn(6, spec.n_outputs, requires_grad=True)
    mask = torch.tensor([True, False, True, False, True, True])
    group = torch.tensor([0, 0, 0, 1, 1, 1])
    target = (
        torch.tensor([1.0, 0.0, 0.0, 1.0, 2.0, 0.0])
        if kind != "binary"
        else torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 0.0])
    )
    loss = head.loss(output, target, mask, group)
    (grad,) = torch.autograd.grad(loss, output)
    assert torch.all(grad[~mask] == 0), grad
    assert torch.any(grad[mask] != 0)
    # whatever sits in the target of a missing row (garbage, NaN, inf) changes nothing, bit for bit
    for garbage in (1e6, float("nan"), float("inf")):
        poisoned = target.clone()
        poisoned[~mask] = garbage
        other_loss = head.loss(output, poisoned, mask, group)
        (other_grad,) = torch.autograd.grad(other_loss, output)
        assert torch.equal(other_loss, loss) and torch.equal(other_grad, grad)


def test_task_without_labels_leaves_its_head_untouched(frame_factory, tasks, schema):
    frame = frame_factory(200)
    frame["spend"] = float("nan")  # no spend label at all
    model = build_model(tasks, schema, frame)
    data = encode_frame(model, frame)
    outputs = model(data.x_num, data.x_cat)
    losses = [
        model.head(s.name).loss(o, data.targets[t], data.masks[t], data.group)
        for t, (s, o) in enumerate(zip(model.tasks, outputs, strict=True))
    ]
    sum(losses).backward()
    assert losses[1].item() == 0.0
    for parameter in model.heads["spend"].parameters():
        assert parameter.grad is None or torch.all(parameter.grad == 0)
    assert any(
        p.grad is not None and torch.any(p.grad != 0) for p in model.heads["churn"].parameters()
    )
