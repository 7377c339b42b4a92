"""The dashboard as one running thing: topic feed, lag poller, registry view and web server."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from driftline.config.models import DriftlineConfig
from driftline.dashboard.feed import LagPoller, TopicFeed
from driftline.dashboard.history import RunHistory
from driftline.dashboard.registry_view import RegistryView

__all__ = ["DashboardService"]

log = logging.getLogger("driftline.dashboard")


class DashboardService:
    """Reads the topics into memory and serves the page on ``dashboard.host:dashboard.port``.

    Parameters
    ----------
    config
        The loaded ``driftline.yaml``.
    host, port
        Override ``dashboard.host`` / ``dashboard.port`` (port 0: any free port).

    ``run()`` serves in the calling thread until interrupted (``driftline dashboard``);
    ``start()`` serves from a daemon thread and returns once the server listens (the demo, or
    ``driftline monitor`` with ``dashboard.with_monitor``); :attr:`url` says where.
    """

    def __init__(
        self, config: DriftlineConfig, host: str | None = None, port: int | None = None
    ) -> None:
        self.config = config
        self.host = host or config.dashboard.host
        self.port = config.dashboard.port if port is None else port
        self.history = RunHistory(config, config.dashboard.points, config.dashboard.events)
        self.feed = TopicFeed(config, self.history)
        self.lag = LagPoller(config, self.history)
        self.registry = RegistryView(config)
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Where the page is served."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}/"

    def _make_server(self) -> Any:
        import uvicorn

        from driftline.dashboard.app import create_app

        app = create_app(self.history, self.registry)
        server = uvicorn.Server(
            uvicorn.Config(
                app, host=self.host, port=self.port, log_level="warning", access_log=False
            )
        )
        self._server = server
        return server

    def run(self) -> None:
        """Serve in this thread until SIGINT/SIGTERM."""
        server = self._make_server()
        self.feed.start()
        self.lag.start()
        try:
            server.run()
        finally:
            self._stop_readers()

    def start(self, timeout: float = 30.0) -> None:
        """Serve from a daemon thread; return once it listens (raise when it did not start)."""
        server = self._make_server()
        self.feed.start()
        self.lag.start()
        self._thread = threading.Thread(target=server.run, name="dashboard-web", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._stop_readers()
                raise RuntimeError(f"the dashboard did not start on {self.host}:{self.port}")
            time.sleep(0.05)
        if self.port == 0:
            sockets = server.servers[0].sockets if server.servers else []
            self.port = sockets[0].getsockname()[1] if sockets else self.port
        log.info("dashboard at %s", self.url)

    def stop(self) -> None:
        """Stop serving and reading."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10.0)
        self._stop_readers()

    def _stop_readers(self) -> None:
        self.feed.stop()
        self.lag.stop()
