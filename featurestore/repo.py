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


def _tags(spec: ViewSpec) -> dict[str, str]:
    tags = {"driftline.kind": spec.kind}
    if spec.task:
        tags["driftline.task"] = spec.task
    return tags
