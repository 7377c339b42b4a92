"""Stage 2's memory of what it applied: recognises outcomes that stage 1 sends again.

Stage 1 sends a checkpoint's outcomes before its own state is durable, so after a crash it
replays input and sends some outcomes a second time, possibly in another order and in other
envelopes (the two input topics interleave differently on every read). Every outcome's origin
is the input event it is *about* plus a rank (see :mod:`streams.join`), the same on every replay,
so stage 2 recognises a repeat by that identity:

* ``unlabelled``, ``predicted``, ``version`` and ``profile`` outcomes come in the order of their
  own input topic, so a high-water mark per (topic, partition) is enough (a ``predicted``
  outcome counts the predictions of one input record, whole, and carries the origin of the last
  of them; ``profile`` outcomes have an origin topic of their own, ``profiles``);
* the others (labelled, expired, late, duplicate, orphan) follow the join's watermark, not the
  input order, so their identities are remembered in groups, one per stage 1 envelope
  *frontier* (the input offsets stage 1 had applied when it sent them). A group is forgotten
  once stage 1 reports a durable checkpoint at or beyond its frontier: stage 1 restarting from
  there can never send those outcomes again, because it already re-created every outcome of
  that input, or stored it in its state.

Examples
--------
>>> from streams.outcome import Outcome
>>> def outcome(kind, origin):
...     return Outcome(kind, "m", "1", "churn", "p", 0.0, origin)
>>> seen = ReplayFilter()
>>> label = outcome("labelled", ("labels", 0, 7, 0, 0))
>>> seen.admit(label, {"labels": 7, "predictions": 9}, durable=None)
True
>>> seen.admit(label, {"labels": 8, "predictions": 9}, durable=None)  # sent again: a repeat
False
>>> seen.admit(outcome("expired", ("predictions", 0, 3, 0, 1)),
...            {"labels": 20, "predictions": 20}, durable={"labels": 9, "predictions": 9})
True
>>> seen.remembered  # the group of frontier (7, 9) is durable now: forgotten
1
"""

from __future__ import annotations

from dataclasses import dataclass, field

from streams.outcome import Outcome

__all__ = ["ReplayFilter"]

_ORDERED = frozenset({"unlabelled", "predicted", "version", "profile"})
_INDEX_BITS = 24
_RANK_BITS = 16


@dataclass(slots=True)
class _Group:
    frontier: dict[str, int]
    ids: dict[str, set[int]] = field(default_factory=dict)  # per input topic


class ReplayFilter:
    """Which outcomes were applied already (picklable; part of a task monitor's state)."""

    def __init__(self) -> None:
        self.high_water: dict[tuple[str, int], tuple[int, int, int]] = {}
        self.groups: dict[int, list[_Group]] = {}

    @property
    def remembered(self) -> int:
        """Identities held for out-of-order outcomes (bounded by about two checkpoints)."""
        return sum(len(ids) for gs in self.groups.values() for g in gs for ids in g.ids.values())

    def admit(
        self, outcome: Outcome, frontier: dict[str, int] | None, durable: dict[str, int] | None
    ) -> bool:
        """``True`` (and remember it) when ``outcome`` is new; ``False`` for a repeat.

        ``frontier`` and ``durable`` come from the stage 1 envelope that carried the outcome.
        """
        topic, partition, offset, index, rank = outcome.origin
        if outcome.kind in _ORDERED:
            mark = (offset, index, rank)
            last = self.high_water.get((topic, partition))
            if last is not None and mark <= last:
                return False
            self.high_water[(topic, partition)] = mark
            return True
        if frontier is None:  # not from stage 1 (a test or benchmark feeding stage 2 directly)
            return True
        groups = self.groups.get(partition)
        if groups is None:  # not setdefault: no empty list made per outcome
            groups = self.groups[partition] = []
        if durable is not None and groups and _within(groups[0].frontier, durable):
            groups[:] = [g for g in groups if not _within(g.frontier, durable)]
        identity = (offset << (_INDEX_BITS + _RANK_BITS)) | (index << _RANK_BITS) | rank
        for group in groups:
            ids = group.ids.get(topic)
            if ids is not None and identity in ids:
                return False
        if not groups or groups[-1].frontier != frontier:
            groups.append(_Group(dict(frontier)))
        ids = groups[-1].ids.get(topic)
        if ids is None:
            ids = groups[-1].ids[topic] = set()
        ids.add(identity)
        return True


def _within(frontier: dict[str, int], durable: dict[str, int]) -> bool:
    for topic, offset in frontier.items():  # noqa: SIM110 (per outcome: no generator)
        if offset > durable.get(topic, -1):
            return False
    return True
