"""The :class:`FeatureProfiles` of every input partition a stage 1 worker holds."""

from __future__ import annotations

from typing import Any

from driftline.config.models import DriftlineConfig
from streams.features.feature_profiles import FeatureProfiles
from streams.outcome import Outcome

__all__ = ["PartitionedProfiles"]


class PartitionedProfiles:
    """One :class:`FeatureProfiles` per input partition, created on first use.

    The narrow entry point of feature profiling for stage 1: ``observe`` each decoded prediction
    of a partition, ``dump``/``load`` a partition's state with that partition's join state.

    Examples
    --------
    >>> from driftline.config import parse_config
    >>> from streams.records import PredictionRecord
    >>> cfg = parse_config("model: m\\nfeatures: [{name: x}]\\nfeature_drift: {enabled: true}"
    ...                    "\\ntasks:\\n  a: {type: binary}\\n")
    >>> profiles = PartitionedProfiles(cfg)
    >>> p = PredictionRecord("p-1", "m", "1", "e", 10.0, {"a": {"score": 0.5}}, {"x": 1.0})
    >>> profiles.observe(2, p, (7, 0)), profiles.of(2).pending()
    ([], 1)
    >>> PartitionedProfiles(cfg).load(2, profiles.dump(2)).pending()
    1
    """

    def __init__(self, config: DriftlineConfig) -> None:
        self.config = config
        self.partitions: dict[int, FeatureProfiles] = {}

    def of(self, partition: int) -> FeatureProfiles:
        """The profiles of ``partition`` (empty when new)."""
        profiles = self.partitions.get(partition)
        if profiles is None:
            profiles = self.partitions[partition] = FeatureProfiles(self.config, partition)
        return profiles

    def observe(self, partition: int, prediction: Any, where: tuple[int, int]) -> list[Outcome]:
        """One decoded prediction (a ``PredictionRecord``) at ``(offset, index)`` of
        ``partition``; the ``profile`` outcomes of the windows it closed."""
        return self.of(partition).observe(
            prediction.model, prediction.model_version, prediction.t, prediction.features, where
        )

    def dump(self, partition: int) -> bytes:
        """``partition``'s state, to store in the same checkpoint as its join state."""
        return self.of(partition).dump()

    def load(self, partition: int, data: bytes) -> FeatureProfiles:
        """Restore ``partition``'s state from :meth:`dump`'s bytes."""
        profiles = self.partitions[partition] = FeatureProfiles.load(self.config, partition, data)
        return profiles
