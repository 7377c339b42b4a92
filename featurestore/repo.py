"""The Feast repo generated from ``driftline.yaml``, built in code and applied programmatically.

:class:`FeatureRepo` turns a :class:`~driftline.config.DriftlineConfig` into Feast objects (see
:mod:`featurestore.layout` for their names), a ``RepoConfig`` (see :mod:`featurestore.backends`)
and a ready ``feast.FeatureStore``. No hand-written ``feature_store.yaml`` is needed; ``apply``
writes one next to the store for people and the ``feast`` CLI to inspect.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from driftline.config import DriftlineConfig
from featurestore.backends import StoreBackend, backend_for
from featurestore.layout import RepoLayout, ViewSpec

if TYPE_CHECKING:
    from feast import FeatureService, FeatureStore, FeatureView

__all__ = ["FeatureRepo"]


class FeatureRepo:
    """Feast objects, config and store for one ``driftline.yaml``.

    Parameters
    ----------
    config
        The loaded driftline config.

    Examples
    --------
    >>> import tempfile
    >>> from driftline.config import parse_config
    >>> config = parse_config(
    ...     "model: shop\\nfeatures: [{name: tenure}]\\n"
    ...     "tasks: {churn: {type: binary}, spend: {type: regression, features: [{name: aov}]}}\\n"
    ...     f"feature_store: {{type: embedded, path: {tempfile.mkdtemp()}}}\\n"
    ... )
    >>> repo = FeatureRepo(config)
    >>> sorted(s.name for s in repo.services)
    ['churn', 'spend']
    >>> [p.name for p in repo.service("spend").feature_view_projections]
    ['shared_features', 'spend_features']
    """

    def __init__(self, config: DriftlineConfig) -> None:
        self.config = config

    @cached_property
    def layout(self) -> RepoLayout:
        """Names and columns of every generated object."""
        return RepoLayout.from_config(self.config)

    @cached_property
    def backend(self) -> StoreBackend:
        """The store backend that ``feature_store.type`` selects."""
        return backend_for(self.config, self.layout)

    @cached_property
    def _objects(self) -> tuple[Any, dict[str, FeatureView], dict[str, FeatureService]]:
        from feast import Entity, FeatureService, FeatureView, Field, PushSource, ValueType
        from feast.types import Bool, Float64, Int64, String

        quiet_feast()

        dtypes = {"float": Float64, "int": Int64, "string": String, "bool": Bool}
        layout = self.layout
        entity = Entity(name=layout.entity, join_keys=[layout.entity], value_type=ValueType.STRING)
        views: dict[str, FeatureView] = {}
        for spec in layout.views:
            push = PushSource(name=spec.push_source, batch_source=self.backend.batch_source(spec))
            views[spec.name] = FeatureView(
                name=spec.name,
                entities=[entity],
                # Label views are read as entity rows, never point-in-time joined: no TTL.
                ttl=timedelta(seconds=layout.ttl_seconds if spec.kind != "label" else 0),
                schema=[Field(name=n, dtype=dtypes[d]) for n, d in spec.fields],
                source=push,
                online=spec.kind != "label",
                tags=_tags(spec),
            )
        services = {
            task: FeatureService(
                name=task,
                features=[views[name] for name in layout.service_views(task)],
                tags={"driftline.task": task},
                description=f"Features the {task!r} head trains on (shared + its own).",
            )
            for task in layout.tasks
            if layout.service_views(task)
        }
        return entity, views, services

    @property
    def views(self) -> list[FeatureView]:
        """Every feature view: shared, per task, per-task labels."""
        return list(self._objects[1].values())

    @property
    def services(self) -> list[FeatureService]:
        """One FeatureService per task that has any features."""
        return list(self._objects[2].values())

    def view(self, name: str) -> FeatureView:
        """The Feast feature view called ``name``."""
        return self._objects[1][name]

    def service(self, task: str) -> FeatureService:
        """The FeatureService of ``task``."""
        self.layout.check_tasks([task])
        return self._objects[2][task]

    def feature_refs(self, tasks: list[str] | tuple[str, ...]) -> list[str]:
        """``view:feature`` references of the tasks' services, shared features once."""
        refs: list[str] = []
        for task in tasks:
            self.layout.check_tasks([task])
            for view_name in self.layout.service_views(task):
                view: ViewSpec = self.layout.view(view_name)
                refs += [
                    f"{view.name}:{f}" for f in view.field_names if f"{view.name}:{f}" not in refs
                ]
        return refs

    @cached_property
    def store(self) -> FeatureStore:
        """A ``feast.FeatureStore`` on the generated ``RepoConfig``."""
        from feast import FeatureStore

        quiet_feast()
        repo_config = self.backend.repo_config()
        return FeatureStore(repo_path=str(repo_config.repo_path), config=repo_config)

    def apply(self) -> list[str]:
        """Create the offline tables, register every object, write ``feature_store.yaml``.

        Returns the names of the applied objects. Idempotent.
        """
        self.backend.prepare()
        entity, views, services = self._objects
        self.store.apply([entity, *views.values(), *services.values()])
        self.write_yaml(self.backend.path / "feature_store.yaml")
        return [entity.name, *views, *(f"service:{s}" for s in services)]

    def missing(self) -> list[str]:
        """Names of generated objects the Feast registry does not hold yet (reads the registry).

        ``[]`` means ``driftline features apply`` has run for this config; a view or task added to
        the config since then is listed.
        """
        entity, views, services = self._objects
        store = self.store
        project = self.layout.project
        registry = store.registry
        have = {e.name for e in registry.list_entities(project, allow_cache=False)}
        have |= {v.name for v in registry.list_feature_views(project, allow_cache=False)}
        have |= {f"service:{s.name}" for s in registry.list_feature_services(project, allow_cache=False)}  # fmt: skip
        wanted = [entity.name, *views, *(f"service:{s}" for s in services)]
        return [name for name in wanted if name not in have]

    def ensure_applied(self) -> list[str]:
        """Apply the repo when the registry lacks any of its objects; the names applied, or ``[]``.

        What ``driftline monitor`` and ``driftline retrainer`` run at start-up, so that a fresh
        state dir works without a separate ``driftline features apply``. The offline tables are
        always checked (:meth:`StoreBackend.prepare`: idempotent, and it refuses stored data whose
        columns differ from the config). Raises :class:`FeatureStoreError` saying what failed.
        """
        from featurestore.errors import FeatureStoreError

        try:
            self.backend.prepare()
            if not self.missing():
                return []
            return self.apply()
        except FeatureStoreError:
            raise
        except Exception as exc:  # Feast and its stores raise many types
            if self._applied_by_another():
                return []
            raise FeatureStoreError(
                f"could not apply the Feast repo to {self.backend.describe()} "
                f"({type(exc).__name__}: {exc}); fix that and run `driftline features apply`"
            ) from exc

    def _applied_by_another(self) -> bool:
        """Whether the registry is complete after all (another process applied at the same time:
        a monitor worker and a retrainer starting together on a fresh state dir)."""
        try:
            return not self.missing()
        except Exception:
            return False

    def close(self) -> None:
        """Release what the Feast store holds open (registry engine, duckdb/sqlite connections).

        Idempotent; the next use of :attr:`store` opens a new one.
        """
        store = self.__dict__.pop("store", None)
        if store is not None:
            close_store(store)

    def write_yaml(self, path: Path) -> None:
        """Write the generated ``RepoConfig`` as YAML, secrets replaced by ``${ENV}`` references."""
        settings = self.config.feature_store
        data = self.backend.repo_config().model_dump(by_alias=True, exclude_none=True, mode="json")
        keep = {"project", "provider", "registry", "online_store", "offline_store",
                "entity_key_serialization_version"}  # fmt: skip
        data = {k: v for k, v in data.items() if k in keep}
        text = yaml.safe_dump(data, sort_keys=False)
        for env in ("postgres_password_env", "redis_password_env"):
            name = getattr(settings, env, None)
            secret = (
                self.backend._password(name) if name and hasattr(self.backend, "_password") else ""
            )
            if name and secret:
                text = text.replace(secret, "${" + name + "}")
        header = "# Generated by `driftline features apply` from driftline.yaml; do not edit.\n"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(header + text, encoding="utf-8")


def quiet_feast() -> None:
    """Filter third-party warnings again once Feast is imported, and release ibis at exit.

    Importing ``feast.feature_view`` puts ``simplefilter("once", DeprecationWarning)`` in front
    of every filter installed before it (see :mod:`driftline.quiet`). Feast's duckdb offline
    store runs its queries on ibis's default duckdb connection, a global that would otherwise
    live until the interpreter tears down duckdb's module (``nanobind: leaked ...`` at exit).
    """
    import atexit
    import importlib

    from driftline.quiet import quiet_third_party

    for module in _FEAST_FILTERING_MODULES:  # each one's import re-inserts its filter
        importlib.import_module(module)
    quiet_third_party()
    if not _released.get("registered"):
        _released["registered"] = True
        atexit.register(release_ibis)


_released: dict[str, bool] = {}
_FEAST_FILTERING_MODULES = ("feast.feature_view", "feast.on_demand_feature_view")


def release_ibis() -> None:
    """Disconnect ibis's default backend (a duckdb connection) and collect what it held."""
    import contextlib
    import gc
    import sys

    ibis = sys.modules.get("ibis")
    backend = getattr(getattr(ibis, "options", None), "default_backend", None)
    if ibis is not None and backend is not None:
        with contextlib.suppress(Exception):
            backend.disconnect()
        ibis.options.default_backend = None
    gc.collect()


def close_store(store: FeatureStore) -> None:
    """Close what a ``feast.FeatureStore`` holds: its SQL registry's engine and its online store's
    connection, so that nothing (duckdb, sqlite) is left for the interpreter to tear down."""
    import contextlib

    registry = getattr(store, "_registry", None)
    for name in ("read_engine", "write_engine"):  # never ``teardown()``: it deletes the objects
        with contextlib.suppress(Exception):
            engine = getattr(registry, name, None)
            if engine is not None:
                engine.dispose()
    provider = getattr(store, "_provider", None)
    online = getattr(provider, "_online_store", None)
    with contextlib.suppress(Exception):
        conn = getattr(online, "_conn", None)
        if online is not None and conn is not None:
            conn.close()
            online._conn = None


def _tags(spec: ViewSpec) -> dict[str, str]:
    tags = {"driftline.kind": spec.kind}
    if spec.task:
        tags["driftline.task"] = spec.task
    return tags
