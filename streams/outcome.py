"""What stage 1 (join) sends to stage 2 (monitor) over the internal ``outcomes`` topic.

An outcome is one observation of one task: a labelled pair (prediction + label), an unlabelled
score (every prediction head feeds the label-free signals, when the task has any), a count of
predicted heads (``predicted``: one per input record and model version, for a task with no
label-free signal and no slice, whose monitor needs nothing of a prediction but its count), an
expired prediction (its label never came within the task's budget), a duplicate or orphan label,
a model-version change, or a closed window's feature profile (``profile``, see
:mod:`streams.features.feature_profiles`). Each one
carries its **origin** ``(topic, partition, offset, index, rank)``: the input event it is *about*
(the prediction of an ``unlabelled`` or ``expired`` outcome, the label of the others, the
model update of a ``version``) and a rank that tells apart the outcomes of one event (task, and
for predictions unlabelled or expired). The origin never depends on which record triggered the
outcome, so a replay re-creates it, and stage 2 recognises the repeat
(:class:`~streams.replay_filter.ReplayFilter`).

Each also carries ``tau``, the event time stage 2 applies it at (:mod:`streams.outcome_order`).

On the wire an outcome is a JSON list of its fields (internal; lists encode and decode about
twice as fast as objects, and stage 2 reads one per labelled or unlabelled event). Stage 1 sends
them in ``driftline.outcomes/2`` envelopes keyed by ``model/task``, one per task per checkpoint
(in the order the join produced them), stamped per input partition with its frontier (the
offsets applied when sent), its durable frontier (the offsets of its last completed
checkpoint) and that checkpoint's join watermark.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

__all__ = [
    "OUTCOMES_ENVELOPE",
    "Origin",
    "Outcome",
    "OutcomeKind",
    "encode_outcomes",
    "monitor_key",
]

OUTCOMES_ENVELOPE = "driftline.outcomes/2"
OutcomeKind = Literal[
    "labelled",
    "unlabelled",
    "predicted",
    "expired",
    "duplicate",
    "orphan",
    "late",
    "version",
    "profile",
]
_KINDS = frozenset(OutcomeKind.__args__)  # type: ignore[attr-defined]
_WIRE_FIELDS = 18
_PADDING = [[None] * (_WIRE_FIELDS - n) for n in range(_WIRE_FIELDS + 1)]
"""The ``None`` fields a wire list of ``n`` fields leaves out (unset trailing ones)."""
_NO_TAU = float("-inf")

Origin = tuple[str, int, int, int, int]
"""``(topic, partition, offset, index, seq)`` of the input that produced an outcome."""


def monitor_key(model: str, task: str) -> str:
    """The ``outcomes`` record key of one (model, task): stage 2 is partitioned by it.

    >>> monitor_key("shop", "churn")
    'shop/churn'
    """
    return f"{model}/{task}"


@dataclass(slots=True)
class Outcome:
    """One observation of one task, as stage 2 consumes it.

    Examples
    --------
    >>> o = Outcome("labelled", "shop", "3", "churn", "p-1", 10.0, ("predictions", 0, 5, 0, 0),
    ...             y_pred=0.8, y_true=1)
    >>> Outcome.from_wire(o.to_wire()) == o
    True
    """

    kind: OutcomeKind
    model: str
    model_version: str
    task: str
    prediction_id: str
    t: float
    origin: Origin
    y_pred: Any = None
    y_true: Any = None
    group: str | None = None
    probs: dict[str, float] | None = None
    segments: dict[str, str] = field(default_factory=dict)
    entity_id: str | None = None
    label_t: float | None = None
    features: dict[str, Any] | None = None
    retrained: bool | None = None  # of a ``version``: did that version retrain this task?
    count: int | None = None  # of a ``predicted``: how many predictions it counts
    tau: float = float("-inf")
    """Where stage 2 applies it (:mod:`streams.outcome_order`): an event time that depends on
    the input alone, never below the watermark its source partition had reported."""

    @property
    def order_key(self) -> tuple[float, Origin]:
        """The order stage 2 applies a task's outcomes in: ``(tau, origin)``, unique."""
        return self.tau, self.origin

    @property
    def key(self) -> str:
        """The ``outcomes`` record key (model/task)."""
        return monitor_key(self.model, self.task)

    def to_wire(self) -> list[Any]:
        """The JSON-ready list: fields in declaration order, unset trailing ones left out.

        >>> Outcome("unlabelled", "m", "1", "churn", "p", 1.0, ("predictions", 0, 5, 0, 0),
        ...         y_pred=0.5, tau=2.0).to_wire()
        ['unlabelled', 'm', '1', 'churn', 'p', 1.0, ['predictions', 0, 5, 0, 0], 2.0, 0.5]
        """
        wire = [
            self.kind,
            self.model,
            self.model_version,
            self.task,
            self.prediction_id,
            self.t,
            list(self.origin),
            self.tau if self.tau != _NO_TAU else None,
            self.y_pred,
            self.y_true,
            self.group,
            self.probs,
            self.segments or None,
            self.entity_id,
            self.label_t,
            self.features,
            self.retrained,
            self.count,
        ]
        while wire[-1] is None:
            wire.pop()
        return wire

    @classmethod
    def from_wire(cls, wire: list[Any]) -> Outcome:
        """Rebuild an outcome from :meth:`to_wire`'s list; raise ``ValueError`` when malformed."""
        if not isinstance(wire, list) or not 7 <= len(wire) <= _WIRE_FIELDS:
            raise ValueError(f"an outcome is a list of 7 to {_WIRE_FIELDS} fields")
        if len(wire) < _WIRE_FIELDS:
            wire = wire + _PADDING[len(wire)]
        (
            kind,
            model,
            version,
            task,
            pid,
            t,
            origin,
            tau,
            y_pred,
            y_true,
            group,
            probs,
            segments,
            entity_id,
            label_t,
            features,
            retrained,
            count,
        ) = wire
        if kind not in _KINDS:
            raise ValueError(f"unknown outcome kind {kind!r}")
        topic, partition, offset, index, rank = origin
        if kind == "predicted" and not (isinstance(count, int) and count >= 1):
            raise ValueError(f"a predicted outcome needs a count >= 1, got {count!r}")
        if kind == "profile" and not (
            isinstance(features, dict) and {"window", "partition", "profile"} <= set(features)
        ):
            raise ValueError("a profile outcome needs features {window, partition, profile}")
        return cls(
            kind,
            str(model),
            str(version),
            str(task),
            str(pid),
            float(t),
            (str(topic), int(partition), int(offset), int(index), int(rank)),
            y_pred,
            y_true,
            group,
            probs,
            segments or {},
            entity_id,
            label_t,
            features,
            retrained,
            count,
            _NO_TAU if tau is None else float(tau),
        )


def encode_outcomes(
    items: list[list[Any]],
    frontiers: dict[int, dict[str, int]],
    durables: dict[int, dict[str, int]],
    watermarks: dict[int, float] | None = None,
    owned: Iterable[int] = (),
    idle: Iterable[int] = (),
) -> bytes:
    """One ``driftline.outcomes/2`` envelope of wire lists, with stage 1's progress per partition.

    ``frontiers[p]``: the input offsets partition ``p`` had applied when the envelope was sent;
    ``durables[p]``: those of its last completed checkpoint (absent before the first one);
    ``watermarks[p]``: the join watermark of that checkpoint (no later outcome of ``p`` has a
    smaller ``tau``); ``owned``: the input partitions the sending worker reads now, of which
    ``idle`` are idle (:mod:`streams.idle_sources`). An envelope with no items is a heartbeat.

    >>> encode_outcomes([], {0: {"labels": 4}}, {}, {0: 12.5}, owned=[0, 1], idle=[1])
    b'{"schema":"driftline.outcomes/2","f":{"0":{"labels":4}},"d":{},"w":{"0":12.5},"o":[0,1],"i":[1],"events":[]}'
    """
    envelope = {
        "schema": OUTCOMES_ENVELOPE,
        "f": frontiers,
        "d": durables,
        "w": watermarks or {},
        "o": sorted(owned),
        "i": sorted(idle),
        "events": items,
    }
    return orjson.dumps(envelope, option=orjson.OPT_NON_STR_KEYS)
