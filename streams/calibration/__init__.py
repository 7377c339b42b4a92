"""``driftline calibrate``: replay a history, measure candidate detectors per task, choose one."""

from streams.calibration.detector_calibration import (
    CANDIDATES,
    CandidateResult,
    DetectorCalibration,
)
from streams.calibration.history import TaskHistory, task_histories

__all__ = [
    "CANDIDATES",
    "CandidateResult",
    "DetectorCalibration",
    "TaskHistory",
    "task_histories",
]
