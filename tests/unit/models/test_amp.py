"""Mixed precision: ``torch.autocast`` + ``torch.amp.GradScaler`` with ``torch.optim``, on CPU.

bfloat16 autocast trains without a scaler; float16 autocast goes through ``GradScaler.step``,
which the hand-written Adam this replaced could not pass (``'Adam' object has no attribute
'param_groups'``).
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from models import TrainConfig, train
from models.balancing import build_balancer
from models.data import EncodedData, encode_frame
from models.model import MultiTaskModel, build_model
from models.optim import build_optimizer
from models.step import AmpMode, TrainingStep

CPU = torch.device("cpu")


def _setup(
    frame_factory: Any, tasks: Any, schema: Any, amp: AmpMode, balancing: str = "equal"
) -> tuple[MultiTaskModel, TrainingStep, EncodedData]:
    torch.manual_seed(0)
    frame = frame_factory(256, missing=0.0)
    model = build_model(tasks, schema, frame, "mmoe", seed=0)
    balancer = build_balancer(balancing, len(tasks))
    params = [*model.parameters(), *balancer.parameters()]
    optimizer = build_optimizer(params, "adamw", lr=1e-2, weight_decay=1e-4)
    return model, TrainingStep(model, balancer, optimizer, CPU, amp), encode_frame(model, frame)


def _losses(step: TrainingStep, data: EncodedData, steps: int) -> tuple[float, float]:
    """The mean task loss of the first and of the last of ``steps`` updates on ``data``."""
    active = torch.ones(len(step.model.tasks), dtype=torch.bool)
    seen = []
    for _ in range(steps):
        step.start_epoch()
        step.run(data, active, want_conflict=True)
        seen.append(sum(step.mean_losses()) / len(step.mean_losses()))
    return seen[0], seen[-1]


def _forward_dtypes(model: MultiTaskModel) -> list[torch.dtype]:
    dtypes: list[torch.dtype] = []
    for head in model.heads.values():
        head.register_forward_hook(lambda _m, _i, out: dtypes.append(out.dtype))
    return dtypes


@pytest.mark.parametrize("balancing", ["equal", "pcgrad"])
def test_a_bfloat16_autocast_step_trains_without_a_scaler(
    frame_factory: Any, tasks: Any, schema: Any, balancing: str
) -> None:
    model, step, data = _setup(frame_factory, tasks, schema, "bfloat16", balancing)
    assert step.autocast_dtype == torch.bfloat16 and step.scaler is None
    dtypes = _forward_dtypes(model)
    before = [p.detach().clone() for p in model.parameters()]
    first, last = _losses(step, data, steps=15)
    assert set(dtypes) == {torch.bfloat16}  # the forward pass ran under autocast
    assert all(p.dtype == torch.float32 for p in model.parameters())  # master weights stay fp32
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert last < 0.8 * first


@pytest.mark.parametrize("balancing", ["equal", "gradnorm"])
def test_a_float16_autocast_step_goes_through_the_grad_scaler(
    frame_factory: Any, tasks: Any, schema: Any, balancing: str
) -> None:
    model, step, data = _setup(frame_factory, tasks, schema, "float16", balancing)
    assert step.autocast_dtype == torch.float16
    assert isinstance(step.scaler, torch.amp.GradScaler) and step.scaler.is_enabled()
    dtypes = _forward_dtypes(model)
    calls: list[torch.optim.Optimizer] = []
    scaler_step = step.scaler.step

    def counted(optimizer: torch.optim.Optimizer, *args: Any, **kwargs: Any) -> Any:
        calls.append(optimizer)
        return scaler_step(optimizer, *args, **kwargs)

    step.scaler.step = counted  # type: ignore[method-assign]
    first, last = _losses(step, data, steps=15)
    assert set(dtypes) == {torch.float16}
    assert calls and all(o is step.optimizer for o in calls)  # the scaler stepped torch.optim
    assert step.scaler.get_scale() > 0
    assert last < 0.8 * first


def test_without_amp_on_cpu_nothing_is_autocast(
    frame_factory: Any, tasks: Any, schema: Any
) -> None:
    model, step, data = _setup(frame_factory, tasks, schema, "auto")
    assert step.autocast_dtype is None and step.scaler is None  # "auto": CUDA only
    dtypes = _forward_dtypes(model)
    _losses(step, data, steps=1)
    assert set(dtypes) == {torch.float32}


def test_train_runs_with_amp_and_adamw_from_the_config(
    frame_factory: Any, tasks: Any, schema: Any
) -> None:
    config = TrainConfig(epochs=3, batch_size=128, learning_rate=5e-3, device="cpu",
                         amp="bfloat16", optimizer="adamw", weight_decay=1e-4)  # fmt: skip
    result = train(frame_factory(400), tasks, schema, config)
    losses = [sum(e.train_loss.values()) for e in result.history]
    assert losses[-1] < losses[0]
    assert result.config.to_dict()["amp"] == "bfloat16"
    with pytest.raises(ValueError, match="amp must be one of"):
        TrainConfig(amp="fp8")  # type: ignore[arg-type]


def test_the_retrainer_config_reaches_the_training_settings() -> None:
    from driftline.config.models import RetrainerConfig

    retrainer = RetrainerConfig(amp="float16", optimizer="adamw", weight_decay=0.01)
    settings = TrainConfig.from_retrainer_config(retrainer)
    assert (settings.amp, settings.optimizer, settings.weight_decay) == ("float16", "adamw", 0.01)
    assert TrainConfig.from_retrainer_config(RetrainerConfig()).amp == "auto"
