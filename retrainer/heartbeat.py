"""A file the retrainer touches while its poll loop runs: what a container healthcheck reads.

The retrainer serves no HTTP port; ``<state_dir>/run/retrainer.heartbeat`` has a fresh
modification time as long as its loop polls Kafka (a retrain runs beside the loop, so a long
training keeps it fresh). ``docker-compose.yml`` checks that it is younger than a minute.
"""

from __future__ import annotations

import time
from pathlib import Path

__all__ = ["Heartbeat"]


class Heartbeat:
    """Touch ``path`` at most every ``interval`` seconds.

    Examples
    --------
    >>> import tempfile
    >>> beat = Heartbeat(Path(tempfile.mkdtemp()) / "run" / "retrainer.heartbeat")
    >>> beat.beat(now=100.0), beat.beat(now=101.0), beat.beat(now=106.0)
    (True, False, True)
    >>> beat.path.exists()
    True
    """

    def __init__(self, path: Path, interval: float = 5.0) -> None:
        self.path = path
        self.interval = interval
        self._reset()

    def _reset(self) -> None:
        self._last: float | None = None

    def beat(self, now: float | None = None) -> bool:
        """Touch the file when ``interval`` has passed since the last touch; whether it did."""
        now = time.monotonic() if now is None else now
        if self._last is not None and now - self._last < self.interval:
            return False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch()
        self._last = now
        return True
