"""The MMoE paper's synthetic generator: requested task correlation, label formula, determinism."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.mmoe_synthetic import MMoESyntheticProblem


def _features(frame: pd.DataFrame) -> np.ndarray:
    return frame[[c for c in frame.columns if c.startswith("f")]].to_numpy()


@pytest.mark.parametrize("rho", [1.0, 0.9, 0.5, 0.0, -0.7])
def test_linear_parts_have_the_requested_correlation(rho: float) -> None:
    problem = MMoESyntheticProblem(rho, seed=3)
    w1, w2 = problem.weights()
    assert np.linalg.norm(w1) == pytest.approx(1.0)  # c = 1, unit vectors
    assert np.linalg.norm(w2) == pytest.approx(1.0)
    assert float(w1 @ w2) == pytest.approx(rho, abs=1e-12)  # cos(w1, w2) = rho exactly
    frame = problem.sample(20_000, seed=0)
    linear = _features(frame) @ np.stack([w1, w2]).T
    assert np.corrcoef(linear.T)[0, 1] == pytest.approx(rho, abs=0.02)


def test_labels_follow_the_paper_formula_with_shared_sines() -> None:
    problem = MMoESyntheticProblem(0.5, seed=1, noise_std=0.1)
    frame = problem.sample(5000, seed=0)
    alpha, beta = problem.sine_parameters()
    assert alpha.shape == beta.shape == (10,)
    linear = _features(frame) @ problem.weights().T
    for i, name in enumerate(("y1", "y2")):
        z = linear[:, i]
        clean = z + np.sin(np.outer(z, alpha) + beta).sum(axis=1)
        residual = frame[name].to_numpy() - clean
        assert abs(residual.mean()) < 0.01
        assert residual.std() == pytest.approx(0.1, rel=0.05)  # ε ~ N(0, 0.01): variance 0.01


def test_seed_fixes_the_problem_across_rho_and_splits_are_independent() -> None:
    one, half = MMoESyntheticProblem(1.0, seed=2), MMoESyntheticProblem(0.5, seed=2)
    np.testing.assert_array_equal(one.weights()[0], half.weights()[0])  # same u1
    np.testing.assert_array_equal(one.sine_parameters()[0], half.sine_parameters()[0])
    assert not np.allclose(one.weights()[0], MMoESyntheticProblem(1.0, seed=4).weights()[0])
    pd.testing.assert_frame_equal(one.sample(50, seed=0), one.sample(50, seed=0))
    np.testing.assert_array_equal(_features(one.sample(50, 0)), _features(half.sample(50, 0)))
    assert not np.allclose(_features(one.sample(50, 0)), _features(one.sample(50, 1)))
    y = one.sample(2000, seed=0)
    assert np.corrcoef(y["y1"], y["y2"])[0, 1] > 0.98  # rho = 1: same function, only noise


def test_invalid_parameters_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="rho must be in"):
        MMoESyntheticProblem(1.5)
    with pytest.raises(ValueError, match="dim >= 2"):
        MMoESyntheticProblem(0.5, dim=1)
