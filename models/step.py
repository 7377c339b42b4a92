"""One optimisation step of multi-task training, and the per-epoch accumulators it fills."""

from __future__ import annotations

from typing import Literal

import torch

from models.balancing import LossBalancer
from models.data import EncodedData
from models.model import MultiTaskModel

__all__ = ["AMP_MODES", "AmpMode", "TrainingStep", "autocast_dtype", "task_gradients"]

AmpMode = Literal["auto", "off", "bfloat16", "float16"]
AMP_MODES: tuple[AmpMode, ...] = ("auto", "off", "bfloat16", "float16")


def autocast_dtype(amp: AmpMode, device: torch.device) -> torch.dtype | None:
    """The dtype ``torch.autocast`` runs the forward pass in, or ``None`` for full precision.

    ``auto``: mixed precision on CUDA only (bfloat16 where the GPU supports it, else float16);
    ``bfloat16`` / ``float16``: on any device (CPU included); ``off``: never.

    Examples
    --------
    >>> cpu = torch.device("cpu")
    >>> autocast_dtype("auto", cpu) is None, autocast_dtype("bfloat16", cpu)
    (True, torch.bfloat16)
    """
    if amp == "off" or (amp == "auto" and device.type != "cuda"):
        return None
    if amp == "bfloat16":
        return torch.bfloat16
    if amp == "float16":
        return torch.float16
    if amp != "auto":
        raise ValueError(f"amp must be one of {list(AMP_MODES)}, not {amp!r}")
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def task_gradients(
    losses: torch.Tensor, active: torch.Tensor, params: list[torch.nn.Parameter], scale: float = 1.0
) -> torch.Tensor:
    """Per-task gradients on ``params``, flattened: shape ``(tasks, n_params)``; inactive rows are 0."""
    n_params = sum(p.numel() for p in params)
    grads = torch.zeros(len(losses), n_params, device=losses.device)
    for t in active.nonzero().flatten().tolist():
        parts = torch.autograd.grad(losses[t] * scale, params, retain_graph=True, allow_unused=True)
        grads[t] = (
            torch.cat(
                [
                    (g if g is not None else torch.zeros_like(p)).reshape(-1).float()
                    for g, p in zip(parts, params, strict=True)
                ]
            )
            / scale
        )
    return grads


def pairwise_cosine(grads: torch.Tensor, active: torch.Tensor) -> dict[tuple[int, int], float]:
    """Cosine similarity of each pair of active tasks' gradients (pairs with a zero gradient skipped)."""
    idx = active.nonzero().flatten().tolist()
    norms = grads.norm(dim=1)
    result = {}
    for a_pos, a in enumerate(idx):
        for b in idx[a_pos + 1 :]:
            if norms[a] > 0 and norms[b] > 0:
                result[(a, b)] = float(grads[a].dot(grads[b]) / (norms[a] * norms[b]))
    return result


class TrainingStep:
    """Forward, masked per-task losses, balancing, backward and update for one batch.

    With mixed precision (``amp``, :func:`autocast_dtype`) the forward pass runs under
    ``torch.autocast``; in float16 the loss is scaled by a ``torch.amp.GradScaler``, which
    unscales the gradients, skips a step whose gradients overflowed and adapts the scale
    (bfloat16 has float32's range and needs none). Keeps the epoch's sums (per-task loss over
    labelled rows, gradient cosines) for the log.
    """

    def __init__(
        self,
        model: MultiTaskModel,
        balancer: LossBalancer,
        optimizer: torch.optim.Optimizer,
        device: torch.device,
        amp: AmpMode = "auto",
    ) -> None:
        self.model = model
        self.balancer = balancer
        self.optimizer = optimizer
        self.device = device
        self.autocast_dtype = autocast_dtype(amp, device)
        self.scaler = (
            torch.amp.GradScaler(device.type) if self.autocast_dtype == torch.float16 else None
        )
        self.shared = [p for p in model.shared_parameters() if p.requires_grad]
        self.start_epoch()

    def start_epoch(self) -> None:
        """Reset the epoch accumulators."""
        n = len(self.model.tasks)
        self._loss_sum = torch.zeros(n, dtype=torch.float64)
        self._label_sum = torch.zeros(n, dtype=torch.float64)
        self._conflict: dict[tuple[int, int], list[float]] = {}

    def run(self, batch: EncodedData, active: torch.Tensor, want_conflict: bool = False) -> None:
        """One update on ``batch`` for the ``active`` tasks."""
        model = self.model
        dtype, enabled = self.autocast_dtype or torch.bfloat16, self.autocast_dtype is not None
        with torch.autocast(self.device.type, dtype=dtype, enabled=enabled):
            outputs = model(batch.x_num, batch.x_cat)
        losses = torch.stack(
            [
                model.head(spec.name).loss(out, batch.targets[t], batch.masks[t], batch.group)
                for t, (spec, out) in enumerate(zip(model.tasks, outputs, strict=True))
            ]
        )
        counts = batch.masks.sum(dim=1)
        active = active & (counts > 0)
        self._loss_sum += (losses.detach() * counts).double().cpu()
        self._label_sum += counts.double().cpu()
        if not bool(active.any()):
            return
        scale = float(self.scaler.get_scale()) if self.scaler is not None else 1.0
        grads = None
        if self.shared and (self.balancer.needs_task_gradients or want_conflict):
            grads = task_gradients(losses, active, self.shared, scale)
            for pair, cosine in pairwise_cosine(grads, active).items():
                self._conflict.setdefault(pair, []).append(cosine)
        total = self.balancer.total(losses, active)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            torch.autograd.backward(self.scaler.scale(total))
        else:
            torch.autograd.backward(total)
        if grads is not None and self.balancer.needs_task_gradients:
            shared_grad = self.balancer.shared_gradient(grads, losses.detach(), active)
            if shared_grad is not None:
                self._install(shared_grad * scale)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()

    def _install(self, flat: torch.Tensor) -> None:
        offset = 0
        for p in self.shared:
            n = p.numel()
            p.grad = flat[offset : offset + n].view_as(p).to(p.dtype).clone()
            offset += n

    def mean_losses(self) -> list[float]:
        """Per-task mean loss over the epoch's labelled rows (NaN for a task with none)."""
        means = self._loss_sum / self._label_sum.clamp(min=1)
        return [
            float(m) if c > 0 else float("nan")
            for m, c in zip(means.tolist(), self._label_sum.tolist(), strict=True)
        ]

    def mean_conflict(self, names: list[str]) -> dict[str, float]:
        """Mean cosine per task pair, keyed ``"a|b"``."""
        return {
            f"{names[a]}|{names[b]}": sum(values) / len(values)
            for (a, b), values in sorted(self._conflict.items())
        }
