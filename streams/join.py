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
* A label before its prediction waits (at most ``max_early_labels`` per partition, on disk,
  oldest out first) until its prediction comes or the watermark passes ``label time +
  label_delay``; then it is an ``orphan``.
* State lives in a :class:`streams.join_store.JoinStore` (RocksDB on local disk, one per input
  partition): memory holds only the entries changed since the last checkpoint, expiry is a
  range scan of keys ordered by deadline, and each checkpoint writes what changed, never the
  horizon. The stored state carries the input offsets it reflects; a replayed record whose
  offset is not beyond them is skipped whole (:meth:`LabelJoin.is_replay`: its outcomes were
  sent before the state was written, and the stream times already include it).
* Every outcome's origin is the input event it is *about* (the prediction for ``unlabelled`` and
  ``expired``, the label for the others), never the record that happened to trigger it, so a
  replay that reads the two topics in another interleaving re-creates the same origins (see
  :class:`streams.replay_filter.ReplayFilter`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rocksdict import WriteBatch

from driftline.config.models import DriftlineConfig
from streams.join_entry import EarlyLabel, EntryCodec, JoinEntry, Output
from streams.join_store import RETIRE, JoinStore, sortable, unsortable
from streams.outcome import Origin, Outcome
from streams.records import LabelRecord, PredictionRecord

__all__ = ["LabelJoin", "entry_codec"]

_NO_TIME = float("-inf")
_Y_ALL = b"z"
"""Above every early label's expiry key: bounds a pop of the oldest one."""

Where = tuple[str, int, int, int]
"""``(topic, partition, offset, index)`` of one input event."""


@dataclass(slots=True)
class _Tally:
    count: int
    t: float
    origin: Origin  # of the last prediction counted
    prediction_id: str


def entry_codec(config: DriftlineConfig) -> EntryCodec:
    """What the join's entries keep of a prediction's context: the entity id and features
    for the Feast sink (``monitor.feature_sink``), the segments for slices."""
    sink = config.monitor.feature_sink
    slices = any(task.slices for task in config.tasks.values())
    return EntryCodec(keep_entity=sink, keep_segments=slices, keep_features=sink)


class LabelJoin:
    """The join of one input partition, over its :class:`~streams.join_store.JoinStore`.

    Parameters
    ----------
    config
        The loaded ``driftline.yaml`` (model, tasks and their ``label_delay``).
    store
        The partition's state; ``None``: a new one in memory.
    max_early_labels
        Labels waiting for their prediction in this partition, at most (on disk).
    partition
        The input partition (part of every outcome's origin).

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
        self,
        config: DriftlineConfig,
        store: JoinStore | None = None,
        max_early_labels: int | None = None,
        partition: int = 0,
    ) -> None:
        self.config = config
        self.partition = partition
        self.max_early_labels = (
            config.monitor.max_early_labels if max_early_labels is None else max_early_labels
        )
        delays = {name: task.label_delay for name, task in config.tasks.items()}
        self.store = store if store is not None else JoinStore(None, delays, entry_codec(config))
        self._model = config.model
        self._predictions = config.topics.predictions
        self._labels = config.topics.labels
        self._delay = delays
        self._code = self.store.codes
        self._name = {code: name for name, code in self._code.items()}
        self._rank = {name: rank for rank, name in enumerate(sorted(config.tasks))}
        self._features = config.monitor.feature_sink
        self._segments = any(task.slices for task in config.tasks.values())
        self._multiclass = {n for n, t in config.tasks.items() if t.type == "multiclass"}
        self._counted = {n for n, t in config.tasks.items() if not t.needs_scores}
        self._tally: dict[tuple[str, str, str], _Tally] = {}  # (model, version, task): this record
        self._applied: dict[str, int] = {}
        meta = self.store.meta
        self._stamp = dict(meta.stamp)  # input offsets the stored state reflects
        self.watermark, self.prediction_time, self.label_time = meta.times
        self.pending = meta.pending
        self.early_labels = meta.early
        self.skipped = 0
        self._tau = _NO_TIME  # the order key time of the outcomes the current event causes

    # ------------------------------------------------------------------------------ processing

    def is_replay(self, topic: str, offset: int) -> bool:
        """Whether the stored state reflects the record at ``offset`` of ``topic`` already
        (a replay after a restart: its outcomes were sent, skip it whole)."""
        if offset <= self._stamp.get(topic, -1):
            self.skipped += 1
            return True
        return False

    def ahead_of(self, t: float) -> float:
        """How far ``t`` is ahead of the partition's stream time (the latest event time seen
        on either topic; ``-inf`` before the first event)."""
        return t - max(self.prediction_time, self.label_time)

    def add(self, record: PredictionRecord | LabelRecord, where: Where) -> list[Outcome]:
        """Apply one validated event read at ``where`` = (topic, partition, offset, index).

        Returns the outcomes it produces, in a deterministic order. A record the state
        reflects already (:meth:`is_replay`) must not be added.
        """
        out: list[Outcome] = []
        prediction = isinstance(record, PredictionRecord)
        if isinstance(record, PredictionRecord):
            if record.t > self.prediction_time:
                self.prediction_time = record.t
            self._tau = self.prediction_time
            self._add_prediction(record, where, out)
        else:
            if record.t > self.label_time:
                self.label_time = record.t
            self._tau = self.label_time
            self._add_label(record, where, out)
        watermark = min(self.prediction_time, self.label_time)
        if watermark > self.watermark:
            self.watermark = watermark
            # expires a late prediction's budget too (already due when it came): the expiries
            # below the old watermark come first either way
            self._expire_predictions(out)
            self._expire_early_labels(out)
        elif prediction:
            self._expire_predictions(out)  # one already due (a late prediction)
        return out

    def mark_applied(self, topic: str, offset: int) -> None:
        """Record that the partition's state reflects ``topic`` up to ``offset``.

        Called once per Kafka record, after all events of an envelope were added; the offsets are
        stored with the next checkpoint.
        """
        if offset > self._applied.get(topic, -1):
            self._applied[topic] = offset

    def frontier(self) -> dict[str, int]:
        """The highest offset applied per topic (what the state reflects once checkpointed)."""
        return dict(self._applied)

    def _about_prediction(self, entry: JoinEntry, task: str, expired: bool) -> Origin:
        return (
            self._predictions,
            self.partition,
            entry.offset,
            entry.index,
            2 * self._rank[task] + expired,
        )

    def _about_label(self, offset: int, index: int) -> Origin:
        return (self._labels, self.partition, offset, index, 0)

    def _add_prediction(self, p: PredictionRecord, where: Where, out: list[Outcome]) -> None:
        pid = p.prediction_id
        store = self.store
        entry = store.get(pid)
        if entry is not None and entry.has_prediction:
            return  # the same prediction twice: the first one counts
        if entry is None:
            entry = JoinEntry()
            self.pending += 1
        entry.version, entry.t, entry.offset, entry.index = p.model_version, p.t, where[2], where[3]
        entry.tau = self._tau
        entry.outputs = {self._code[task]: self._output(task, o) for task, o in p.outputs.items()}
        if self._features:
            entry.entity_id, entry.features = p.entity_id, p.features
        if self._segments:
            entry.segments = p.segments
        for task in p.outputs:
            origin = self._about_prediction(entry, task, expired=False)
            if task in self._counted:
                self._count(p, task, origin)
            else:
                out.append(self._outcome("unlabelled", pid, entry, task, origin))
        store.schedule(pid, entry)
        if not entry.early:
            store.put(pid, entry)
            return
        for early in sorted(entry.early, key=lambda e: self._name[e.code]):
            self.early_labels -= 1
            task = self._name[early.code]
            origin = self._about_label(early.offset, early.index)
            if early.code in entry.outputs:
                kind = "labelled" if early.t <= p.t + self._delay[task] else "late"
                if kind == "labelled":
                    entry.joined |= 1 << early.code
                else:
                    entry.late |= 1 << early.code
                outcome = self._outcome(kind, pid, entry, task, origin)
                outcome.y_true, outcome.label_t = early.label, early.t
                outcome.tau = max(early.tau, entry.tau)
                out.append(outcome)
            else:
                orphan = self._orphan(pid, task, early.t, origin)
                orphan.tau = max(early.tau, entry.tau)
                out.append(orphan)
        entry.early = []
        store.put(pid, entry)

    def _add_label(self, label: LabelRecord, where: Where, out: list[Outcome]) -> None:
        pid, task = label.prediction_id, label.task
        code = self._code[task]
        origin = self._about_label(where[2], where[3])
        entry = self.store.get(pid)
        if entry is None or not entry.has_prediction:
            if entry is None:
                entry = JoinEntry()
                self.pending += 1
            elif any(early.code == code for early in entry.early):
                out.append(self._bare("duplicate", label, origin))
                return
            # never before the label stream's time: an orphan's order key must not fall below
            # the watermark (a label out of order by more than its budget ends at once)
            deadline = max(label.t + self._delay[task], self._tau)
            entry.early.append(
                EarlyLabel(code, label.label, label.t, where[2], where[3], deadline, self._tau)
            )
            self.early_labels += 1
            self.store.put(pid, entry)
            self.store.schedule_early(pid, code, deadline)
            while self.early_labels > self.max_early_labels:
                if not self._pop_early(_Y_ALL, out):
                    break
            return
        if code not in entry.outputs:
            orphan = self._orphan(pid, task, label.t, origin)
            orphan.tau = max(self._tau, entry.tau)  # as when the label comes first
            out.append(orphan)
            return
        bit = 1 << code
        if (entry.joined | entry.late) & bit:
            kind = "duplicate"  # a label after the first for this task, whatever the first was
        elif entry.expired & bit or label.t > entry.t + self._delay[task]:
            kind = "late"
            entry.late |= bit
            self.store.put(pid, entry)
        else:
            entry.joined |= bit
            self.store.put(pid, entry)
            kind = "labelled"
        outcome = self._outcome(kind, pid, entry, task, origin)
        outcome.y_true, outcome.label_t = label.label, label.t
        if kind != "duplicate":  # as when the label comes first: joined when the prediction does
            outcome.tau = max(self._tau, entry.tau)
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
                tau=self.prediction_time,
            )
            for (model, version, task), tally in self._tally.items()
        ]
        self._tally = {}
        out.sort(key=lambda outcome: outcome.origin)
        return out

    def _expire_predictions(self, out: list[Outcome]) -> None:
        """End every budget the watermark has passed, in (deadline, prediction id) order; an
        expiry's order key time is its deadline, or its prediction's if later (a prediction so
        late that its budget had passed when it came)."""
        bound = b"x" + sortable(self.watermark)
        deadlines, store = self.store.deadlines, self.store
        while (due := deadlines.pop(bound)) is not None:
            key, value = due
            pid = key[9:].decode("utf-8", "surrogatepass")
            entry = store.get(pid)
            if entry is None or not entry.has_prediction:
                continue
            mask = int.from_bytes(value, "big")
            changed = False
            for code in _bits(mask & ~RETIRE):
                bit = 1 << code
                if code in entry.outputs and not (entry.joined | entry.expired) & bit:
                    entry.expired |= bit
                    changed = True
                    task = self._name[code]
                    origin = self._about_prediction(entry, task, expired=True)
                    outcome = self._outcome("expired", pid, entry, task, origin)
                    outcome.tau = max(unsortable(key[1:9]), entry.tau)
                    out.append(outcome)
            if mask & RETIRE:
                store.delete(pid)
                self.pending -= 1
            elif changed:
                store.put(pid, entry)

    def _expire_early_labels(self, out: list[Outcome]) -> None:
        bound = b"y" + sortable(self.watermark)
        while self._pop_early(bound, out):
            pass

    def _pop_early(self, bound: bytes, out: list[Outcome]) -> bool:
        """End the first early label whose key is below ``bound`` (an orphan); ``False`` when
        there is none."""
        while (due := self.store.early_deadlines.pop(bound)) is not None:
            key = due[0]
            deadline, code = unsortable(key[1:9]), key[9]
            pid = key[10:].decode("utf-8", "surrogatepass")
            if self.store.has_prediction(pid) is not False:
                continue  # joined when its prediction came (most are: no decode for those)
            entry = self.store.get(pid)
            assert entry is not None
            early = next((e for e in entry.early if e.code == code), None)
            if early is None or early.deadline != deadline:
                continue
            entry.early.remove(early)
            self.early_labels -= 1
            if entry.early:
                self.store.put(pid, entry)
            else:
                self.store.delete(pid)
                self.pending -= 1
            task = self._name[code]
            orphan = self._orphan(pid, task, early.t, self._about_label(early.offset, early.index))
            orphan.tau = max(deadline, self._tau) if bound == _Y_ALL else deadline
            out.append(orphan)
            return True
        return False

    # ------------------------------------------------------------------------------ outcomes

    def _output(self, task: str, output: dict[str, Any]) -> Output:
        # the first field that is set: producers (the SDK among them) may send unused ones as null
        if task in self._multiclass:
            y_pred = output.get("label")
        else:
            y_pred = output.get("score")
            if y_pred is None:
                y_pred = output.get("value")
                if y_pred is None:
                    y_pred = output.get("label")
        return y_pred, output.get("group"), output.get("probs")

    def _outcome(self, kind: Any, pid: str, entry: JoinEntry, task: str, origin: Origin) -> Outcome:
        y_pred, group, probs = entry.outputs[self._code[task]]
        assert entry.version is not None
        return Outcome(  # positional: this runs once per outcome
            kind,
            self._model,
            entry.version,
            task,
            pid,
            entry.t,
            origin,
            y_pred,
            None,  # y_true
            group,
            probs,
            entry.segments or {},
            entry.entity_id,
            None,  # label_t
            # labelled outcomes carry the features to the Feast sink, when there is one
            entry.features if kind == "labelled" and self._features else None,
            None,  # retrained
            None,  # count
            self._tau,
        )

    def _orphan(self, pid: str, task: str, t: float, origin: Origin) -> Outcome:
        return Outcome("orphan", self.config.model, "", task, pid, t, origin, tau=self._tau)

    def _bare(self, kind: Any, label: LabelRecord, origin: Origin) -> Outcome:
        return Outcome(
            kind,
            self.config.model,
            "",
            label.task,
            label.prediction_id,
            label.t,
            origin,
            tau=self._tau,
        )

    # ------------------------------------------------------------------------------ state

    @property
    def changed(self) -> int:
        """Entries changed since the last checkpoint (the memory the join holds)."""
        return self.store.changed

    def checkpoint(self) -> tuple[list[tuple[bytes, bytes | None]], WriteBatch]:
        """The changelog records and local batch of a checkpoint (see
        :meth:`JoinStore.checkpoint`); afterwards, once committed, the stored state reflects
        every input offset :meth:`mark_applied` recorded."""
        for topic, offset in self._applied.items():
            if offset > self._stamp.get(topic, -1):
                self._stamp[topic] = offset
        meta = self.store.meta
        meta.stamp = dict(self._stamp)
        meta.watermark, meta.prediction_time, meta.label_time = (
            self.watermark,
            self.prediction_time,
            self.label_time,
        )
        meta.pending, meta.early = self.pending, self.early_labels
        return self.store.checkpoint()

    def commit(self, batch: WriteBatch, changelog_offset: int = -1) -> None:
        """Write a checkpoint's local batch once its changelog records are committed."""
        self.store.commit_local(batch, changelog_offset)

    def close(self) -> None:
        self.store.close()


def _bits(mask: int) -> Iterable[int]:
    code = 0
    while mask:
        if mask & 1:
            yield code
        mask >>= 1
        code += 1
