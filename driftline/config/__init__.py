"""driftline.yaml: typed config models and the loader that reports ``PATH:LINE`` errors."""

from driftline.config.loader import find_config, load_config, parse_config
from driftline.config.models import (
    DetectorConfig,
    DriftlineConfig,
    FeatureSpec,
    KafkaConfig,
    SecurityConfig,
    TaskConfig,
    TopicsConfig,
)

__all__ = [
    "DetectorConfig",
    "DriftlineConfig",
    "FeatureSpec",
    "KafkaConfig",
    "SecurityConfig",
    "TaskConfig",
    "TopicsConfig",
    "find_config",
    "load_config",
    "parse_config",
]
