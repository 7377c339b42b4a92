"""librdkafka's own log lines (``%3|...|FAIL|...``), routed through Python logging.

Every confluent-kafka client driftline creates gets :func:`kafka_logger` as its ``logger``, so
librdkafka never writes to stderr itself. The logger, ``driftline.librdkafka``, repeats one kind
of line (its facility, e.g. ``FAIL``, per client) at most once per :data:`INTERVAL` seconds and
says how many it held back: a broker that is down for a minute costs one line a minute, not 600.

The ``driftline`` command turns it off for one-shot commands (their own one-line error says what
is wrong); services (``monitor``, ``retrainer``) log it at ``--log-level`` (WARNING at least
unless DEBUG). ``$DRIFTLINE_KAFKA_LOGS=1`` turns it on for any command.

>>> limit = RepeatLimit(interval=60.0)
>>> record = logging.LogRecord("driftline.librdkafka", logging.ERROR, "", 0, "%s [%s] %s",
...                            ("FAIL", "rdkafka#producer-1", "Connect failed"), None)
>>> [limit.filter(record) for _ in range(3)]
[True, False, False]
"""

from __future__ import annotations

import logging
import threading
import time

__all__ = ["INTERVAL", "LOGGER_NAME", "RepeatLimit", "kafka_logger", "set_kafka_log_level"]

LOGGER_NAME = "driftline.librdkafka"
INTERVAL = 30.0
"""Seconds between two lines of the same facility and client."""

_OFF = logging.CRITICAL + 10


class RepeatLimit(logging.Filter):
    """Let one record per (facility, client) through every ``interval`` seconds.

    The next record let through ends with ``(N similar line(s) held back)``.
    """

    def __init__(self, interval: float = INTERVAL) -> None:
        super().__init__()
        self.interval = interval
        self._lock = threading.Lock()
        self._last: dict[tuple[str, ...], float] = {}
        self._held: dict[tuple[str, ...], int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        key = tuple(str(a) for a in args[:2]) or (str(record.msg),)
        now = time.monotonic()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.interval:
                self._held[key] = self._held.get(key, 0) + 1
                return False
            self._last[key] = now
            held = self._held.pop(key, 0)
        if held:
            record.msg = f"{record.msg} (%d similar line(s) held back)"
            record.args = (*args, held)
        return True


_logger_lock = threading.Lock()
_level_from_environment = False
"""``set_kafka_log_level(None)`` was the last call: ``$DRIFTLINE_KAFKA_LOGS`` is still to be read."""


def kafka_logger() -> logging.Logger:
    """The logger librdkafka's lines go to (with :class:`RepeatLimit` installed once).

    After ``set_kafka_log_level(None)``, the first call reads ``$DRIFTLINE_KAFKA_LOGS``: it is
    read when a client is built with this logger, so a command that builds none (``--help``)
    does not read the environment.
    """
    global _level_from_environment
    logger = _logger()
    if _level_from_environment:
        from driftline.config.environment import environment

        _level_from_environment = False
        logger.setLevel(logging.WARNING if environment().kafka_logs else _OFF)
    return logger


def _logger() -> logging.Logger:
    logger = logging.getLogger(LOGGER_NAME)
    with _logger_lock:
        if not any(isinstance(f, RepeatLimit) for f in logger.filters):
            logger.addFilter(RepeatLimit())
    return logger


def set_kafka_log_level(level: int | str | None) -> None:
    """Show librdkafka's lines at ``level`` (at least WARNING unless DEBUG); ``None``: none.

    ``$DRIFTLINE_KAFKA_LOGS=1`` keeps them on (at WARNING) when ``level`` is ``None``.
    """
    global _level_from_environment
    logger = _logger()
    _level_from_environment = level is None
    if level is None:
        logger.setLevel(_OFF)  # until kafka_logger() reads $DRIFTLINE_KAFKA_LOGS
        return
    value = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    number = value if isinstance(value, int) else logging.WARNING
    logger.setLevel(number if number <= logging.DEBUG else max(number, logging.WARNING))
