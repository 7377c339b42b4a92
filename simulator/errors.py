"""Errors of the simulator and of the local process supervisor (``up``/``down``/``status``)."""

from __future__ import annotations

from driftline.errors import DriftlineError

__all__ = ["ServiceError", "SimulatorError"]


class SimulatorError(DriftlineError):
    """The simulation cannot run as configured (bad schedule, no champion, unknown task...)."""


class ServiceError(DriftlineError):
    """A background service (monitor, retrainer) did not start, stop or answer its health check."""
