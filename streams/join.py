"""Stage 1 logic: join predictions with their per-task labels, in event time.

One :class:`LabelJoin` holds the join state of one input partition (``predictions`` and ``labels``
are co-partitioned by ``prediction_id``). It knows nothing of Faust: the app feeds it validated
records with their origin and sends the outcomes it returns.

Rules
-----
* A prediction emits one ``unlabelled`` outcome per head at once (label-free signals) and waits
  for its labels. A task whose monitor needs no score (no ``signal: score`` detector, no slice:
  :attr:`~driftline.config.models.TaskConfig.needs_scores`) gets one ``predicted`` outcome per
  input record and model version instead, counting its heads (:meth:`LabelJoin.end_record`):
  half of all outcomes were ``unlabelled`` ones that stage 2 only counted. A label joins when
  its own event time is within ``prediction time + tasks.<t>.label_delay`` (the budget).
* Time is the partition's **watermark**: the smaller of the prediction stream time and the label
  stream time (the largest event time seen on each). A prediction is kept until the watermark
  passes ``prediction time + 1.5 × label_delay`` (half a budget of slack for labels out of
  order); a task with no label joined by then is ``expired`` (counted: label coverage). Both
  streams must have passed that time, so how Faust interleaves the two topics (a backlog of one
  read before the other, as after a restart) never expires anything: with labels and
  predictions each out of order by less than half a budget, the outcomes are the same for every
  interleaving.
* A label outside the budget is ``late``; a second label for a task already joined is a
  ``duplicate``: counted, never joined twice.
* A label before its prediction waits (at most ``max_early_labels`` per partition, oldest out
  first) until its prediction comes or the watermark passes ``label time + label_delay``; then
  it is an ``orphan``.
* State is stored by :class:`streams.join_log.JoinLog`: each checkpoint writes the entries that
  changed (a delta) and rewrites a few of the ``buckets`` (hash of ``prediction_id``) whole, so
  it costs what changed, not the buffer's size. The stored state carries the input offsets it
  reflects; a replayed event whose offset is not beyond them is skipped (stream times still
  advance, so expiry replays the same).
* Every outcome's origin is the input event it is *about* (the prediction for ``unlabelled`` and
  ``expired``, the label for the others), never the record that happened to trigger it, so a
  replay that reads the two topics in another interleaving re-creates the same origins (see
  :class:`streams.replay_filter.ReplayFilter`).
"""

from __future__ import annotations

import heapq
import pickle
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from driftline.config.models import DriftlineConfig
from streams.errors import CheckpointError
from streams.join_log import JoinLog, Write
from streams.outcome import Origin, Outcome
from streams.records import LabelRecord, PredictionRecord

__all__ = ["LabelJoin"]

_NO_TIME = float("-inf")
_RETIRE = "\uffff"
"""Task marker of an entry's removal: sorts after every task name, so expiries come first."""
_KEEP = 1.5
"""Predictions are kept for this many label budgets (in label stream time): out-of-order slack."""


Where = tuple[str, int, int, int]
"""``(topic, partition, offset, index)`` of one input event."""


@dataclass(slots=True)
class _Tally:
    count: int
    t: float
    origin: Origin  # of the last prediction counted
    prediction_id: str


@dataclass(slots=True)
class _Entry:
    prediction: PredictionRecord | None = None
    joined: set[str] = field(default_factory=set)
    expired: set[str] = field(default_factory=set)
    early: dict[str, tuple[Any, float, Where]] = field(default_factory=dict)
    where: Where | None = None  # of the prediction
    # the prediction pickled, once: it never changes, the labels and expiries around it do
    stored: bytes | None = field(default=None, compare=False, repr=False)


class LabelJoin:
    """The join buffer of one input partition.

    Parameters
    ----------
    config
        The loaded ``driftline.yaml`` (model, tasks and their ``label_delay``).
    max_early_labels
        Labels waiting for their prediction in this partition, at most.
    buckets
        How many state values the buffer is split into (each value stays far below 1 MB).

    Examples
    --------
    >>> from driftline.config import parse_config
    >>> cfg = parse_config("model: m\\ntasks:\\n  churn: {type: binary, label_delay: 60}\\n")
    >>> join = LabelJoin(cfg)
    >>> p = PredictionRecord("p-1", "m", "1", "e-1", 0.0, {"churn": {"score": 0.9}})
    >>> join.add(p, ("predictions", 0, 0, 0))  # churn needs no score: only counted
    []
    >>> [(o.kind, o.count) for o in join.end_record()]
    [('predicted', 1)]
    >>> [(o.kind, o.y_pred, o.y_true) for o in join.add(LabelRecord("p-1", "churn", 1, 5.0),
    ...                                                 ("labels", 0, 0, 0))]
    [('labelled', 0.9, 1)]
    >>> join.pending
    1
    """

    def __init__(
        self, config: DriftlineConfig, max_early_labels: int = 100_000, buckets: int = 64
    ) -> None:
        if buckets < 1:
            raise ValueError(f"buckets must be >= 1, got {buckets}")
        self.config = config
        self.max_early_labels = max_early_labels
        self.buckets = buckets
        self._reset()

    def _reset(self) -> None:
        self._delay = {name: task.label_delay for name, task in self.config.tasks.items()}
        self._rank = {name: rank for rank, name in enumerate(sorted(self.config.tasks))}
        self._features = self.config.monitor.feature_sink
        self._multiclass = {n for n, t in self.config.tasks.items() if t.type == "multiclass"}
        self._counted = {n for n, t in self.config.tasks.items() if not t.needs_scores}
        self._tally: dict[tuple[str, str, str], _Tally] = {}  # (model, version, task): this record
        self._entries: list[dict[str, _Entry]] = [{} for _ in range(self.buckets)]
        self._log = JoinLog(self.buckets)
        self._stamp: dict[str, int] = {}  # input offsets the stored state reflects
        self._changed: dict[str, int] = {}  # prediction ids changed since the last checkpoint
        self._applied: dict[str, int] = {}
        # (time, prediction_id, the tasks then due, in name order, and _RETIRE after the last)
        self._deadlines: list[tuple[float, str, tuple[str, ...]]] = []
        self._early: list[tuple[float, str, str]] = []  # (label time, prediction_id, task)
        self._early_count = 0
        self.watermark = _NO_TIME
        self.prediction_time = _NO_TIME
        self.label_time = _NO_TIME
        self.skipped = 0

    # ------------------------------------------------------------------------------ processing

    @property
    def pending(self) -> int:
        """Prediction ids held (with or without their prediction)."""
        return sum(len(bucket) for bucket in self._entries)

    @property
    def early_labels(self) -> int:
        """Labels waiting for their prediction."""
        return self._early_count

    def bucket_of(self, prediction_id: str) -> int:
        """The state bucket of a prediction id (stable across processes: CRC32)."""
        return zlib.crc32(prediction_id.encode()) % self.buckets

    def add(self, record: PredictionRecord | LabelRecord, where: Where) -> list[Outcome]:
        """Apply one validated event read at ``where`` = (topic, partition, offset, index).

        Returns the outcomes it produces, in a deterministic order; a replayed event (offset not
        beyond its bucket's) produces only the expiries its event time causes.
        """
        topic, _, offset, _ = where
        out: list[Outcome] = []
        b = self.bucket_of(record.prediction_id)
        if offset > self._stamp.get(topic, -1):
            if isinstance(record, PredictionRecord):
                self._add_prediction(b, record, where, out)
                self._expire_predictions(out)
            else:
                self._add_label(b, record, where, out)
            self._changed[record.prediction_id] = b
        else:
            self.skipped += 1
        if isinstance(record, LabelRecord):
            if record.t > self.label_time:
                self.label_time = record.t
        elif record.t > self.prediction_time:
            self.prediction_time = record.t
        watermark = min(self.prediction_time, self.label_time)
        if watermark > self.watermark:
            self.watermark = watermark
            self._expire_predictions(out)
            self._expire_early_labels(out)
        return out

    def mark_applied(self, topic: str, offset: int) -> None:
        """Record that the partition's state reflects ``topic`` up to ``offset``.

        Called once per Kafka record, after all events of an envelope were added; the offsets are
        stamped on each bucket when a checkpoint writes it.
        """
        if offset > self._applied.get(topic, -1):
            self._applied[topic] = offset

    def frontier(self) -> dict[str, int]:
        """The highest offset applied per topic (what the state reflects once checkpointed)."""
        return dict(self._applied)

    def _about_prediction(self, where: Where, task: str, expired: bool) -> Origin:
        return (*where, 2 * self._rank[task] + expired)

    @staticmethod
    def _about_label(where: Where) -> Origin:
        return (*where, 0)

    def _add_prediction(
        self,
        b: int,
        p: PredictionRecord,
        where: Where,
        out: list[Outcome],
    ) -> None:
        entry = self._entries[b].get(p.prediction_id)
        if entry is not None and entry.prediction is not None:
            return  # the same prediction twice: the first one counts
        if entry is None:
            entry = self._entries[b][p.prediction_id] = _Entry()
        entry.prediction = p
        entry.where = where
        for task, output in p.outputs.items():
            origin = self._about_prediction(where, task, expired=False)
            if task in self._counted:
                self._count(p, task, origin)
            else:
                out.append(self._outcome("unlabelled", p, task, output, origin))
        self._schedule_prediction(p)
        for task, (label, label_t, label_where) in sorted(entry.early.items()):
            self._early_count -= 1
            origin = self._about_label(label_where)
            if task in p.outputs:
                kind = "labelled" if label_t <= p.t + self._delay[task] else "late"
                outcome = self._outcome(kind, p, task, p.outputs[task], origin)
                outcome.y_true, outcome.label_t = label, label_t
                if kind == "labelled":
                    entry.joined.add(task)
                out.append(outcome)
            else:
                out.append(self._orphan(p.prediction_id, task, label_t, origin))
        entry.early.clear()

    def _add_label(
        self,
        b: int,
        label: LabelRecord,
        where: Where,
        out: list[Outcome],
    ) -> None:
        origin = self._about_label(where)
        entry = self._entries[b].get(label.prediction_id)
        if entry is None:
            entry = self._entries[b][label.prediction_id] = _Entry()
        p = entry.prediction
        if p is None:
            if label.task in entry.early:
                out.append(self._bare("duplicate", label, origin))
                return
            entry.early[label.task] = (label.label, label.t, where)
            self._schedule_early(label.prediction_id, label.task, label.t)
            while self._early_count > self.max_early_labels:
                self._pop_early(out)
            return
        output = p.outputs.get(label.task)
        if output is None:
            out.append(self._orphan(label.prediction_id, label.task, label.t, origin))
            return
        if label.task in entry.joined:
            kind = "duplicate"
        elif label.task in entry.expired or label.t > p.t + self._delay[label.task]:
            kind = "late"
        else:
            entry.joined.add(label.task)
            kind = "labelled"
        outcome = self._outcome(kind, p, label.task, output, origin)
        outcome.y_true, outcome.label_t = label.label, label.t
        out.append(outcome)

    def _count(self, p: PredictionRecord, task: str, origin: Origin) -> None:
        key = (p.model, p.model_version, task)
        tally = self._tally.get(key)
        if tally is None:
            self._tally[key] = _Tally(1, p.t, origin, p.prediction_id)
        else:
            tally.count += 1
            tally.t = max(tally.t, p.t)
            tally.origin, tally.prediction_id = origin, p.prediction_id

    def end_record(self) -> list[Outcome]:
        """The ``predicted`` outcomes of the input record just added, ordered by origin.

        One per (model, version, task) counted in the record, with the origin of its last
        prediction (stage 2 keeps a high-water mark of those) and the latest event time. A
        replay re-creates them whole: a record is applied whole or skipped whole.
        """
        if not self._tally:
            return []
        out = [
            Outcome(
                "predicted",
                model,
                version,
                task,
                tally.prediction_id,
                tally.t,
                tally.origin,
                count=tally.count,
            )
            for (model, version, task), tally in self._tally.items()
        ]
        self._tally = {}
        out.sort(key=lambda outcome: outcome.origin)
        return out

    def _schedule_prediction(self, p: PredictionRecord) -> None:
        """Queue each head's expiry and the entry's removal (with the last heads'): one heap
        item per distinct deadline, so tasks with the same label delay cost one push and pop."""
        due: dict[float, list[str]] = {}
        for task in p.outputs:
            due.setdefault(p.t + self._delay.get(task, 0.0) * _KEEP, []).append(task)
        last = max(due, default=_NO_TIME)
        due.setdefault(last, []).append(_RETIRE)
        for deadline, tasks in due.items():
            heapq.heappush(self._deadlines, (deadline, p.prediction_id, tuple(sorted(tasks))))

    def _schedule_early(self, pid: str, task: str, label_t: float) -> None:
        """Count a label waiting for its prediction and queue its end as an orphan."""
        self._early_count += 1
        heapq.heappush(self._early, (label_t + self._delay.get(task, 0.0), pid, task))

    def _expire_predictions(self, out: list[Outcome]) -> None:
        heap = self._deadlines
        while heap and heap[0][0] < self.watermark:
            _, pid, tasks = heapq.heappop(heap)
            b = self.bucket_of(pid)
            entry = self._entries[b].get(pid)
            if entry is None or entry.prediction is None:
                continue
            self._changed[pid] = b
            for task in tasks:
                if task == _RETIRE:
                    del self._entries[b][pid]
                elif task not in entry.joined and task not in entry.expired:
                    entry.expired.add(task)
                    p = entry.prediction
                    assert entry.where is not None
                    origin = self._about_prediction(entry.where, task, expired=True)
                    out.append(self._outcome("expired", p, task, p.outputs[task], origin))

    def _expire_early_labels(self, out: list[Outcome]) -> None:
        early = self._early
        while early and early[0][0] < self.watermark:
            self._pop_early(out)

    def _pop_early(self, out: list[Outcome]) -> None:
        _, pid, task = heapq.heappop(self._early)
        b = self.bucket_of(pid)
        entry = self._entries[b].get(pid)
        if entry is None or entry.prediction is not None or task not in entry.early:
            return
        _, label_t, label_where = entry.early.pop(task)
        self._early_count -= 1
        self._changed[pid] = b
        if not entry.early:
            del self._entries[b][pid]
        out.append(self._orphan(pid, task, label_t, self._about_label(label_where)))

    # ------------------------------------------------------------------------------ outcomes

    def _outcome(
        self, kind: Any, p: PredictionRecord, task: str, output: dict[str, Any], origin: Origin
    ) -> Outcome:
        # the first field that is set: producers (the SDK among them) may send unused ones as null
        if task in self._multiclass:
            y_pred = output.get("label")
        else:
            y_pred = output.get("score")
            if y_pred is None:
                y_pred = output.get("value")
                if y_pred is None:
                    y_pred = output.get("label")
        return Outcome(
            kind,
            p.model,
            p.model_version,
            task,
            p.prediction_id,
            p.t,
            origin,
            y_pred=y_pred,
            group=output.get("group"),
            probs=output.get("probs"),
            segments=p.segments,
            entity_id=p.entity_id,
            # labelled outcomes carry the features to the Feast sink, when there is one
            features=p.features if kind == "labelled" and self._features else None,
        )

    def _orphan(self, pid: str, task: str, t: float, origin: Origin) -> Outcome:
        return Outcome("orphan", self.config.model, "", task, pid, t, origin)

    def _bare(self, kind: Any, label: LabelRecord, origin: Origin) -> Outcome:
        return Outcome(
            kind, self.config.model, "", label.task, label.prediction_id, label.t, origin
        )

    # ------------------------------------------------------------------------------ state

    def checkpoint(self) -> list[Write]:
        """The state writes of a checkpoint (keys relative to this partition), in order.

        Afterwards the stored state reflects every input offset :meth:`mark_applied` recorded.
        """
        for topic, offset in self._applied.items():
            # during a replay the restored stamp may be ahead of what was read again
            self._stamp[topic] = max(offset, self._stamp.get(topic, -1))
        changed: dict[str, tuple[int, Any]] = {}
        for pid, b in self._changed.items():
            entry = self._entries[b].get(pid)
            changed[pid] = (b, _pack(entry) if entry is not None else None)
        self._changed = {}
        times = (self.watermark, self.prediction_time, self.label_time)
        return self._log.checkpoint(changed, self._stamp, times)

    def restore(self, read: Callable[[str], bytes | None]) -> None:
        """Load the stored state with ``read(key)`` (at start / on assignment), before any event."""
        if self._applied or self.pending:
            raise CheckpointError("a join partition's state is restored only before its events")
        restored = self._log.restore(read)
        self._stamp = restored.stamp
        self.watermark, self.prediction_time, self.label_time = restored.times
        for b, packed in enumerate(restored.buckets):
            self._entries[b] = {pid: _unpack(values) for pid, values in packed.items()}
            for pid, entry in self._entries[b].items():
                if entry.prediction is not None:
                    self._schedule_prediction(entry.prediction)
                for task, (_, label_t, _) in entry.early.items():
                    self._schedule_early(pid, task, label_t)


def _pack(entry: _Entry) -> tuple[Any, ...]:
    """An entry as plain tuples (pickles about four times faster than the dataclasses), its
    prediction as the bytes it was pickled to the first time."""
    p = entry.prediction
    if p is not None and entry.stored is None:
        fields = (p.prediction_id, p.model, p.model_version, p.entity_id, p.t, p.outputs,
                  p.features, p.segments)  # fmt: skip
        entry.stored = pickle.dumps(fields, protocol=5)
    return entry.stored, entry.joined, entry.expired, entry.early, entry.where


def _unpack(values: tuple[Any, ...]) -> _Entry:
    stored, joined, expired, early, where = values
    p = PredictionRecord(*pickle.loads(stored)) if stored is not None else None
    return _Entry(p, joined, expired, early, where, stored)
