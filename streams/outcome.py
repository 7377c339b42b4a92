"""What stage 1 (join) sends to stage 2 (monitor) over the internal ``outcomes`` topic.

An outcome is one observation of one task: a labelled pair (prediction + label), an unlabelled
score (every prediction head feeds the label-free signals), an expired prediction (its label never
came within the task's budget), a duplicate or orphan label, or a model-version change. Each one
carries its **origin** ``(topic, partition, offset, index, seq)``: the input record that produced it,
the event's index inside an envelope and its rank among the outcomes of that event. Stage 2 keeps a
high-water mark per origin partition, so an outcome re-emitted by a replay is recognised and
skipped.

On the wire an outcome is a JSON object with schema ``driftline.outcome/1`` (internal; several go
in one ``driftline.batch/1`` envelope keyed by ``model/task``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["OUTCOME_SCHEMA", "Origin", "Outcome", "OutcomeKind", "monitor_key"]

OUTCOME_SCHEMA = "driftline.outcome/1"
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
        )
