"""Exceptions of the feature store, rooted in :class:`driftline.errors.DriftlineError`."""

from __future__ import annotations

from driftline.errors import DriftlineError

__all__ = ["FeatureRowError", "FeatureStoreError", "StoreSchemaError"]


class FeatureStoreError(DriftlineError):
    """The Feast feature store could not be built, written or read."""


class StoreSchemaError(FeatureStoreError):
    """Data already stored does not have the columns the config now declares."""


class FeatureRowError(FeatureStoreError):
    """One row of feature values or one labelled outcome is invalid; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
