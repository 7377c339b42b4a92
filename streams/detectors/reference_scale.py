"""Puts a numeric signal in units of its reference spread, clipped at the reference's tails."""

from __future__ import annotations

import math

__all__ = ["ReferenceScale"]

_MAD_TO_SIGMA = 0.6745  # median |N(0, σ)| = 0.6745 σ
_ZERO_ONE_SD = 0.3  # the spread of a 10 % error rate
_MIN_CLIP = 3.0  # never clip nearer than 3 spreads: a narrow reference must still see a rise


class ReferenceScale:
    """Rescales a numeric stream by what its first ``reference`` values looked like.

    A detector such as ADWIN assumes values in [0, 1]: on errors in dollars, or with heavy tails,
    it fires on noise (River's ADWIN with its defaults: 6 to 10 false alarms per 1 M stationary
    labels of ``|N(0, σ)|`` errors with σ = 10 to 100, about 60 with Student-t tails). This
    transform makes the signal unit-free and bounded: ``(x - centre) / spread``, clipped to the
    reference's ``[clip, 1 - clip]`` quantiles (in the same units), but never nearer than 3
    spreads from the centre (a reference of nearly equal values must still show a rise). ``centre`` is 0 for a
    non-negative signal (an error: 0 is no error) and the reference median otherwise; ``spread``
    is the reference's median ``|x - centre|`` / 0.6745 (σ for normal data).

    A 0/1 signal (``zero_one``: the error of a classifier) is not clipped or centred but scaled
    down by ``min(1, 0.3 / sd)``, ``sd`` its reference standard deviation: ADWIN's bound leaves
    noisier 0/1 streams less margin (with delta 0.0005, a 48 % error rate gave 5 false alarms in
    3 M stationary labels, none once scaled to the spread of a 10 % error rate); streams with at
    most 10 % errors are left as they are.

    Until ``reference`` values were seen it returns nothing; then it returns all of them,
    transformed, so the detector loses none of the stream.

    Parameters
    ----------
    reference
        Values that set the scale.
    clip
        Tail fraction clipped on each side.
    non_negative
        Whether 0 is the signal's natural centre (errors).
    zero_one
        Whether the signal is 0/1 (only scaled down when noisier than a 10 % error rate).

    Examples
    --------
    >>> scale = ReferenceScale(reference=4, clip=0.0, non_negative=True)
    >>> [scale.update(x) for x in (1.0, 2.0, 3.0)]
    [[], [], []]
    >>> [round(v, 3) for v in scale.update(4.0)]
    [0.225, 0.45, 0.674, 0.899]
    >>> [round(v, 3) for v in scale.update(100.0)]   # clipped at 3 spreads
    [3.0]
    """

    def __init__(
        self,
        reference: int = 1000,
        clip: float = 0.01,
        non_negative: bool = True,
        zero_one: bool = False,
    ) -> None:
        if reference < 2:
            raise ValueError(f"reference must be >= 2, got {reference}")
        if not 0.0 <= clip < 0.5:
            raise ValueError(f"clip must be in [0, 0.5), got {clip}")
        self.reference = reference
        self.clip = clip
        self.non_negative = non_negative
        self.zero_one = zero_one
        self._reset()

    def _reset(self) -> None:
        self._seen: list[float] | None = []
        self._centre = 0.0
        self._spread = 1.0
        self._low = float("-inf")
        self._high = float("inf")

    def reset(self) -> None:
        """Forget the reference (a new model version sets a new one)."""
        self._reset()

    @property
    def ready(self) -> bool:
        """Whether the reference is complete."""
        return self._seen is None

    def update(self, x: float) -> list[float]:
        """The transformed values to feed on: none while collecting, then one per value."""
        seen = self._seen
        if seen is None:
            return [self.transform(x)]
        seen.append(x)
        if len(seen) < self.reference:
            return []
        self._fit(seen)
        self._seen = None
        return [self.transform(v) for v in seen]

    def _fit(self, values: list[float]) -> None:
        n = len(values)
        if self.zero_one:
            rate = sum(values) / n
            sd = math.sqrt(rate * (1.0 - rate))
            self._spread = max(1.0, sd / _ZERO_ONE_SD)
            return
        ordered = sorted(values)
        self._centre = 0.0 if self.non_negative else ordered[n // 2]
        deviations = sorted(abs(v - self._centre) for v in ordered)
        spread = deviations[n // 2] / _MAD_TO_SIGMA
        if spread <= 0.0:  # mostly exact values: fall back on the mean deviation, then on 1
            spread = sum(deviations) / n or 1.0
        self._spread = spread
        cut = int(self.clip * n)
        floor = 0.0 if self.non_negative else -_MIN_CLIP
        self._low = min((ordered[cut] - self._centre) / spread, floor)
        self._high = max((ordered[n - 1 - cut] - self._centre) / spread, _MIN_CLIP)

    def transform(self, x: float) -> float:
        """One value in reference units (once :attr:`ready`; :meth:`update` says when)."""
        value = (x - self._centre) / self._spread
        low, high = self._low, self._high  # min(max(value, low), high), without two calls
        value = low if low > value else value
        return high if high < value else value
