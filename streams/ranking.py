"""Ranking metrics River lacks: NDCG@k and MRR over query groups, cumulative or rolling.

Labels of a group arrive one item at a time, so a group's value is recomputed from its items as
they come; the metric is the mean over the last ``window`` groups (``window=None``: all groups,
kept as a running sum of each group's latest value).
"""

from __future__ import annotations

import math
from collections import OrderedDict

__all__ = ["GroupRankingMetric"]


class GroupRankingMetric:
    """NDCG@k or MRR averaged over groups.

    Parameters
    ----------
    kind
        ``"ndcg"`` or ``"mrr"``.
    k
        Cut-off of NDCG@k (and of MRR).
    window
        Groups averaged over (``None``: every group seen).
    max_items
        Items kept per group (the highest scores win).
    open_items
        Items kept in the groups still open to more labels (default 2000). Past it, the oldest
        groups close: without ``window`` their value stays in the mean for good, with one they
        leave it; their items are dropped either way (a later label of a closed group counts
        as a new group). So the state stays bounded however many groups, and items per group,
        a stream has.

    Examples
    --------
    >>> ndcg = GroupRankingMetric("ndcg", k=3)
    >>> for score, relevance in [(0.9, 1), (0.5, 0), (0.1, 1)]:
    ...     ndcg.update("q1", score, relevance)
    >>> round(ndcg.get(), 4)
    0.9197
    >>> mrr = GroupRankingMetric("mrr", k=3)
    >>> mrr.update("q1", 0.9, 0); mrr.update("q1", 0.5, 1)
    >>> mrr.get()
    0.5
    >>> bounded = GroupRankingMetric("mrr", k=3, open_items=2)
    >>> for group in ["q1", "q2", "q3"]:
    ...     bounded.update(group, 0.9, 1)
    >>> len(bounded._groups), bounded.get()  # q1 closed: its value kept, its items dropped
    (2, 1.0)
    """

    _closed_total = 0.0  # class defaults: a state stored before groups could close has none
    _closed_count = 0
    _items = 0

    def __init__(
        self,
        kind: str,
        k: int = 10,
        window: int | None = None,
        max_items: int = 100,
        open_items: int = 2000,
    ) -> None:
        if kind not in ("ndcg", "mrr"):
            raise ValueError(f"kind must be 'ndcg' or 'mrr', got {kind!r}")
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        self.kind = kind
        self.k = k
        self.window = window
        self.max_items = max_items
        self.open_items = max(1, open_items)
        self._reset()

    def _reset(self) -> None:
        self._groups: OrderedDict[str, list[tuple[float, float]]] = OrderedDict()
        self._values: dict[str, float] = {}
        self._total = 0.0
        self._closed_total = 0.0
        self._closed_count = 0
        self._items = 0

    def update(self, group: str, score: float, relevance: float) -> None:
        """Add one labelled item of ``group``."""
        items = self._groups.get(group)
        if items is None:
            items = self._groups[group] = []
            if self.window is not None and len(self._groups) > self.window:
                old, dropped = self._groups.popitem(last=False)
                self._items -= len(dropped)
                self._total -= self._values.pop(old, 0.0)
        else:
            self._groups.move_to_end(group)
        items.append((float(score), float(relevance)))
        self._items += 1
        if len(items) > self.max_items:
            items.sort(reverse=True)
            self._items -= len(items) - self.max_items
            del items[self.max_items :]
        value = self._ndcg(items) if self.kind == "ndcg" else self._mrr(items)
        self._total += value - self._values.get(group, 0.0)
        self._values[group] = value
        self._close_oldest(group)

    def _close_oldest(self, keep: str) -> None:
        """Close the oldest groups while the kept ones hold more than ``open_items`` items
        (with a ``window`` they leave it; without, their value stays in the mean)."""
        while self._items > self.open_items and len(self._groups) > 1:
            old = next(iter(self._groups))
            if old == keep:
                break
            self._items -= len(self._groups.pop(old))
            value = self._values.pop(old, 0.0)
            self._total -= value
            if self.window is None:
                self._closed_total += value
                self._closed_count += 1

    def get(self) -> float:
        """The mean over groups (0.0 before any group)."""
        count = len(self._values) + self._closed_count
        return (self._total + self._closed_total) / count if count else 0.0

    def _ndcg(self, items: list[tuple[float, float]]) -> float:
        ranked = sorted(items, key=lambda item: -item[0])[: self.k]
        ideal = sorted((rel for _, rel in items), reverse=True)[: self.k]
        dcg = sum((2**rel - 1) / math.log2(i + 2) for i, (_, rel) in enumerate(ranked))
        idcg = sum((2**rel - 1) / math.log2(i + 2) for i, rel in enumerate(ideal))
        return dcg / idcg if idcg > 0 else 0.0

    def _mrr(self, items: list[tuple[float, float]]) -> float:
        ranked = sorted(items, key=lambda item: -item[0])[: self.k]
        for i, (_, rel) in enumerate(ranked):
            if rel > 0:
                return 1.0 / (i + 1)
        return 0.0
