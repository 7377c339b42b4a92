"""Background readers that fill a :class:`RunHistory`: the topics, and consumer lag."""

from __future__ import annotations

import logging
import threading
from typing import Any

from driftline.config.models import DriftlineConfig
from driftline.dashboard.history import RunHistory
from driftline.dashboard.lag import ConsumerLag

__all__ = ["LagPoller", "TopicFeed"]

log = logging.getLogger("driftline.dashboard")


class TopicFeed:
    """Reads task-metrics, drift-alerts, retrain-requests, model-updates and dead-letters from
    their beginning (a throwaway consumer group, nothing committed) into ``history``.

    Parameters
    ----------
    config
        The loaded ``driftline.yaml``.
    history
        Where the events go.
    reader
        An :class:`~driftline.reader.EventReader`-like object (default: one on those topics).
    """

    def __init__(self, config: DriftlineConfig, history: RunHistory, reader: Any = None) -> None:
        self.config = config
        self.history = history
        self.reader = reader
        self.read = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def topics(self) -> list[str]:
        """The topics the dashboard reads."""
        names = self.config.topics
        return [
            names.task_metrics,
            names.drift_alerts,
            names.retrain_requests,
            names.model_updates,
            names.dead_letters,
        ]

    def poll_once(self, timeout: float = 0.5) -> int:
        """Read what has arrived (waiting ``timeout`` at most for the first record)."""
        if self.reader is None:
            from driftline.reader import EventReader

            self.reader = EventReader(self.config, self.topics, from_beginning=True)
        count = 0
        for item in self.reader.poll(timeout=timeout, max_records=2000):
            if item.error is not None:
                self.history.unreadable += 1
                log.debug("unreadable record at %s: %s", item.source, item.error)
                continue
            self.history.add(item.event)
            count += 1
        self.read += count
        return count

    def start(self) -> None:
        """Read in a daemon thread until :meth:`stop`."""
        self._thread = threading.Thread(target=self._run, name="dashboard-feed", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:  # the broker went away: the page shows what it has, and retries
                log.exception("reading the driftline topics failed; retrying in 2 s")
                self._stop.wait(2.0)

    def stop(self) -> None:
        """Stop reading and leave the consumer group."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
        if self.reader is not None:
            self.reader.close()


class LagPoller:
    """Reads consumer lag every ``dashboard.lag_interval`` seconds into ``history``."""

    def __init__(self, config: DriftlineConfig, history: RunHistory) -> None:
        self.config = config
        self.history = history
        self.lag = ConsumerLag(config)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Poll in a daemon thread until :meth:`stop`."""
        self._thread = threading.Thread(target=self._run, name="dashboard-lag", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.history.set_lag(self.lag.read())
            except Exception as exc:  # shown on the page; the next reading may work
                self.history.set_lag([], f"{type(exc).__name__}: {exc}")
            self._stop.wait(self.config.dashboard.lag_interval)

    def stop(self) -> None:
        """Stop polling."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
        self.lag.close()
