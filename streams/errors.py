"""Exceptions of the streaming monitor, all rooted in :class:`driftline.errors.DriftlineError`."""

from __future__ import annotations

from driftline.errors import DriftlineError

__all__ = [
    "RESET_STATE",
    "RESTART_EXIT_CODE",
    "CheckpointError",
    "StateRefusedError",
    "StreamsError",
    "UnsupportedFaustError",
    "WebPortInUseError",
]


class StreamsError(DriftlineError):
    """Base class of the monitor's errors."""


class CheckpointError(StreamsError):
    """A checkpoint rule was broken (e.g. a recorded offset went backwards): a bug, never data."""


class StateRefusedError(StreamsError):
    """A stored state this driftline cannot use (another format, or a local store that does not
    match its changelog): a restart would meet it again; the message says what to do."""


class WebPortInUseError(StreamsError):
    """The worker's ``/metrics`` port stayed taken by another process; a supervisor may try
    again later (exit 69, as for a broker that does not answer)."""

    exit_code = 69  # EX_UNAVAILABLE (sysexits.h)


class UnsupportedFaustError(StreamsError):
    """The installed faust-streaming is outside the range whose internals the monitor relies on
    (:mod:`streams.faust_compat`); the message names the range to install."""


STATE_LIMIT_EXIT_CODE = 78
"""The exit code of a worker whose stored state was refused (``EX_CONFIG``): a restart would meet
the same state, so ``driftline monitor --workers N`` does not start it again; the log says what
to do."""

RESTART_EXIT_CODE = 70
"""The exit code of a worker that stops itself so that a restart replays from its last checkpoint
(a failed stage, or a record Faust handed out of order); ``driftline monitor --workers N``
starts such a worker again."""

RESET_STATE = "reset the monitor's state (docs/monitoring.md, \"Resetting the monitor's state\")"
"""What a refused stored state's error tells the user to do."""
