"""Point-in-time-correct training sets and online lookups.

:func:`training_set` columns, in this order:

``row_id``
    0..n-1; rows are sorted by (``event_timestamp``, ``prediction_id``) and the frame keeps
    exactly one row per labelled prediction, in that order.
``prediction_id``, ``<entity>``, ``event_timestamp`` (UTC), ``model_version``
    The prediction each row describes (taken from its label rows).
the features of the requested tasks' FeatureServices
    Shared features once, then each task's own; each value is the latest one written at or
    before the prediction's ``event_timestamp`` and within ``feature_ttl``; NaN/None when there
    is none (the row is kept).
``label__<task>`` for every requested task
    The task's label for that prediction, NaN (None for multiclass) where the task has none.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import numpy as np
import pandas as pd

from driftline.config import DriftlineConfig
from featurestore.errors import FeatureStoreError
from featurestore.layout import CREATED_TIMESTAMP, EVENT_TIMESTAMP, ViewSpec
from featurestore.repo import FeatureRepo

__all__ = ["label_column", "online_features", "read_view", "training_set"]


def label_column(task: str) -> str:
    """Name of ``task``'s label column in a training set.

    >>> label_column("churn")
    'label__churn'
    """
    return f"label__{task}"


def read_view(
    repo: FeatureRepo, view: ViewSpec, start: datetime | None = None, end: datetime | None = None
) -> pd.DataFrame:
    """All stored offline rows of ``view`` with ``start <= event_timestamp <= end``."""
    from feast.infra.offline_stores.offline_utils import get_offline_store_from_config

    store = repo.store
    offline = get_offline_store_from_config(store.config.offline_store)
    source = repo.view(view.name).batch_source
    assert source is not None, f"feature view {view.name} has no batch source"
    job = offline.pull_all_from_table_or_query(
        config=store.config,
        data_source=source,
        join_key_columns=[view.entity],
        feature_name_columns=view.field_names,
        timestamp_field=EVENT_TIMESTAMP,
        created_timestamp_column=CREATED_TIMESTAMP,
        start_date=start,
        end_date=end,
    )
    frame = job.to_df()
    for column in (EVENT_TIMESTAMP, CREATED_TIMESTAMP):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def training_set(
    config: DriftlineConfig,
    tasks: str | Sequence[str],
    window_start: datetime,
    window_end: datetime,
    *,
    repo: FeatureRepo | None = None,
) -> pd.DataFrame:
    """The labelled predictions of ``tasks`` in ``[window_start, window_end]`` with their features.

    Entity rows are the predictions that have a label for at least one requested task, with the
    prediction's event time; features come from each task's FeatureService through Feast's
    point-in-time join (nothing written after the prediction is used). See the module docstring
    for the columns.
    """
    tasks = [tasks] if isinstance(tasks, str) else list(tasks)
    if not tasks:
        raise ValueError("training_set needs at least one task")
    for moment in (window_start, window_end):
        if moment.tzinfo is None:
            raise ValueError(f"{moment!r} has no timezone; pass an aware datetime (UTC)")
    repo = repo or FeatureRepo(config)
    layout = repo.layout
    layout.check_tasks(tasks)
    entity = layout.entity
    labels = _latest_labels(repo, tasks, window_start, window_end)
    refs = _service_refs(repo, tasks)
    predictions = (
        labels.sort_values([EVENT_TIMESTAMP, "prediction_id", CREATED_TIMESTAMP])
        .drop_duplicates("prediction_id", keep="first")
        .reset_index(drop=True)
    )
    frame = pd.DataFrame(
        {
            "row_id": np.arange(len(predictions), dtype="int64"),
            "prediction_id": predictions["prediction_id"].astype("object"),
            entity: predictions[entity].astype("object"),
            EVENT_TIMESTAMP: predictions[EVENT_TIMESTAMP],
            "model_version": predictions["model_version"].astype("object"),
        }
    )
    if refs and len(frame):
        entity_df = frame[["row_id", entity, EVENT_TIMESTAMP]]
        joined = repo.store.get_historical_features(entity_df=entity_df, features=refs).to_df()
        joined = joined.sort_values("row_id").reset_index(drop=True)
        if len(joined) != len(frame) or not (joined["row_id"].to_numpy() == frame["row_id"]).all():
            raise FeatureStoreError(
                f"the offline store returned {len(joined)} rows for {len(frame)} entity rows; "
                "a store that drops or duplicates entity rows cannot build training sets"
            )
        names = [ref.split(":", 1)[1] for ref in refs]
        frame = pd.concat([frame, joined[names]], axis=1)
    elif refs:
        for ref in refs:
            frame[ref.split(":", 1)[1]] = pd.Series(dtype="float64")
    for task in tasks:
        task_labels = labels[labels["task"] == task].set_index("prediction_id")["label"]
        column = frame["prediction_id"].map(task_labels)
        numeric = dict(layout.label_view(task).fields)["label"] == "float"
        frame[label_column(task)] = column.astype("float64") if numeric else column.astype("object")
    return frame


def online_features(
    config: DriftlineConfig,
    entity_ids: Iterable[str],
    tasks: Sequence[str] | None = None,
    *,
    repo: FeatureRepo | None = None,
) -> pd.DataFrame:
    """Latest materialized feature values for ``entity_ids`` (order kept), for serving.

    Columns: the entity, then the features of the ``tasks``' services (all tasks by default).
    Run ``driftline features materialize`` (or push with ``to="online"``/``"both"``) first.
    """
    repo = repo or FeatureRepo(config)
    ids = list(entity_ids)
    refs = _service_refs(repo, list(tasks) if tasks is not None else list(repo.layout.tasks))
    entity = repo.layout.entity
    if not refs:
        return pd.DataFrame({entity: ids})
    response = repo.store.get_online_features(features=refs, entity_rows=[{entity: i} for i in ids])
    return response.to_df()


def _service_refs(repo: FeatureRepo, tasks: Sequence[str]) -> list[str]:
    """``view:feature`` refs of each task's FeatureService as registered, each once."""
    refs: list[str] = []
    for task in tasks:
        repo.layout.check_tasks([task])
        if not repo.layout.service_views(task):
            continue
        service = repo.store.get_feature_service(task)
        for projection in service.feature_view_projections:
            for feature in projection.features:
                ref = f"{projection.name_to_use()}:{feature.name}"  # type: ignore[no-untyped-call]
                if ref not in refs:
                    refs.append(ref)
    return refs


def _latest_labels(
    repo: FeatureRepo, tasks: Sequence[str], start: datetime, end: datetime
) -> pd.DataFrame:
    """Label rows of ``tasks`` in the window; the latest write per (task, prediction) wins."""
    parts = []
    for task in tasks:
        rows = read_view(repo, repo.layout.label_view(task), start, end)
        rows["task"] = task
        parts.append(rows)
    # concatenating an empty frame is deprecated in pandas (FutureWarning): leave them out
    labels = pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True)
    labels = labels.sort_values(CREATED_TIMESTAMP, kind="stable")
    return labels.drop_duplicates(["task", "prediction_id"], keep="last")
