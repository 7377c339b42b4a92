"""The interface every feature-store backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from featurestore.layout import RepoLayout, ViewSpec

if TYPE_CHECKING:
    from feast import RepoConfig
    from feast.data_source import DataSource

__all__ = ["StoreBackend"]


class StoreBackend(ABC):
    """Builds Feast's ``RepoConfig`` and batch sources for one kind of store, and owns its tables.

    Parameters
    ----------
    settings
        The ``feature_store`` section of ``driftline.yaml``.
    layout
        Names and columns of every view.
    """

    def __init__(self, settings: Any, layout: RepoLayout) -> None:
        self.settings = settings
        self.layout = layout

    @property
    def path(self) -> Path:
        """Directory for local files (the generated ``feature_store.yaml``, sqlite files)."""
        return Path(self.settings.path)

    @abstractmethod
    def repo_config(self) -> RepoConfig:
        """Feast's ``RepoConfig`` for this store, built in code."""

    @abstractmethod
    def batch_source(self, view: ViewSpec) -> DataSource:
        """The offline (batch) source that holds ``view``'s rows."""

    @abstractmethod
    def prepare(self) -> None:
        """Create the offline tables/directories every view writes to (idempotent).

        Raises :class:`~featurestore.errors.StoreSchemaError` when stored data has other columns
        than the view now declares.
        """

    @abstractmethod
    def stored_values(self, view: ViewSpec, column: str, values: Iterable[str]) -> set[str]:
        """Which of ``values`` are already stored in ``column`` of ``view``'s offline table."""

    def describe(self) -> str:
        """One line naming where the data lives (no secrets)."""
        return f"{self.settings.type} store at {self.path}"
