"""Per-feature drift: window sketches per partition (stage 1), merged and compared with a
reference profile per task's feature view (stage 2)."""

from streams.features.drift_statistics import FeatureDistance, compare
from streams.features.false_discovery import benjamini_hochberg
from streams.features.feature_alerts import FeatureAlerts
from streams.features.feature_drift import FeatureDriftMonitor, FeatureFinding
from streams.features.feature_profiles import PROFILE_ORIGIN, FeatureProfiles
from streams.features.partitioned_profiles import PartitionedProfiles
from streams.features.profile import FeatureProfile, feature_kinds
from streams.features.sketches import CategoricalSketch, NumericSketch

__all__ = [
    "PROFILE_ORIGIN",
    "CategoricalSketch",
    "FeatureAlerts",
    "FeatureDistance",
    "FeatureDriftMonitor",
    "FeatureFinding",
    "FeatureProfile",
    "FeatureProfiles",
    "NumericSketch",
    "PartitionedProfiles",
    "benjamini_hochberg",
    "compare",
    "feature_kinds",
]
