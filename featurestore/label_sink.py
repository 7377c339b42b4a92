"""The label sink: labelled outcomes from the stream into Feast's per-task label views.

API for the streaming monitor (stage 2 sink)::

    sink = LabelSink(config)            # stores parameters only; connects on first write
    sink.write(outcomes)                # -> number of new outcomes accepted (buffered)
    sink.flush()                        # -> rows written to the offline store; call it at every
                                        #    checkpoint *before* committing source offsets
    sink.close()                        # flush, then release the store

An outcome is a dict: ``outcome_id``, ``task``, ``prediction_id``, ``entity_id`` (or the
configured entity name), ``event_time`` (the *prediction's* time: ISO string or aware datetime),
``label``, ``model_version`` and optionally ``features`` (the prediction's feature values).

Exactly once per ``outcome_id``, also across restarts: before buffering, the sink asks the store
which of the incoming ids are already in the task's label view (one query per ``write`` and
task) and drops those. The stored rows themselves are the record of what was written, so there
is no second "written ids" table that could disagree with the data after a crash: each batch is
written atomically (a Parquet part file renamed into place; one ``COPY`` transaction in
PostgreSQL, where a UNIQUE index on ``outcome_id`` also stops racing writers). A replay after a
crash therefore writes exactly the outcomes that are missing.

The prediction's declared features, when given, are pushed into the shared and per-task feature
views at the prediction's event time (offline only: an older value must never overwrite a newer
one online; ``driftline features materialize`` refreshes the online store). They are written
before the labels in each flush, so a crash between the two can repeat a feature row (same
entity, time and values: the point-in-time join returns the same value) but never lose one.
Undeclared feature names are ignored.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from driftline.config import DriftlineConfig
from featurestore.dead_letters import DeadLetterWriter, KafkaProducerLike
from featurestore.errors import FeatureRowError, FeatureStoreError
from featurestore.frames import view_frame
from featurestore.ingest import dead_letter_path
from featurestore.repo import FeatureRepo
from featurestore.validation import FeatureRowValidator

__all__ = ["LabelSink"]

_Id = Annotated[str, Field(min_length=1, max_length=256)]


class _Outcome(BaseModel):
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False, frozen=True)

    outcome_id: _Id
    task: _Id
    prediction_id: _Id
    entity: _Id
    event_time: AwareDatetime
    label: float | int | str | bool
    model_version: _Id
    features: dict[str, Any] = Field(default_factory=dict)


class LabelSink:
    """Writes labelled outcomes into the per-task label views, batched, once per outcome id.

    Parameters
    ----------
    config
        The driftline config (tasks, entity, store).
    batch_size
        ``write`` flushes by itself once this many outcomes are buffered.
    write_features
        Also push the outcomes' prediction feature values into the feature views.
    producer
        Optional Kafka producer for the dead-letters topic (the JSONL file is always written).
    repo
        An existing :class:`FeatureRepo` to reuse.

    Examples
    --------
    >>> import tempfile
    >>> from driftline.config import parse_config
    >>> from featurestore.repo import FeatureRepo
    >>> root = tempfile.mkdtemp()
    >>> config = parse_config(
    ...     f"model: m\\nstate_dir: {root}\\nfeatures: [{{name: x}}]\\n"
    ...     f"tasks: {{churn: {{type: binary}}}}\\nfeature_store: {{type: embedded, path: {root}/feast}}\\n"
    ... )
    >>> _ = FeatureRepo(config).apply()
    >>> outcome = {"outcome_id": "o-1", "task": "churn", "prediction_id": "p-1",
    ...            "entity_id": "c-1", "event_time": "2026-11-23T12:00:00Z", "label": 1,
    ...            "model_version": "3", "features": {"x": 0.5}}
    >>> sink = LabelSink(config)
    >>> sink.write([outcome, outcome]), sink.flush()
    (1, 1)
    >>> LabelSink(config).write([outcome])  # a restart: already stored
    0
    """

    def __init__(
        self,
        config: DriftlineConfig,
        batch_size: int = 1000,
        write_features: bool = True,
        producer: KafkaProducerLike | None = None,
        repo: FeatureRepo | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.config = config
        self.batch_size = batch_size
        self.write_features = write_features
        self.producer = producer
        self.repo = repo
        self._reset()

    def _reset(self) -> None:
        self._buffer: list[_Outcome] = []
        self._buffered_ids: set[str] = set()
        self._letters: DeadLetterWriter | None = None
        self._validator: FeatureRowValidator | None = None
        self.written = 0
        self.duplicates = 0
        self.rejected = 0

    def _repo(self) -> FeatureRepo:
        if self.repo is None:
            self.repo = FeatureRepo(self.config)
        return self.repo

    def write(self, outcomes: Iterable[dict[str, Any]]) -> int:
        """Validate, drop already-stored and repeated outcome ids, buffer the rest.

        Returns how many outcomes were accepted (will be written by the next flush). Invalid
        outcomes are dead-lettered (counted in ``rejected``), duplicates counted in
        ``duplicates``. Flushes by itself when ``batch_size`` outcomes are buffered.
        """
        repo = self._repo()
        fresh: list[_Outcome] = []
        seen = set(self._buffered_ids)
        for position, raw in enumerate(outcomes, start=1):
            try:
                outcome = self._validate(raw)
            except FeatureRowError as exc:
                self._dead_letter(exc.reason, raw, position)
                continue
            if outcome.outcome_id in seen:
                self.duplicates += 1
                continue
            seen.add(outcome.outcome_id)
            fresh.append(outcome)
        accepted: list[_Outcome] = []
        for task in {o.task for o in fresh}:
            ids = [o.outcome_id for o in fresh if o.task == task]
            stored = repo.backend.stored_values(repo.layout.label_view(task), "outcome_id", ids)
            self.duplicates += len(stored)
            accepted += [o for o in fresh if o.task == task and o.outcome_id not in stored]
        if self._letters is not None:
            self._letters.flush()
        self._buffer += accepted
        self._buffered_ids.update(o.outcome_id for o in accepted)
        if len(self._buffer) >= self.batch_size:
            self.flush()
        return len(accepted)

    def flush(self) -> int:
        """Write the buffered outcomes (features first, then labels); return how many."""
        if not self._buffer:
            return 0
        from feast.data_source import PushMode

        repo = self._repo()
        layout = repo.layout
        created = datetime.now(UTC)
        try:
            if self.write_features:
                by_prediction = {o.prediction_id: o for o in self._buffer if o.features}
                rows = [
                    {layout.entity: o.entity, "event_time": o.event_time, **o.features}
                    for o in by_prediction.values()
                ]
                for view in layout.feature_views:
                    view_rows = [r for r in rows if set(view.field_names).intersection(r)]
                    if view_rows:
                        frame = view_frame(view, view_rows, "event_time", created)
                        repo.store.push(view.push_source, frame, to=PushMode.OFFLINE)
            for task in layout.tasks:
                outcomes = [o for o in self._buffer if o.task == task]
                if not outcomes:
                    continue
                view = layout.label_view(task)
                rows = [
                    {layout.entity: o.entity, "event_time": o.event_time,
                     "outcome_id": o.outcome_id, "prediction_id": o.prediction_id,
                     "model_version": o.model_version, "label": _label_value(o.label, view)}
                    for o in outcomes
                ]  # fmt: skip
                frame = view_frame(view, rows, "event_time", created)
                repo.store.push(view.push_source, frame, to=PushMode.OFFLINE)
        except FeatureStoreError:
            raise
        except Exception as exc:  # Feast raises many types; say what to do
            raise FeatureStoreError(
                f"label sink could not write {len(self._buffer)} outcomes to "
                f"{repo.backend.describe()}: {type(exc).__name__}: {exc} "
                "(has `driftline features apply` run for this config?)"
            ) from exc
        written = len(self._buffer)
        self.written += written
        self._buffer.clear()
        self._buffered_ids.clear()
        return written

    def close(self) -> None:
        """Flush what is buffered; the sink can still be used afterwards."""
        self.flush()

    def _validate(self, raw: Any) -> _Outcome:
        if not isinstance(raw, dict):
            raise FeatureRowError(f"an outcome must be a dict, got {type(raw).__name__}")
        layout = self._repo().layout
        data = dict(raw)
        data["entity"] = data.get(layout.entity, data.get("entity_id"))
        try:
            outcome = _Outcome.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']).replace('entity', layout.entity)}: {e['msg']}"
                for e in exc.errors()[:5]
            )
            raise FeatureRowError(f"invalid outcome: {problems}") from None
        if outcome.task not in layout.tasks:
            raise FeatureRowError(f"invalid outcome: task {outcome.task!r} is not in the config")
        declared = layout.feature_dtypes()
        features = {k: v for k, v in outcome.features.items() if k in declared}
        if features:
            validator = self._feature_validator(declared, layout.entity)
            row = {layout.entity: outcome.entity, "event_time": outcome.event_time, **features}
            try:
                checked = validator.validate(row)
            except FeatureRowError as exc:
                reason = exc.reason.replace("feature row", "outcome features")
                raise FeatureRowError(reason) from None
            features = {k: checked[k] for k in features}
        _label_value(outcome.label, layout.label_view(outcome.task))
        return outcome.model_copy(update={"features": features})

    def _feature_validator(self, declared: dict[str, str], entity: str) -> FeatureRowValidator:
        """One validator per sink (building one costs a pydantic model: ~ms)."""
        if self._validator is None:
            self._validator = FeatureRowValidator(declared, entity=entity)
        return self._validator

    def _dead_letter(self, reason: str, raw: Any, position: int) -> None:
        if self._letters is None:
            self._letters = DeadLetterWriter(
                dead_letter_path(self.config), "features.label_sink", self.producer,
                self.config.topics.dead_letters,
            )  # fmt: skip
        key = raw.get("prediction_id") if isinstance(raw, dict) else None
        self._letters.write(reason, raw if isinstance(raw, dict) else str(raw),
                            "python:label_sink", position, str(key) if key else None)  # fmt: skip
        self.rejected += 1


def _label_value(label: float | int | str | bool, view: Any) -> float | str:
    if dict(view.fields)["label"] == "string":
        return str(label)
    try:
        return float(label)
    except ValueError:
        raise FeatureRowError(
            f"invalid outcome: label {label!r} of task {view.task!r} is not a number"
        ) from None
