"""Exceptions of the retrainer, all rooted in :class:`driftline.errors.DriftlineError`."""

from __future__ import annotations

from driftline.errors import DriftlineError

__all__ = ["PublishError", "RequestRejected", "RetrainerError"]


class RetrainerError(DriftlineError):
    """Base of every retrainer error."""


class RequestRejected(RetrainerError):
    """A retrain request that will not be trained (too few labels, unknown task, ...).

    It is not a failure of the worker: the request is answered with a ``rejected`` model update
    whose ``reason`` is this exception's message.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PublishError(RetrainerError):
    """An event could not be delivered to Kafka (the request offset is then not committed)."""
