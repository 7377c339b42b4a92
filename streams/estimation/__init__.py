"""Performance estimated before labels: calibrated confidence (CBPE) and direct loss estimates."""

from streams.estimation.calibrator import BinnedCalibrator
from streams.estimation.performance_estimator import (
    ESTIMATED_METRICS,
    ChunkEstimate,
    PerformanceEstimator,
)

__all__ = ["ESTIMATED_METRICS", "BinnedCalibrator", "ChunkEstimate", "PerformanceEstimator"]
