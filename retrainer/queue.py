"""Requests waiting to be trained, coalesced per model, one run per model at a time."""

from __future__ import annotations

from collections.abc import Collection

from driftline.events import RetrainRequest
from retrainer.planner import PendingRetrain, RecordSource

__all__ = ["RequestQueue"]


class RequestQueue:
    """Pending requests per model; a model's requests become ready together.

    A model's pending requests are handed out as one :class:`PendingRetrain` once
    ``coalesce_window`` seconds have passed since the first of them arrived and no run for that
    model is going; requests that arrive while a run is going wait for it and are coalesced into
    the next run.

    Parameters
    ----------
    coalesce_window
        Seconds to wait after a model's first pending request before training.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> def request(rid):
    ...     return RetrainRequest.model_validate({"schema": RetrainRequest.SCHEMA,
    ...         "request_id": rid, "model": "shop", "tasks": ["churn"],
    ...         "event_time": datetime(2026, 1, 2, tzinfo=UTC)})
    >>> queue = RequestQueue(coalesce_window=2.0)
    >>> queue.add(request("r1"), ("t", 0, 0), now=10.0)
    >>> queue.add(request("r2"), ("t", 0, 1), now=11.0)
    >>> queue.pop_ready(now=11.5) is None          # still inside the window
    True
    >>> queue.pop_ready(now=12.0).request_ids      # one run for both
    ['r1', 'r2']
    """

    def __init__(self, coalesce_window: float = 2.0) -> None:
        if coalesce_window < 0:
            raise ValueError(f"coalesce_window must not be negative, got {coalesce_window}")
        self.coalesce_window = coalesce_window
        self._reset()

    def _reset(self) -> None:
        self._pending: dict[str, PendingRetrain] = {}
        self._first_arrival: dict[str, float] = {}
        self._running: set[str] = set()

    def add(self, request: RetrainRequest, source: RecordSource, now: float) -> None:
        """Queue a request (coalesced with the model's other pending requests)."""
        pending = self._pending.get(request.model)
        if pending is None:
            pending = self._pending[request.model] = PendingRetrain(request.model)
            self._first_arrival[request.model] = now
        pending.add(request, source)

    def pop_ready(self, now: float) -> PendingRetrain | None:
        """The oldest model's requests whose window has passed and that has no run going."""
        for model, first in sorted(self._first_arrival.items(), key=lambda item: item[1]):
            if model in self._running or now - first < self.coalesce_window:
                continue
            del self._first_arrival[model]
            self._running.add(model)
            return self._pending.pop(model)
        return None

    def finish(self, model: str) -> None:
        """The run for ``model`` is over; its next pending requests may start."""
        self._running.discard(model)

    def running(self, model: str) -> bool:
        """Whether a run for ``model`` is going."""
        return model in self._running

    def drop_partitions(self, partitions: Collection[tuple[str, int]]) -> list[RecordSource]:
        """Forget pending requests read from ``partitions`` (revoked: another worker redoes them).

        Returns the sources dropped. A model keeps the requests it read from other partitions.
        """
        dropped: list[RecordSource] = []
        for model in list(self._pending):
            pending = self._pending[model]
            gone = [s for s in pending.sources if (s[0], s[1]) in partitions]
            if not gone:
                continue
            dropped += gone
            kept = pending.without_sources(gone)
            if kept.sources:
                self._pending[model] = kept
            else:
                del self._pending[model]
                del self._first_arrival[model]
        return dropped

    def __len__(self) -> int:
        return sum(len(p.sources) for p in self._pending.values())
