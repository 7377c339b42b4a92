"""A real HTTP receiver on a free loopback port, for the alert-routing tests.

``WebhookReceiver(fail_first=3)`` answers 503 to the first three POSTs of each alert id, then
200; ``WebhookReceiver(hang=True)`` accepts connections and never answers; ``status=400``
answers that to everything. It records every request (path, headers, JSON body).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["WebhookReceiver"]


class WebhookReceiver:
    """A local webhook endpoint; use as a context manager (it stops on exit)."""

    def __init__(self, fail_first: int = 0, hang: bool = False, status: int = 200) -> None:
        self.fail_first = fail_first
        self.hang = hang
        self.status = status
        self.requests: list[dict[str, Any]] = []
        self.tries: Counter[str] = Counter()
        self.connections = 0
        self._release = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                with receiver._lock:
                    receiver.connections += 1
                if receiver.hang:
                    receiver._release.wait(120)
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                key = self.headers.get("Idempotency-Key") or ""
                with receiver._lock:
                    receiver.tries[key] += 1
                    failing = receiver.tries[key] <= receiver.fail_first
                    status = 503 if failing else receiver.status
                    receiver.requests.append(
                        {
                            "path": self.path,
                            "headers": dict(self.headers),
                            "body": json.loads(body),
                            "status": status,
                        }
                    )
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def delivered(self) -> list[dict[str, Any]]:
        """The requests answered 2xx."""
        with self._lock:
            return [r for r in self.requests if 200 <= r["status"] < 300]

    def wait_for(self, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Wait until ``count`` requests were answered 2xx; return them."""
        deadline = time.monotonic() + timeout
        while len(self.delivered()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.delivered())} of {count} deliveries after {timeout} s")  # fmt: skip
            time.sleep(0.05)
        return self.delivered()

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()
