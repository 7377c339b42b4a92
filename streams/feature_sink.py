"""Labelled outcomes → Feast (``featurestore.LabelSink``), batched per checkpoint.

Behind ``monitor.feature_sink`` (default true); ``featurestore`` (and Feast) is imported only when
the sink is on, so the monitor also runs without a feature store. Importing Feast takes 3 s on an
idle machine and 15-30 s on a busy 2-core one without bytecode; ``driftline monitor`` therefore
calls :func:`open_label_sink` before its Faust worker starts, so that the first checkpoint with
labelled outcomes does not stall stage 2 for that long.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from driftline.config.models import DriftlineConfig
from streams.outcome import Outcome
from streams.records import to_datetime

__all__ = ["FeatureSink", "ensure_feature_repo", "open_label_sink"]

log = logging.getLogger("driftline.monitor")


def open_label_sink(config: DriftlineConfig, apply: bool = True) -> Any:
    """A ``featurestore.LabelSink`` of ``config`` with Feast and its store's modules imported.

    With ``apply`` (what ``driftline monitor`` does), the generated Feast repo is applied first
    when its registry lacks any object of the config (a fresh state dir: nobody ran
    ``driftline features apply``), so the first checkpoint never meets a store that is not there;
    a store that cannot be applied (stored columns differ, a server down) fails here, at start,
    with a :class:`~featurestore.errors.FeatureStoreError` that says what to do. Without
    ``apply``, nothing is read or written. Logs how long it took.
    """
    started = time.monotonic()
    log.info("feature sink: importing Feast and opening the %s store (once, at start-up)",
             config.feature_store.type)  # fmt: skip
    from featurestore import FeatureRepo, LabelSink

    repo = FeatureRepo(config)
    if apply:
        ensure_feature_repo(repo)
    _ = repo.store  # imports Feast, the registry and the online store; connects to nothing
    import feast.data_source  # noqa: F401  (PushMode, used by every flush)

    views = repo.layout.views
    if views:  # asking about no ids imports the offline store's client and queries nothing
        repo.backend.stored_values(views[0], "outcome_id", [])
    log.info("feature sink: ready after %.1f s", time.monotonic() - started)
    return LabelSink(config, repo=repo)


def ensure_feature_repo(repo: Any) -> None:
    """Apply ``repo`` (a ``featurestore.FeatureRepo``) when its registry lacks any object.

    Raises :class:`~featurestore.errors.FeatureStoreError` naming the store and the command to
    run by hand when Feast refuses.
    """
    applied = repo.ensure_applied()
    if applied:
        log.info("feature sink: applied the Feast repo (%d objects) to %s", len(applied),
                 repo.backend.describe())  # fmt: skip


class FeatureSink:
    """Buffers labelled outcomes and hands them to the Feast label sink at each checkpoint.

    Parameters
    ----------
    config
        The loaded ``driftline.yaml``.
    sink
        An object with ``write(outcomes)``, ``flush()`` and ``close()``; default: the one
        :func:`open_label_sink` returns, opened by :meth:`open` (or by the first :meth:`flush`).

    Examples
    --------
    >>> from driftline.config import parse_config
    >>> class Recorder:
    ...     rows = []
    ...     def write(self, rows): self.rows += list(rows); return len(rows)
    ...     def flush(self): return len(self.rows)
    ...     def close(self): pass
    >>> cfg = parse_config("model: m\\ntasks:\\n  churn: {type: binary}\\n")
    >>> sink = FeatureSink(cfg, Recorder())
    >>> sink.add(Outcome("labelled", "m", "1", "churn", "p-1", 0.0, ("predictions", 0, 0, 0, 0),
    ...                  y_pred=0.8, y_true=1, entity_id="e-1"))
    >>> sink.flush()
    1
    """

    def __init__(self, config: DriftlineConfig, sink: Any | None = None) -> None:
        self.config = config
        self.sink = sink
        self._reset()

    def _reset(self) -> None:
        self._rows: list[dict[str, Any]] = []
        self.written = 0

    def add(self, outcome: Outcome) -> None:
        """Buffer one labelled outcome (others are ignored)."""
        if outcome.kind != "labelled":
            return
        self._rows.append(
            {
                "outcome_id": f"{outcome.prediction_id}:{outcome.task}",
                "task": outcome.task,
                "prediction_id": outcome.prediction_id,
                "entity_id": outcome.entity_id,
                self.config.entity: outcome.entity_id,
                "event_time": to_datetime(outcome.t),
                "label": outcome.y_true,
                "model_version": outcome.model_version,
                "features": outcome.features or {},
            }
        )

    def open(self) -> FeatureSink:
        """Open the default sink now (imports Feast: seconds) unless there is one; ``self``."""
        if self.sink is None:
            self.sink = open_label_sink(self.config)
        return self

    def flush(self) -> int:
        """Write the buffered outcomes (call at a checkpoint, before offsets are committed)."""
        if self.sink is None:
            log.warning(
                "feature sink: opening the store inside a checkpoint; open() it at start-up"
            )
            self.sink = open_label_sink(self.config)
        if self._rows:
            self.sink.write(self._rows)
            self._rows = []
        written = int(self.sink.flush() or 0)
        self.written += written
        return written

    def close(self) -> None:
        """Flush and release the store."""
        if self.sink is not None:
            self.flush()
            self.sink.close()
