"""How far a window's feature distribution is from its reference: PSI, Jensen-Shannon,
Wasserstein, a Kolmogorov-Smirnov estimate, and a p-value for each feature.

Numeric features are compared through their KLL sketches: the bins of PSI and Jensen-Shannon are
the reference's deciles; the KS distance is the largest CDF gap over the quantiles of both,
less the two sketches' rank errors (so sketching alone never makes a distance); Wasserstein-1 is
the mean gap between the quantile functions over 99 ranks, in units of the reference's robust
spread (IQR / 1.349). Categorical features are compared through their counts (a G-test gives the
p-value; KS and Wasserstein are not defined for them).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from scipy import special, stats

from streams.features.sketches import CategoricalSketch, NumericSketch

__all__ = ["FeatureDistance", "compare"]

_EPS = 1e-4  # floor of a bin's share (PSI and JS are infinite for an empty bin)
_RANKS = [i / 100 for i in range(1, 100)]
_DECILES = [i / 10 for i in range(1, 10)]


@dataclass(frozen=True, slots=True)
class FeatureDistance:
    """One feature of one window against its reference."""

    feature: str
    kind: str
    count: int
    reference_count: int
    psi: float
    jensen_shannon: float
    wasserstein: float | None
    ks: float | None
    p_value: float

    def as_dict(self) -> dict[str, float]:
        """The statistics by name (those defined for the feature's kind)."""
        out = {"psi": self.psi, "jensen_shannon": self.jensen_shannon, "p_value": self.p_value}
        if self.wasserstein is not None:
            out["wasserstein"] = self.wasserstein
        if self.ks is not None:
            out["ks"] = self.ks
        return out


def compare(
    feature: str,
    reference: NumericSketch | CategoricalSketch,
    window: NumericSketch | CategoricalSketch,
) -> FeatureDistance | None:
    """The distances of ``window`` from ``reference``; ``None`` when either holds no value.

    >>> import random
    >>> rng = random.Random(0)
    >>> ref, same, moved = NumericSketch(), NumericSketch(), NumericSketch()
    >>> for _ in range(5000):
    ...     ref.update(rng.gauss(0, 1))
    ...     same.update(rng.gauss(0, 1))
    ...     moved.update(rng.gauss(1, 1))
    >>> quiet, shifted = compare("x", ref, same), compare("x", ref, moved)
    >>> quiet.psi < 0.02 and quiet.p_value > 0.01, shifted.psi > 0.5 and shifted.p_value < 1e-9
    (True, True)
    >>> round(shifted.wasserstein, 1)      # one reference standard deviation
    1.0
    """
    if reference.count == 0 or window.count == 0:
        return None
    if isinstance(reference, NumericSketch) and isinstance(window, NumericSketch):
        return _numeric(feature, reference, window)
    if isinstance(reference, CategoricalSketch) and isinstance(window, CategoricalSketch):
        return _categorical(feature, reference, window)
    raise ValueError(f"feature {feature!r}: reference and window sketches are of different kinds")


def _numeric(feature: str, ref: NumericSketch, win: NumericSketch) -> FeatureDistance:
    edges = sorted(set(ref.quantiles(_DECILES)))
    ref_shares = _shares(ref.cdf(edges))
    win_shares = _shares(win.cdf(edges))
    points = sorted(set(ref.quantiles(_RANKS)) | set(win.quantiles(_RANKS)))
    gap = max(abs(a - b) for a, b in zip(ref.cdf(points), win.cdf(points), strict=True))
    ks = max(0.0, gap - ref.rank_error - win.rank_error)
    q_ref, q_win = ref.quantiles(_RANKS), win.quantiles(_RANKS)
    spread = (ref.quantile(0.75) - ref.quantile(0.25)) / 1.349
    if spread <= 0:
        spread = (q_ref[-1] - q_ref[0]) / 4.65 or 1.0  # 1st..99th percentile of N(0, 1): 4.65 σ
    wasserstein = sum(abs(a - b) for a, b in zip(q_ref, q_win, strict=True)) / len(_RANKS)
    n_eff = ref.count * win.count / (ref.count + win.count)
    p_value = float(special.kolmogorov(math.sqrt(n_eff) * ks)) if ks > 0 else 1.0
    return FeatureDistance(feature, "numeric", win.count, ref.count, _psi(ref_shares, win_shares),
                           _js(ref_shares, win_shares), wasserstein / spread, ks, p_value)  # fmt: skip


def _categorical(feature: str, ref: CategoricalSketch, win: CategoricalSketch) -> FeatureDistance:
    keys = sorted(set(ref.counts) | set(win.counts))
    ref_total, win_total = ref.count, win.count
    ref_shares = [ref.counts.get(k, 0) / ref_total for k in keys]
    win_shares = [win.counts.get(k, 0) / win_total for k in keys]
    observed = [[ref.counts.get(k, 0) for k in keys], [win.counts.get(k, 0) for k in keys]]
    if len(keys) < 2:
        p_value = 1.0
    else:
        _, p_value, _, _ = stats.chi2_contingency(observed, lambda_="log-likelihood")
        p_value = float(p_value)
    return FeatureDistance(feature, "categorical", win_total, ref_total,
                           _psi(ref_shares, win_shares), _js(ref_shares, win_shares), None, None,
                           p_value)  # fmt: skip


def _shares(cdf_at_edges: list[float]) -> list[float]:
    """Shares of the bins cut at the edges, from the CDF there."""
    bounds = [0.0, *cdf_at_edges, 1.0]
    return [max(0.0, b - a) for a, b in itertools.pairwise(bounds)]


def _psi(ref: list[float], win: list[float]) -> float:
    """Population stability index: sum of (w - r) ln(w / r) over bins."""
    total = 0.0
    for r, w in zip(ref, win, strict=True):
        r, w = max(r, _EPS), max(w, _EPS)
        total += (w - r) * math.log(w / r)
    return total


def _js(ref: list[float], win: list[float]) -> float:
    """Jensen-Shannon divergence in bits (0: identical, 1: disjoint)."""
    total = 0.0
    for r, w in zip(ref, win, strict=True):
        m = (r + w) / 2
        if r > 0:
            total += 0.5 * r * math.log2(r / m)
        if w > 0:
            total += 0.5 * w * math.log2(w / m)
    return max(0.0, total)
