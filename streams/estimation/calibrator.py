"""A binned calibrator: maps a score to the mean target of its reference bin."""

from __future__ import annotations

import bisect

__all__ = ["BinnedCalibrator"]


class BinnedCalibrator:
    """Equal-mass bins of a score, each mapped to the mean target its reference values had.

    With ``monotone`` the bin means are made non-decreasing by pool-adjacent-violators (isotonic
    regression on the bins): a calibrated probability that grows with the score. Between the
    mean scores of two bins the mapping is linear (so scores keep their order within a bin), and
    beyond the outer bins it goes on from the outer bin with the slope of the least-squares line
    through all bins, clipped to ``bounds`` (scores the reference never had still get an estimate
    that follows the trend).

    Parameters
    ----------
    bins
        Number of bins (fewer when the reference has fewer distinct scores).
    monotone
        Pool adjacent bins so the mapping is non-decreasing.
    prior
        Pseudo-count towards the overall mean per bin (smooths small bins).
    bounds
        The range of a calibrated value (``(0, 1)`` for a probability).

    Examples
    --------
    >>> cal = BinnedCalibrator(bins=2, prior=0.0)
    >>> cal.fit([0.1, 0.2, 0.8, 0.9], [0.0, 1.0, 1.0, 1.0])
    >>> [round(cal.predict(s), 3) for s in (0.15, 0.5, 0.85)], cal.bin_of(0.85)
    ([0.5, 0.75, 1.0], 1)
    >>> round(cal.predict(0.0), 3), cal.predict(1.0)     # on along the trend, within bounds
    (0.393, 1.0)
    """

    def __init__(
        self,
        bins: int = 50,
        monotone: bool = True,
        prior: float = 1.0,
        bounds: tuple[float, float] = (0.0, 1.0),
    ) -> None:
        if bins < 1:
            raise ValueError(f"bins must be >= 1, got {bins}")
        if prior < 0:
            raise ValueError(f"prior must be >= 0, got {prior}")
        self.bins = bins
        self.monotone = monotone
        self.prior = prior
        if bounds[0] > bounds[1]:
            raise ValueError(f"bounds must be (low, high), got {bounds}")
        self.bounds = bounds
        self._reset()

    def _reset(self) -> None:
        self._edges: list[float] = []
        self._means: list[float] = [0.0]
        self._centres: list[float] = [0.0]
        self._slope = 0.0

    @property
    def size(self) -> int:
        """Points of the fitted mapping: bins, or pooled blocks of bins (1 before :meth:`fit`)."""
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
        overall = sum(targets) / n
        means = [(s + self.prior * overall) / (c + self.prior) if c + self.prior else overall
                 for s, c in zip(sums, counts, strict=True)]  # fmt: skip
        centres = [s / c if c else 0.0 for s, c in zip(score_sums, counts, strict=True)]
        if self.monotone:  # one point per pooled block, at its mean score
            centres, means = _pool(centres, means, counts)
        self._centres, self._means = centres, means
        self._slope = _slope(centres, means)

    def bin_of(self, score: float) -> int:
        """The bin index of ``score``."""
        return bisect.bisect_right(self._edges, score)

    def predict(self, score: float) -> float:
        """The calibrated value of ``score`` (see the class docstring)."""
        centres, means = self._centres, self._means
        i = bisect.bisect_right(centres, score)
        if i == 0:
            value = means[0] + self._slope * (score - centres[0])
        elif i >= len(centres):
            value = means[-1] + self._slope * (score - centres[-1])
        else:
            left, right = centres[i - 1], centres[i]
            w = (score - left) / (right - left) if right > left else 1.0
            value = means[i - 1] * (1.0 - w) + means[i] * w
        return min(max(value, self.bounds[0]), self.bounds[1])


def _slope(xs: list[float], ys: list[float]) -> float:
    """The slope of the least-squares line through the points (0 with fewer than two)."""
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx else 0.0


def _pool(
    centres: list[float], means: list[float], counts: list[int]
) -> tuple[list[float], list[float]]:
    """Pool-adjacent-violators: blocks of bins whose means do not decrease (weighted), each
    returned as one point (its mean score, its mean target)."""
    blocks: list[list[float]] = []  # [centre, mean, weight]
    for centre, mean, count in zip(centres, means, counts, strict=True):
        blocks.append([centre, mean, float(max(count, 1))])
        while len(blocks) > 1 and blocks[-2][1] > blocks[-1][1]:
            c2, m2, w2 = blocks.pop()
            c1, m1, w1 = blocks.pop()
            w = w1 + w2
            blocks.append([(c1 * w1 + c2 * w2) / w, (m1 * w1 + m2 * w2) / w, w])
    return [b[0] for b in blocks], [b[1] for b in blocks]
