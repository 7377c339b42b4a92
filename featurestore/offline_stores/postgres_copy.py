"""Feast's PostgreSQL offline store plus offline writes (a Feast plugin).

Feast 0.67's ``PostgreSQLOfflineStore`` has no ``offline_write_batch``: a push with
``PushMode.OFFLINE`` raises ``NotImplementedError``. This subclass writes the batch with one
``COPY`` inside one transaction, so a batch is stored whole or not at all.

Plugged in with ``offline_store: {type: featurestore.offline_stores.postgres_copy.PostgresCopyOfflineStore}``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

import pyarrow as pa
from feast.feature_view import FeatureView
from feast.infra.offline_stores.contrib.postgres_offline_store.postgres import (
    PostgreSQLOfflineStore,
    PostgreSQLOfflineStoreConfig,
)
from feast.infra.offline_stores.contrib.postgres_offline_store.postgres_source import (
    PostgreSQLSource,
)
from feast.infra.utils.postgres.connection_utils import _get_conn
from feast.repo_config import RepoConfig
from psycopg import sql

__all__ = ["PostgresCopyOfflineStore", "PostgresCopyOfflineStoreConfig"]

TYPE = "featurestore.offline_stores.postgres_copy.PostgresCopyOfflineStore"


class PostgresCopyOfflineStoreConfig(PostgreSQLOfflineStoreConfig):
    """Same settings as Feast's ``postgres`` offline store."""

    type: Literal["featurestore.offline_stores.postgres_copy.PostgresCopyOfflineStore"] = TYPE  # type: ignore[assignment]


class PostgresCopyOfflineStore(PostgreSQLOfflineStore):
    """PostgreSQL offline store whose offline writes are one ``COPY`` per batch."""

    @staticmethod
    def offline_write_batch(
        config: RepoConfig,
        feature_view: FeatureView,
        table: pa.Table,
        progress: Callable[[int], Any] | None,
    ) -> None:
        source = feature_view.batch_source
        table_name = source.get_table_query_string() if isinstance(source, PostgreSQLSource) else ""
        if not table_name or table_name.startswith("("):
            raise ValueError(f"feature view {feature_view.name!r} has no PostgreSQL table source")
        schema, _, name = table_name.rpartition(".")
        target = sql.Identifier(schema, name) if schema else sql.Identifier(name)
        columns = sql.SQL(", ").join(sql.Identifier(c) for c in table.column_names)
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(target, columns)
        rows = zip(*(c.to_pylist() for c in table.columns), strict=True)
        with (
            _get_conn(config.offline_store) as conn,
            conn.transaction(),
            conn.cursor() as cur,
            cur.copy(statement) as copy,
        ):
            for row in rows:
                copy.write_row([_null_for_nan(v) for v in row])
        if progress:
            progress(table.num_rows)


def _null_for_nan(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value
