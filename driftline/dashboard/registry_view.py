"""Read-only look-ups in the model registry (``models.registry``, SQLAlchemy) for the dashboard.

The registry is optional for the dashboard: a sqlite registry file that does not exist, or a
database that does not answer, makes :meth:`RegistryView.entry` return ``None`` with the reason
in :attr:`RegistryView.error`, and the pages show the model updates without the registry's
details. Nothing here writes (a missing sqlite file is never created).
"""

from __future__ import annotations

import importlib
import json
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

from driftline.config.models import DriftlineConfig

__all__ = ["RegistryView"]


class RegistryView:
    """A version's registry entry and its promotion-gate verdicts (from the manifest).

    Parameters
    ----------
    config
        The loaded ``driftline.yaml`` (``registry``).

    Examples
    --------
    >>> from driftline.config import parse_config
    >>> cfg = parse_config("model: m\\nregistry: {url: 'sqlite:////nonexistent/r.db'}\\n"
    ...                    "tasks: {a: {type: binary}}\\n")
    >>> view = RegistryView(cfg)
    >>> view.entry("m", "1") is None, view.error
    (True, 'no registry at /nonexistent/r.db')
    """

    def __init__(self, config: DriftlineConfig) -> None:
        self.config = config
        self.error: str | None = None
        self._registry: Any = None
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], dict[str, Any]] = {}

    def entry(self, model: str, version: str) -> dict[str, Any] | None:
        """The version as JSON-ready data (``gate``: the retrainer's verdict per task), or
        ``None`` when the registry cannot say (see :attr:`error`)."""
        key = (model, str(version))
        with self._lock:
            if key in self._cache:
                return self._cache[key]
            registry = self._open()
            if registry is None:
                return None
            try:
                info = registry.get_version(model, version)
            except Exception as exc:  # RegistryError (unknown version) or a database error
                self.error = f"{type(exc).__name__}: {exc}"
                return None
            data = {k: _plain(v) for k, v in asdict(info).items()}
            manifest = _manifest(Path(info.artifact_path))
            data["gate"] = (manifest.get("retrainer") or {}).get("gate")
            data["training"] = {
                k: v for k, v in (manifest.get("retrainer") or {}).items() if k in ("plan", "data")
            }
            self._cache[key] = data
            return data

    def _open(self) -> Any:
        if self._registry is not None:
            return self._registry
        url = self.config.registry.url
        if url.startswith("sqlite:///"):
            path = Path(url.removeprefix("sqlite:///"))
            if not path.exists():
                self.error = f"no registry at {path}"
                return None
        try:
            # imported by name: driftline's core does not depend on `models` (nor type-checks it)
            registry = importlib.import_module("models.registry")
            self._registry = registry.Registry.from_config(self.config.registry)
        except Exception as exc:  # an import or connection problem: the pages go on without it
            self.error = f"{type(exc).__name__}: {exc}"
            return None
        return self._registry


def _manifest(artifact: Path) -> dict[str, Any]:
    path = artifact / "manifest.json" if artifact.is_dir() else artifact.parent / "manifest.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value
