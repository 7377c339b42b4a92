"""Where Feast keeps driftline's data: one backend per ``feature_store.type`` in the config.

A backend is an abstract class (:class:`~featurestore.backends.base.StoreBackend`) plus the
config section with a ``type`` literal that selects it, as Feast does for its own stores.
"""

from __future__ import annotations

from driftline.config import DriftlineConfig
from featurestore.backends.base import StoreBackend
from featurestore.layout import RepoLayout

__all__ = ["StoreBackend", "backend_for"]


def backend_for(config: DriftlineConfig, layout: RepoLayout | None = None) -> StoreBackend:
    """The backend that ``config.feature_store.type`` names."""
    layout = layout or RepoLayout.from_config(config)
    if config.feature_store.type == "embedded":
        from featurestore.backends.embedded import EmbeddedBackend

        return EmbeddedBackend(config.feature_store, layout)
    from featurestore.backends.postgres import PostgresBackend

    return PostgresBackend(config.feature_store, layout)
