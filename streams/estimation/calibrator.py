"""A binned calibrator: maps a score to the mean target of its reference bin."""

from __future__ import annotations

import bisect

__all__ = ["BinnedCalibrator"]


class BinnedCalibrator:
    """Equal-mass bins of a score, each mapped to the mean target its reference values had.

    With ``monotone`` the bin means are made non-decreasing by pool-adjacent-violators (isotonic
    regression on the bins): a calibrated probability that grows with the score. Between the
    mean scores of two bins the mapping is linear (so scores keep their order within a bin).

    Parameters
    ----------
    bins
        Number of bins (fewer when the reference has fewer distinct scores).
    monotone
        Pool adjacent bins so the mapping is non-decreasing.
    prior
        Pseudo-count towards the overall mean per bin (smooths small bins).

    Examples
    --------
    >>> cal = BinnedCalibrator(bins=2, prior=0.0)
    >>> cal.fit([0.1, 0.2, 0.8, 0.9], [0.0, 1.0, 1.0, 1.0])
    >>> cal.predict(0.15), cal.predict(0.85), cal.predict(0.5), cal.bin_of(0.85)
    (0.5, 1.0, 0.75, 1)
    """

    def __init__(self, bins: int = 50, monotone: bool = True, prior: float = 1.0) -> None:
        if bins < 1:
            raise ValueError(f"bins must be >= 1, got {bins}")
        if prior < 0:
            raise ValueError(f"prior must be >= 0, got {prior}")
        self.bins = bins
        self.monotone = monotone
        self.prior = prior
        self._reset()

    def _reset(self) -> None:
        self._edges: list[float] = []
        self._means: list[float] = [0.0]
        self._centres: list[float] = [0.0]

    @property
    def size(self) -> int:
        """Bins of the fitted mapping (1 before :meth:`fit`)."""
        return len(self._means)

    def fit(self, scores: list[float], targets: list[float]) -> None:
        """Set the bins from reference ``scores`` and their ``targets`` (labels or losses)."""
        if not scores or len(scores) != len(targets):
            raise ValueError("fit needs as many targets as scores, at least one")
        ordered = sorted(scores)
        n = len(ordered)
        edges = sorted({ordered[(i * n) // self.bins] for i in range(1, self.bins)})
        self._edges = [e for e in edges if e > ordered[0]]
        sums = [0.0] * (len(self._edges) + 1)
        counts = [0] * (len(self._edges) + 1)
        score_sums = [0.0] * (len(self._edges) + 1)
        for score, target in zip(scores, targets, strict=True):
            b = self.bin_of(score)
            sums[b] += target
            counts[b] += 1
            score_sums[b] += score
        self._centres = [s / c if c else 0.0 for s, c in zip(score_sums, counts, strict=True)]
        overall = sum(targets) / n
        means = [(s + self.prior * overall) / (c + self.prior) if c + self.prior else overall
                 for s, c in zip(sums, counts, strict=True)]  # fmt: skip
        self._means = _pool(means, counts) if self.monotone else means

    def bin_of(self, score: float) -> int:
        """The bin index of ``score``."""
        return bisect.bisect_right(self._edges, score)

    def predict(self, score: float) -> float:
        """The calibrated value of ``score`` (linear between bin centres, flat beyond them)."""
        centres, means = self._centres, self._means
        i = bisect.bisect_right(centres, score)
        if i == 0:
            return means[0]
        if i >= len(centres):
            return means[-1]
        left, right = centres[i - 1], centres[i]
        if right <= left:
            return means[i]
        w = (score - left) / (right - left)
        return means[i - 1] * (1.0 - w) + means[i] * w


def _pool(means: list[float], counts: list[int]) -> list[float]:
    """Pool-adjacent-violators: the non-decreasing sequence closest to ``means`` (weighted)."""
    blocks: list[list[float]] = []  # [mean, weight, members]
    for mean, count in zip(means, counts, strict=True):
        blocks.append([mean, float(max(count, 1)), 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, w2, k2 = blocks.pop()
            m1, w1, k1 = blocks.pop()
            blocks.append([(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2, k1 + k2])
    out: list[float] = []
    for mean, _, members in blocks:
        out.extend([mean] * int(members))
    return out
