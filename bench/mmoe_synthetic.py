"""The synthetic two-task regression problem of the MMoE paper (Ma et al., KDD 2018, section 3.2).

Two unit vectors ``u1 ⟂ u2`` in ``R^d`` define the tasks' weight vectors

    w1 = c u1,    w2 = c (rho u1 + sqrt(1 - rho²) u2)

so ``cos(w1, w2) = rho``. Each row draws ``x ~ N(0, I_d)`` and two labels

    y_i = w_iᵀx + Σ_{j=1..m} sin(α_j w_iᵀx + β_j) + ε_i,    ε_i ~ N(0, noise_std²)

with ``α_j, β_j ~ N(0, 1)`` shared by both tasks. Because ``x`` is isotropic, the Pearson
correlation of the linear parts ``w1ᵀx`` and ``w2ᵀx`` is exactly ``rho``; the sine terms make
the labels' own correlation lower (and the problem non-linear).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["MMoESyntheticProblem"]


@dataclass(frozen=True)
class MMoESyntheticProblem:
    """One draw of the paper's problem: fixed ``w1, w2, α, β`` (from ``seed``), rows on demand.

    Parameters
    ----------
    rho
        Cosine between the tasks' weight vectors, in ``[-1, 1]`` (the paper's "correlation").
    seed
        Seed of the problem's parameters (``u1, u2, α, β``); rows use their own seed.
    dim
        Input dimension ``d`` (paper: 100).
    n_sines
        Number of sine terms ``m`` (paper: 10).
    scale
        The scale constant ``c`` (paper: 1).
    noise_std
        Standard deviation of ``ε``; the paper writes ``N(0, 0.01)``, read as variance 0.01.

    Examples
    --------
    >>> problem = MMoESyntheticProblem(rho=0.5, seed=0, dim=10)
    >>> w1, w2 = problem.weights()
    >>> round(float(w1 @ w2), 6), round(float(np.linalg.norm(w2)), 6)
    (0.5, 1.0)
    >>> frame = problem.sample(4, seed=1)
    >>> list(frame.columns[:2]), list(frame.columns[-2:]), len(frame)
    (['f0', 'f1'], ['y1', 'y2'], 4)
    """

    rho: float
    seed: int = 0
    dim: int = 100
    n_sines: int = 10
    scale: float = 1.0
    noise_std: float = 0.1

    def __post_init__(self) -> None:
        if not -1.0 <= self.rho <= 1.0:
            raise ValueError(f"MMoESyntheticProblem: rho must be in [-1, 1], got {self.rho}")
        if self.dim < 2 or self.n_sines < 0 or self.noise_std < 0:
            raise ValueError(
                "MMoESyntheticProblem: needs dim >= 2 (two orthogonal directions), "
                f"n_sines >= 0 and noise_std >= 0; got {self.dim}, {self.n_sines}, {self.noise_std}"
            )

    def _parameters(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rng = np.random.default_rng([self.seed, 0])
        basis, _ = np.linalg.qr(rng.normal(size=(self.dim, 2)))  # orthonormal columns
        u1, u2 = basis[:, 0], basis[:, 1]
        w1 = self.scale * u1
        w2 = self.scale * (self.rho * u1 + np.sqrt(1.0 - self.rho**2) * u2)
        alpha = rng.normal(0.0, 1.0, size=self.n_sines)
        beta = rng.normal(0.0, 1.0, size=self.n_sines)
        return np.stack([w1, w2]), alpha, beta

    def weights(self) -> np.ndarray:
        """``(2, dim)`` array: ``w1`` and ``w2``."""
        return self._parameters()[0]

    def sine_parameters(self) -> tuple[np.ndarray, np.ndarray]:
        """``α`` and ``β`` (``n_sines`` each), shared by both tasks."""
        _, alpha, beta = self._parameters()
        return alpha, beta

    def sample(self, n: int, seed: int) -> pd.DataFrame:
        """``n`` rows: features ``f0..f{dim-1}`` and labels ``y1``, ``y2``.

        Different ``seed`` values give independent rows of the same problem (train, validation
        and test splits must share the problem and differ in ``seed``).
        """
        weights, alpha, beta = self._parameters()
        rng = np.random.default_rng([self.seed, 1, seed])
        x = rng.normal(size=(n, self.dim))
        frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(self.dim)])
        linear = x @ weights.T  # (n, 2): w_iᵀx
        for i, name in enumerate(("y1", "y2")):
            z = linear[:, i]
            sines = np.sin(np.outer(z, alpha) + beta).sum(axis=1)
            frame[name] = z + sines + self.noise_std * rng.normal(size=n)
        return frame
