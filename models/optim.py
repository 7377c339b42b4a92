"""A small Adam optimiser.

``torch.optim`` imports ``torch._dynamo`` when an optimiser is constructed, which costs 10+
seconds of CPU on a small machine (measured: torch 2.15, 2 cores) — more than training a tabular
model. This is the textbook Adam (Kingma & Ba 2015; L2 weight decay added to the gradient),
enough for the models here and free of that import.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

__all__ = ["Adam"]


class Adam:
    """Adam over a list of parameters; parameters whose ``grad`` is None are skipped.

    Parameters
    ----------
    params
        Parameters to update.
    lr
        Learning rate.
    betas
        Decay rates of the first and second moment estimates.
    eps
        Added to the denominator.
    weight_decay
        L2 penalty added to the gradient.

    Examples
    --------
    >>> w = torch.nn.Parameter(torch.tensor([1.0]))
    >>> opt = Adam([w], lr=0.1)
    >>> (w**2).sum().backward()
    >>> opt.step()
    >>> round(w.item(), 4)
    0.9
    """

    def __init__(
        self,
        params: Iterable[torch.nn.Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        self.params = list(params)
        self.lr = lr
        self.betas = betas
        self.eps = eps
        self.weight_decay = weight_decay
        self._state: dict[int, tuple[torch.Tensor, torch.Tensor, int]] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients."""
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    @torch.no_grad()
    def step(self) -> None:
        """One Adam update of every parameter that has a gradient."""
        beta1, beta2 = self.betas
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            grad = p.grad
            if self.weight_decay:
                grad = grad + self.weight_decay * p
            m, v, t = self._state.get(i, (torch.zeros_like(p), torch.zeros_like(p), 0))
            t += 1
            m.mul_(beta1).add_(grad, alpha=1 - beta1)
            v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            m_hat = m / (1 - beta1**t)
            v_hat = v / (1 - beta2**t)
            p.sub_(self.lr * m_hat / (v_hat.sqrt() + self.eps))
            self._state[i] = (m, v, t)
