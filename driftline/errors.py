"""One exception hierarchy for driftline.

Every error driftline raises on purpose derives from :class:`DriftlineError`. Subsystems add their
own subclasses here or in their own ``errors.py`` (rooted in ``DriftlineError``), so a caller can
catch everything driftline-specific with one ``except``.

Errors say what was wrong, where (file:line, topic/partition/offset) and what to do.
"""

from __future__ import annotations

__all__ = [
    "BrokerError",
    "BrokerUnreachableError",
    "ConfigError",
    "DeliveryError",
    "DriftlineError",
    "EventValidationError",
    "MissingExtraError",
    "ProducerBufferFullError",
]


class DriftlineError(Exception):
    """Base class of every error driftline raises on purpose.

    ``exit_code`` is the status the ``driftline`` command exits with after printing it.
    """

    exit_code = 1


class ConfigError(DriftlineError):
    """A configuration file is invalid; ``problems`` lists ``PATH:LINE: field: message`` lines."""

    exit_code = 2

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class EventValidationError(DriftlineError):
    """An event does not satisfy its contract; ``reason`` says why (it goes to dead-letters)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BrokerError(DriftlineError):
    """The local Kafka broker could not be started, stopped or reached."""


class BrokerUnreachableError(BrokerError):
    """No Kafka broker answered at the configured bootstrap servers in time (exit 69)."""

    exit_code = 69  # EX_UNAVAILABLE (sysexits.h)


class MissingExtraError(DriftlineError):
    """A command or feature needs an optional extra of the ``driftline`` distribution that is not
    installed (:mod:`driftline.extras`); the message says which one and how to install it."""

    def __init__(self, extra: str, module: str, feature: str) -> None:
        super().__init__(
            f"{feature} needs the {extra!r} extra ({module} is not installed): "
            f"pip install 'driftline[{extra}]'"
        )
        self.extra = extra
        self.module = module
        self.feature = feature


class DeliveryError(DriftlineError):
    """Kafka reported that one or more records were not delivered."""


class ProducerBufferFullError(DriftlineError):
    """The producer's local buffer is full and the client is configured to raise, not block."""
