"""Change detectors: River detectors on a signal, threshold rules on metrics, a dummy baseline."""

from streams.detectors.periodic import PeriodicDetector
from streams.detectors.reference_scale import ReferenceScale
from streams.detectors.river_detector import BINARY_KINDS, DETECTOR_CLASSES, RiverDetector
from streams.detectors.threshold_rule import ThresholdDetector

__all__ = [
    "BINARY_KINDS",
    "DETECTOR_CLASSES",
    "PeriodicDetector",
    "ReferenceScale",
    "RiverDetector",
    "ThresholdDetector",
]
