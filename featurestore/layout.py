"""Names and column sets of the Feast objects generated from ``driftline.yaml`` (no Feast import).

One :class:`RepoLayout` answers every naming question, so the repo builder, the writers, the
retrieval code and the backends agree on it:

- entity ``<entity>`` (join key = the config's ``entity``, a string);
- ``shared_features``: the shared features (``features:`` in the config), when there are any;
- ``<task>_features``: a task's own features (``tasks.<task>.features``), only when it has some;
- ``<task>_labels``: the labelled outcomes of a task (written by :class:`~featurestore.LabelSink`);
- ``<view>_push``: the PushSource feeding each view;
- FeatureService ``<task>``: ``shared_features`` + ``<task>_features``.

Every batch source has the columns ``[<entity>, event_timestamp, created_timestamp, *fields]``
in that order (a PushSource offline write needs exactly that column set).

>>> from driftline.config import parse_config
>>> config = parse_config(
...     "model: shop-mtl\\nfeatures: [{name: tenure}]\\n"
...     "tasks:\\n  churn: {type: binary}\\n"
...     "  spend: {type: regression, features: [{name: aov}]}\\n"
... )
>>> layout = RepoLayout.from_config(config)
>>> layout.project, [v.name for v in layout.views]
('shop_mtl', ['shared_features', 'spend_features', 'churn_labels', 'spend_labels'])
>>> layout.service_views("spend")
['shared_features', 'spend_features']
>>> layout.label_view("churn").columns
['entity_id', 'event_timestamp', 'created_timestamp', 'outcome_id', 'prediction_id', 'model_version', 'label']
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from driftline.config import DriftlineConfig

__all__ = ["CREATED_TIMESTAMP", "EVENT_TIMESTAMP", "LABEL_FIELDS", "RepoLayout", "ViewSpec"]

EVENT_TIMESTAMP = "event_timestamp"
CREATED_TIMESTAMP = "created_timestamp"
SHARED_VIEW = "shared_features"
LABEL_FIELDS: tuple[tuple[str, str], ...] = (
    ("outcome_id", "string"),
    ("prediction_id", "string"),
    ("model_version", "string"),
)
"""Fields of every label view before ``label`` (whose dtype depends on the task type)."""

_LABEL_DTYPE = {
    "binary": "float",
    "regression": "float",
    "ranking": "float",
    "multiclass": "string",
}
_RESERVED = {EVENT_TIMESTAMP, CREATED_TIMESTAMP, "row_id", "prediction_id", "model_version"}


def _identifier(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


@dataclass(frozen=True)
class ViewSpec:
    """One feature view: its name, kind, task (``None`` for shared) and typed fields."""

    name: str
    kind: str  # "shared" | "task" | "label"
    task: str | None
    entity: str
    fields: tuple[tuple[str, str], ...]

    @property
    def push_source(self) -> str:
        """Name of the PushSource that feeds this view."""
        return f"{self.name}_push"

    @property
    def field_names(self) -> list[str]:
        """The view's feature (field) names."""
        return [name for name, _ in self.fields]

    @property
    def columns(self) -> list[str]:
        """The exact column set (and order) of the view's batch source."""
        return [self.entity, EVENT_TIMESTAMP, CREATED_TIMESTAMP, *self.field_names]


@dataclass(frozen=True)
class RepoLayout:
    """Every Feast object driftline generates, by name, for one config."""

    project: str
    entity: str
    ttl_seconds: float
    views: tuple[ViewSpec, ...]
    tasks: tuple[str, ...]

    @classmethod
    def from_config(cls, config: DriftlineConfig) -> RepoLayout:
        """Derive the layout; raise ``ValueError`` when a feature name collides with a column."""
        entity = config.entity
        names = [f.name for f in config.features]
        names += [f.name for task in config.tasks.values() for f in task.features]
        for name in names:
            if name in _RESERVED | {entity} or name.startswith("label__"):
                raise ValueError(
                    f"feature {name!r} collides with a column driftline adds to training sets; "
                    "rename it in driftline.yaml"
                )
        views = []
        if config.features:
            shared = tuple((f.name, f.dtype) for f in config.features)
            views.append(ViewSpec(SHARED_VIEW, "shared", None, entity, shared))
        for task, spec in config.tasks.items():
            if spec.features:
                fields = tuple((f.name, f.dtype) for f in spec.features)
                views.append(
                    ViewSpec(f"{_identifier(task)}_features", "task", task, entity, fields)
                )
        for task, spec in config.tasks.items():
            labels = (*LABEL_FIELDS, ("label", _LABEL_DTYPE[spec.type]))
            views.append(ViewSpec(f"{_identifier(task)}_labels", "label", task, entity, labels))
        project = config.feature_store.project or _identifier(config.model)
        return cls(project, entity, config.feature_ttl, tuple(views), tuple(config.tasks))

    def view(self, name: str) -> ViewSpec:
        """The view called ``name``; ``KeyError`` when there is none."""
        for view in self.views:
            if view.name == name:
                return view
        raise KeyError(f"no feature view {name!r}; views are {[v.name for v in self.views]}")

    @property
    def feature_views(self) -> list[ViewSpec]:
        """Views holding feature values (shared and per task), not labels."""
        return [v for v in self.views if v.kind != "label"]

    def label_view(self, task: str) -> ViewSpec:
        """The label view of ``task``."""
        self.check_tasks([task])
        return next(v for v in self.views if v.kind == "label" and v.task == task)

    def service_views(self, task: str) -> list[str]:
        """Views in the FeatureService of ``task``: shared features, then the task's own."""
        self.check_tasks([task])
        return [v.name for v in self.feature_views if v.task in (None, task)]

    def feature_dtypes(self) -> dict[str, str]:
        """Every declared feature name -> dtype."""
        return {name: dtype for v in self.feature_views for name, dtype in v.fields}

    def check_tasks(self, tasks: list[str] | tuple[str, ...]) -> None:
        """Raise ``ValueError`` naming the known tasks when one of ``tasks`` is unknown."""
        unknown = [t for t in tasks if t not in self.tasks]
        if unknown:
            raise ValueError(f"unknown task(s) {unknown}; the config declares {list(self.tasks)}")
