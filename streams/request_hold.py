"""A task's retrain request between the alert that asks for it and the moment it is sent."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from driftline.events import Alert, RetrainRequest, stable_id
from streams.records import to_datetime

__all__ = ["RequestHold"]

log = logging.getLogger(__name__)


@dataclass
class _Held:
    alert_ids: list[str]
    version: str
    start: float
    labels_at: int
    reason: str


@dataclass
class RequestHold:
    """Holds one task's retrain request until ``collect_labels`` labels followed its evidence,
    and until its training window is not empty.

    The window runs from the evidence's first event time to the event time of the label that
    releases the request; while that would be empty (every label so far has the evidence's
    start time), the request waits, with a logged reason, for a label of a later event time.
    Later alerts of the task join the held request (their ids are added).

    Examples
    --------
    >>> from driftline.events import Alert, EvidenceWindow
    >>> alert = Alert.model_validate({"schema": "driftline.alert/1", "alert_id": "a1",
    ...     "model": "m", "model_version": "1", "task": "churn", "detector": "adwin/error",
    ...     "signal": "error", "severity": "critical", "metric": "error_rate", "value": 0.4,
    ...     "evidence": EvidenceWindow(start_count=1, end_count=50,
    ...                                start_time=to_datetime(100.0), end_time=to_datetime(100.0)),
    ...     "config_hash": "h", "event_time": to_datetime(100.0)})
    >>> hold = RequestHold("m", "churn", collect_labels=0)
    >>> hold.hold(alert, "1", 100.0, labels=500, reason="drift")
    >>> hold.release(100.0, labels=500), hold.refused          # an empty window: held back
    (None, 1)
    >>> request = hold.release(160.0, labels=501)
    >>> request.window_start < request.window_end, request.alert_ids
    (True, ['a1'])
    """

    model: str
    task: str
    collect_labels: int = 0
    refused: int = 0
    refusal: str | None = None
    _held: _Held | None = field(default=None, repr=False)

    @property
    def waiting(self) -> bool:
        """Whether a request is held."""
        return self._held is not None

    def hold(self, alert: Alert, version: str, start: float, labels: int, reason: str) -> None:
        """Hold a request for ``alert`` (evidence from event time ``start``; the task had
        ``labels`` labels), or add the alert to the one held."""
        if self._held is not None:
            self._held.alert_ids.append(alert.alert_id)
            return
        self._held = _Held([alert.alert_id], version, start, labels, reason)

    def new_version(self, version: str, retrained: bool | None) -> None:
        """A promotion: it answers the held request, unless it did not retrain this task."""
        if self._held is None:
            return
        if retrained is False:
            self._held.version = version
        else:
            self._held = None

    def release(self, t: float, labels: int) -> RetrainRequest | None:
        """The request, when a label at event time ``t`` (the task's ``labels``-th) lets it go."""
        held = self._held
        if held is None or labels - held.labels_at < self.collect_labels:
            return None
        if t <= held.start:
            self._refuse(held, t)
            return None
        self._held = None
        self.refusal = None
        return RetrainRequest.model_validate(
            {
                "schema": RetrainRequest.SCHEMA,
                "request_id": stable_id(
                    "retrain", self.model, held.version, self.task, held.alert_ids[0]
                ),
                "model": self.model,
                "model_version": held.version,
                "tasks": [self.task],
                "window_start": to_datetime(held.start),
                "window_end": to_datetime(t),
                "alert_ids": held.alert_ids,
                "reason": held.reason,
                "requested_by": "monitor",
                "event_time": to_datetime(t),
            }
        )

    def _refuse(self, held: _Held, t: float) -> None:
        reason = (
            f"retrain request for {self.model}/{self.task} held back: its training window "
            f"[{to_datetime(held.start).isoformat()}, {to_datetime(t).isoformat()}] is empty "
            "(every label of the evidence has the same event time); it is sent with the first "
            "label of a later event time"
        )
        if self.refusal is None:
            self.refused += 1
            log.warning(reason)
        self.refusal = reason
