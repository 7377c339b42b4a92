"""Mergeable summaries of one feature in one window: quantiles (numeric) or counts (categorical)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import math
import numbers
import struct
from typing import Any

import numpy as np
from datasketches import kll_floats_sketch

__all__ = ["CategoricalSketch", "NumericSketch", "sketch_from_wire"]

_K = 200  # KLL accuracy: about 1.3 % normalised rank error (Apache DataSketches)
_MAX_CATEGORIES = 1000
MAX_CATEGORY_CHARS = 64
"""A longer categorical value is counted under its first 48 characters, ``…`` and 15 hex digits
of its blake2b hash (still one key per value, almost surely): 1000 values of any length keep a
sketch under about 70 kB of ASCII, where free text (a query, a user agent) could fill memory."""
OTHER = "__other__"
_MAX_SKETCH_BYTES = 1 << 20  # a k=200 sketch of 2**60 values is under 10 kB


class NumericSketch:
    """Quantiles of a numeric feature: an Apache DataSketches KLL sketch, plus a missing count.

    Mergeable (the sketch of two partitions' windows is their merge) and serialisable.

    Parameters
    ----------
    k
        KLL accuracy parameter (200: about 1.3 % rank error).

    Examples
    --------
    >>> a, b = NumericSketch(), NumericSketch()
    >>> for i in range(100):
    ...     a.update(i)
    ...     b.update(100 + i)
    >>> b.update(None)
    >>> a.merge(b)
    >>> a.count, a.missing, round(a.quantile(0.5))
    (200, 1, 100)
    >>> NumericSketch.from_wire(a.to_wire()).count
    200
    """

    kind = "numeric"

    def __init__(self, k: int = _K) -> None:
        self.k = k
        self._reset()

    def _reset(self) -> None:
        self._sketch = kll_floats_sketch(self.k)
        self._add = self._sketch.update  # the hot path: one bound call per value
        self.missing = 0

    @property
    def count(self) -> int:
        """Values summarised (missing ones not included)."""
        return int(self._sketch.n)

    @property
    def rank_error(self) -> float:
        """The sketch's normalised rank error (its CDF is within this of the exact one)."""
        return 0.0 if self.count == 0 else float(self._sketch.normalized_rank_error(False))

    def update(self, value: Any) -> None:
        """Add one value; ``None``, non-numbers and non-finite numbers count as missing."""
        kind = type(value)
        if (kind is float or kind is int) and math.isfinite(value):
            self._add(value)
        elif isinstance(value, numbers.Real) and kind is not bool and math.isfinite(value):
            self._add(float(value))  # numpy scalars and the like (a training frame's rows)
        else:
            self.missing += 1

    def update_many(self, values: Any) -> None:
        """Add a column of values (a training frame's) at once, as :meth:`update` would each.

        >>> sketch = NumericSketch()
        >>> sketch.update_many(np.array([1.0, np.nan, 3.0]))
        >>> sketch.update_many([2, None, "4"])
        >>> sketch.count, sketch.missing
        (3, 3)
        """
        array = np.asarray(values)
        if array.dtype.kind not in "fiu":  # objects, strings, booleans: one by one
            for value in array.reshape(-1).tolist():
                self.update(value)
            return
        array = array.reshape(-1).astype(np.float64, copy=False)
        finite = array[np.isfinite(array)]
        self.missing += int(array.size - finite.size)
        if finite.size:
            self._add(finite)

    def merge(self, other: NumericSketch) -> None:
        """Add another sketch of the same feature (another partition, another window)."""
        self._sketch.merge(other._sketch)
        self.missing += other.missing

    def cdf(self, points: list[float]) -> list[float]:
        """The estimated share of values at or below each of ``points`` (ascending)."""
        if self.count == 0:
            return [0.0] * len(points)
        return [float(v) for v in self._sketch.get_cdf(points)[:-1]]

    def quantile(self, rank: float) -> float:
        """The estimated value at ``rank`` in [0, 1]."""
        return float(self._sketch.get_quantile(rank))

    def quantiles(self, ranks: list[float]) -> list[float]:
        """The estimated values at each of ``ranks``."""
        return [float(v) for v in self._sketch.get_quantiles(ranks)]

    def to_wire(self) -> list[Any]:
        """A JSON-ready form (the sketch's bytes in base64)."""
        return ["n", base64.b64encode(self._sketch.serialize()).decode(), self.missing]

    @classmethod
    def from_wire(cls, wire: list[Any]) -> NumericSketch:
        """Rebuild from :meth:`to_wire`; ``ValueError`` when malformed (the sketch's bytes are
        checked before the library reads them: see :func:`kll_from_bytes`)."""
        if not isinstance(wire[1], str):
            raise ValueError("a numeric sketch's data is a base64 string")
        try:
            data = base64.b64decode(wire[1], validate=True)
        except binascii.Error as exc:
            raise ValueError(f"a numeric sketch's data is not base64: {exc}") from None
        sketch = cls()
        sketch._sketch = kll_from_bytes(data)
        sketch._add = sketch._sketch.update
        sketch.missing = _count(wire[2], "missing")
        return sketch

    def __getstate__(self) -> dict[str, Any]:
        return {"k": self.k, "wire": self.to_wire()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.k = state["k"]
        self._sketch = kll_from_bytes(base64.b64decode(state["wire"][1]))
        self._add = self._sketch.update
        self.missing = int(state["wire"][2])


class CategoricalSketch:
    """Counts of a categorical feature's values (at most 1 000 distinct ones; the rest are
    counted as ``__other__``), plus a missing count. Exact and mergeable.

    Examples
    --------
    >>> a, b = CategoricalSketch(), CategoricalSketch()
    >>> for v in ["DE", "FR", "DE", None]:
    ...     a.update(v)
    >>> b.update("DE")
    >>> a.merge(b)
    >>> a.counts, a.count, a.missing
    ({'DE': 3, 'FR': 1}, 4, 1)
    """

    kind = "categorical"

    def __init__(self, max_categories: int = _MAX_CATEGORIES) -> None:
        self.max_categories = max_categories
        self._reset()

    def _reset(self) -> None:
        self.counts: dict[str, int] = {}
        self.missing = 0

    @property
    def count(self) -> int:
        """Values counted (missing ones not included)."""
        return sum(self.counts.values())

    def update(self, value: Any) -> None:
        """Count one value (``None`` is missing; anything else by its string form)."""
        if value is None:
            self.missing += 1
            return
        key = category_key(value)
        if key not in self.counts and len(self.counts) >= self.max_categories:
            key = OTHER
        self.counts[key] = self.counts.get(key, 0) + 1

    def merge(self, other: CategoricalSketch) -> None:
        """Add another sketch of the same feature."""
        for key, n in other.counts.items():
            if key not in self.counts and len(self.counts) >= self.max_categories:
                key = OTHER
            self.counts[key] = self.counts.get(key, 0) + n
        self.missing += other.missing

    def to_wire(self) -> list[Any]:
        """A JSON-ready form."""
        return ["c", self.counts, self.missing]

    def update_many(self, values: Any) -> None:
        """Count a column of values (a training frame's) at once, as :meth:`update` would each,
        except that NaN (a frame's missing value) is missing too.

        >>> sketch = CategoricalSketch()
        >>> sketch.update_many(np.array(["DE", None, np.nan, "DE", True], dtype=object))
        >>> sketch.counts, sketch.missing
        ({'DE': 2, 'True': 1}, 2)
        """
        for value in np.asarray(values, dtype=object).reshape(-1).tolist():
            if isinstance(value, float) and math.isnan(value):
                value = None
            self.update(value)

    @classmethod
    def from_wire(cls, wire: list[Any]) -> CategoricalSketch:
        """Rebuild from :meth:`to_wire`; ``ValueError`` when malformed."""
        if not isinstance(wire[1], dict):
            raise ValueError("a categorical sketch's data is an object of counts")
        sketch = cls()
        if len(wire[1]) > sketch.max_categories + 1:
            raise ValueError(f"a categorical sketch holds at most {sketch.max_categories} values")
        for key, n in wire[1].items():  # keys of a profile written before keys were shortened
            short = category_key(key)
            sketch.counts[short] = sketch.counts.get(short, 0) + _count(n, f"count of {key!r}")
        sketch.missing = _count(wire[2], "missing")
        return sketch


def category_key(value: Any) -> str:
    """The key a categorical value is counted under: its string form, shortened past
    :data:`MAX_CATEGORY_CHARS`.

    >>> category_key("DE"), category_key(True)
    ('DE', 'True')
    >>> key = category_key("Mozilla/5.0 " * 20)
    >>> len(key), key[:12], key == category_key("Mozilla/5.0 " * 20)
    (64, 'Mozilla/5.0 ', True)
    """
    key = str(value)
    if len(key) <= MAX_CATEGORY_CHARS:
        return key
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
    return key[:48] + "…" + digest[:15]


def sketch_from_wire(wire: list[Any]) -> NumericSketch | CategoricalSketch:
    """Either sketch from its wire form; ``ValueError`` when malformed."""
    if not isinstance(wire, list) or len(wire) != 3 or wire[0] not in ("n", "c"):
        raise ValueError("a feature sketch is [kind, data, missing] with kind 'n' or 'c'")
    return NumericSketch.from_wire(wire) if wire[0] == "n" else CategoricalSketch.from_wire(wire)


def _count(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{what} must be a count (an integer >= 0), not {value!r}")
    return value


# ---------------------------------------------------------------------- KLL bytes, checked
# The DataSketches library reads a serialized sketch without checking that its parts agree, and
# bytes that do not (a corrupt file, a hostile record) can crash the process. So the layout is
# checked here first, in Python, against the format of datasketches-cpp's kll_sketch:
# 8 bytes of preamble (preamble ints, serial version, family 15, flags, k, m), then for a sketch
# of 2+ values n (u64), min_k (u16), the number of levels (u8), one unused byte, the start of
# each level (u32; the end of the last is the capacity that k, m and the levels imply), min and
# max, then the retained items (float32). An empty sketch is the preamble alone; a sketch of one
# value the preamble and that value.

_KLL_FAMILY = 15
_KLL_M = 8
_EMPTY, _LEVEL_ZERO_SORTED, _SINGLE_ITEM = 1, 2, 4


def kll_from_bytes(data: bytes) -> kll_floats_sketch:
    """A KLL floats sketch from its serialized bytes, checked first; ``ValueError`` when they
    are not a sketch the library wrote (never a crash of the process).

    >>> sketch = kll_floats_sketch(200)
    >>> sketch.update(np.arange(1000.0))
    >>> kll_from_bytes(sketch.serialize()).n
    1000
    >>> kll_from_bytes(sketch.serialize()[:-4])
    Traceback (most recent call last):
    ...
    ValueError: malformed KLL sketch: 1332 bytes, its levels need 1336
    """
    _check_kll(bytes(data))
    try:
        sketch = kll_floats_sketch.deserialize(bytes(data))
    except Exception as exc:  # the checks above should have caught it
        raise ValueError(f"malformed KLL sketch: {exc}") from None
    if sketch.serialize() != data:
        raise ValueError("malformed KLL sketch: it does not read back to the same bytes")
    return sketch


def _check_kll(data: bytes) -> None:
    def bad(why: str) -> ValueError:
        return ValueError(f"malformed KLL sketch: {why}")

    if not 8 <= len(data) <= _MAX_SKETCH_BYTES:
        raise bad(f"{len(data)} bytes")
    preamble, serial, family, flags, k, m = struct.unpack_from("<BBBBHB", data)
    if family != _KLL_FAMILY or m != _KLL_M or k < _KLL_M or flags & ~0b111:
        raise bad(f"family {family}, k {k}, m {m}, flags {flags}")
    if flags & _EMPTY:
        if preamble != 2 or serial not in (1, 2) or len(data) != 8:
            raise bad("an empty sketch is 8 bytes")
        return
    if flags & _SINGLE_ITEM:
        if preamble != 2 or serial != 2 or len(data) != 12:
            raise bad("a sketch of one value is 12 bytes")
        if np.isnan(np.frombuffer(data, "<f4", 1, 8)).any():
            raise bad("NaN value")
        return
    if preamble != 5 or serial != 1 or len(data) < 20:
        raise bad(f"preamble {preamble}, serial version {serial}, {len(data)} bytes")
    n, min_k, levels = struct.unpack_from("<QHB", data, 8)
    if not _KLL_M <= min_k <= k or not 1 <= levels <= 61:
        raise bad(f"min_k {min_k}, {levels} levels")
    items_at = 20 + 4 * levels + 8
    if len(data) < items_at:
        raise bad(f"{len(data)} bytes, {levels} levels")
    starts = [*struct.unpack_from(f"<{levels}I", data, 20), _capacity(k, levels)]
    if any(a > b for a, b in itertools.pairwise(starts)):
        raise bad("levels out of order")
    retained = starts[-1] - starts[0]
    if len(data) != items_at + 4 * retained:
        raise bad(f"{len(data)} bytes, its levels need {items_at + 4 * retained}")
    if n != sum((b - a) << h for h, (a, b) in enumerate(itertools.pairwise(starts))) or n < 2:
        raise bad(f"n {n} is not the weight of its items")
    low, high = np.frombuffer(data, "<f4", 2, items_at - 8)
    items = np.frombuffer(data, "<f4", retained, items_at)
    if np.isnan(items).any() or not low <= high or not low <= items.min() <= items.max() <= high:
        raise bad("items outside [min, max], or NaN")
    first = 0 if flags & _LEVEL_ZERO_SORTED else 1
    for a, b in itertools.pairwise(starts[first:]):
        level = items[a - starts[0] : b - starts[0]]
        if (level[1:] < level[:-1]).any():
            raise bad("a level is not sorted")


def _capacity(k: int, levels: int) -> int:
    """Items a sketch with ``levels`` levels holds (kll_helper::compute_total_capacity)."""
    return sum(max(_KLL_M, _level_width(k, levels - height - 1)) for height in range(levels))


def _level_width(k: int, depth: int) -> int:
    if depth <= 30:
        return _width(k, depth)
    half = depth // 2
    return _width(_width(k, half), depth - half)


def _width(k: int, depth: int) -> int:
    return (((k << 1) << depth) // int(3**depth) + 1) >> 1
