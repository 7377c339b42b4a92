"""Labelled outcomes → Feast (``featurestore.LabelSink``), batched per checkpoint.

Behind ``monitor.feature_sink`` (default true); ``featurestore`` (and Feast, ~2.7 s to import) is
imported only when the sink is on, so the monitor also runs without a feature store.
"""

from __future__ import annotations

from typing import Any

from driftline.config.models import DriftlineConfig
from streams.outcome import Outcome
from streams.records import to_datetime

__all__ = ["FeatureSink"]


class FeatureSink:
    """Buffers labelled outcomes and hands them to the Feast label sink at each checkpoint.

    Parameters
    ----------
    config
        The loaded ``driftline.yaml``.
    sink
        An object with ``write(outcomes)``, ``flush()`` and ``close()``; default
        ``featurestore.LabelSink(config)``, created on first use.

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

    def flush(self) -> int:
        """Write the buffered outcomes (call at a checkpoint, before offsets are committed)."""
        if self.sink is None:
            from featurestore import LabelSink

            self.sink = LabelSink(self.config)
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
