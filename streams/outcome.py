"""What stage 1 (join) sends to stage 2 (monitor) over the internal ``outcomes`` topic.

An outcome is one observation of one task: a labelled pair (prediction + label), an unlabelled
score (every prediction head feeds the label-free signals), an expired prediction (its label never
came within the task's budget), a duplicate or orphan label, or a model-version change. Each one
carries its **origin** ``(topic, partition, offset, index, rank)``: the input event it is *about*
(the prediction of an ``unlabelled`` or ``expired`` outcome, the label of the others, the
model update of a ``version``) and a rank that tells apart the outcomes of one event (task, and
for predictions unlabelled or expired). The origin never depends on which record triggered the
outcome, so a replay re-creates it, and stage 2 recognises the repeat
(:class:`~streams.replay_filter.ReplayFilter`).

On the wire an outcome is a JSON object with schema ``driftline.outcome/1`` (internal). Stage 1
sends them in ``driftline.outcomes/1`` envelopes keyed by ``model/task``, one per task per
checkpoint (in the order the join produced them), stamped per input partition with its
frontier (the offsets applied when sent) and its durable frontier (the offsets of its last
completed checkpoint).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "OUTCOMES_ENVELOPE",
    "OUTCOME_SCHEMA",
    "Origin",
    "Outcome",
    "OutcomeKind",
    "encode_outcomes",
    "monitor_key",
]

OUTCOME_SCHEMA = "driftline.outcome/1"
OUTCOMES_ENVELOPE = "driftline.outcomes/1"
OutcomeKind = Literal["labelled", "unlabelled", "expired", "duplicate", "orphan", "late", "version"]

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

    @property
    def key(self) -> str:
        """The ``outcomes`` record key (model/task)."""
        return monitor_key(self.model, self.task)

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready dict (compact field names)."""
        wire: dict[str, Any] = {
            "schema": OUTCOME_SCHEMA,
            "k": self.kind,
            "m": self.model,
            "v": self.model_version,
            "task": self.task,
            "id": self.prediction_id,
            "t": self.t,
            "o": list(self.origin),
        }
        for name, value in (
            ("yp", self.y_pred),
            ("yt", self.y_true),
            ("g", self.group),
            ("pr", self.probs),
            ("s", self.segments or None),
            ("e", self.entity_id),
            ("lt", self.label_t),
            ("f", self.features),
            ("rt", self.retrained),
        ):
            if value is not None:
                wire[name] = value
        return wire

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> Outcome:
        """Rebuild an outcome from :meth:`to_wire`'s dict; raise ``KeyError``/``TypeError``."""
        topic, partition, offset, index, seq = wire["o"]
        return cls(
            kind=wire["k"],
            model=wire["m"],
            model_version=wire["v"],
            task=wire["task"],
            prediction_id=wire["id"],
            t=float(wire["t"]),
            origin=(str(topic), int(partition), int(offset), int(index), int(seq)),
            y_pred=wire.get("yp"),
            y_true=wire.get("yt"),
            group=wire.get("g"),
            probs=wire.get("pr"),
            segments=wire.get("s") or {},
            entity_id=wire.get("e"),
            label_t=wire.get("lt"),
            features=wire.get("f"),
            retrained=wire.get("rt"),
        )


def encode_outcomes(
    items: list[dict[str, Any]],
    frontiers: dict[int, dict[str, int]],
    durables: dict[int, dict[str, int]],
) -> bytes:
    """One ``driftline.outcomes/1`` envelope of wire dicts, with stage 1's progress per partition.

    ``frontiers[p]``: the input offsets partition ``p`` had applied when the envelope was sent;
    ``durables[p]``: those of its last completed checkpoint (absent before the first one).

    >>> encode_outcomes([], {0: {"labels": 4}}, {})
    b'{"schema":"driftline.outcomes/1","f":{"0":{"labels":4}},"d":{},"events":[]}'
    """
    envelope = {"schema": OUTCOMES_ENVELOPE, "f": frontiers, "d": durables, "events": items}
    return json.dumps(envelope, separators=(",", ":")).encode()
