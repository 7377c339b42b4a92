"""Exceptions of the models subsystem, all rooted in :class:`driftline.errors.DriftlineError`."""

from __future__ import annotations

from driftline.errors import DriftlineError

__all__ = [
    "ArtifactError",
    "ArtifactIntegrityError",
    "DuplicateRequestError",
    "ModelsError",
    "RegistryError",
    "SchemaError",
    "UnknownVersionError",
]


class ModelsError(DriftlineError):
    """Base of every error raised by :mod:`models`."""


class SchemaError(ModelsError, ValueError):
    """Data does not match the task specs or the feature schema (missing column, bad label...)."""


class ArtifactError(ModelsError):
    """A model artifact could not be written or read."""


class ArtifactIntegrityError(ArtifactError):
    """An artifact's bytes do not match the sha256 (or parameter hashes) its manifest records."""


class RegistryError(ModelsError):
    """The model registry refused an operation or could not be reached."""


class UnknownVersionError(RegistryError, LookupError):
    """A model, version or alias does not exist in the registry."""


class DuplicateRequestError(RegistryError):
    """A retrain request id was already registered; ``version`` is the version it produced."""

    def __init__(self, message: str, version: int) -> None:
        super().__init__(message)
        self.version = version
