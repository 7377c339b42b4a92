"""Feast's DuckDB offline store, writing pushes as atomic Parquet part files (a Feast plugin).

Each feature view's batch source is a *directory* of Parquet files (a Feast ``FileSource`` whose
path is the directory; DuckDB and pyarrow read all files in it). An offline push adds one file,
written to ``<offline>/.tmp/`` and renamed into the directory, so a reader never sees half a
batch and a crash leaves either the whole batch or nothing.

Plugged in with ``offline_store: {type: featurestore.offline_stores.duckdb_parts.DuckDBPartsOfflineStore}``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq
from feast.feature_view import FeatureView
from feast.infra.offline_stores.duckdb import DuckDBOfflineStore, DuckDBOfflineStoreConfig
from feast.infra.offline_stores.file_source import FileSource
from feast.repo_config import RepoConfig

__all__ = ["DuckDBPartsOfflineStore", "DuckDBPartsOfflineStoreConfig", "write_part"]

TYPE = "featurestore.offline_stores.duckdb_parts.DuckDBPartsOfflineStore"


class DuckDBPartsOfflineStoreConfig(DuckDBOfflineStoreConfig):
    """Same settings as Feast's ``duckdb`` offline store."""

    type: Literal["featurestore.offline_stores.duckdb_parts.DuckDBPartsOfflineStore"] = TYPE  # type: ignore[assignment]


class DuckDBPartsOfflineStore(DuckDBOfflineStore):
    """DuckDB offline store whose offline writes append one Parquet part file per batch."""

    @staticmethod
    def offline_write_batch(
        config: RepoConfig,
        feature_view: FeatureView,
        table: pa.Table,
        progress: Callable[[int], Any] | None,
    ) -> None:
        source = feature_view.batch_source
        if not isinstance(source, FileSource):
            raise ValueError(f"feature view {feature_view.name!r} has no Parquet directory source")
        write_part(Path(source.path), table)
        if progress:
            progress(table.num_rows)


def write_part(directory: Path, table: pa.Table) -> Path:
    """Append ``table`` to the Parquet directory as one new part file; return its path.

    The table is cast to the schema of the directory's first file (written by ``apply``), and
    a table with other columns is refused with both column lists.
    """
    schema = pq.read_schema(_schema_file(directory))
    if table.column_names != schema.names:
        raise ValueError(
            f"{directory}: columns {table.column_names} do not match the stored columns "
            f"{schema.names} (same names, same order)"
        )
    table = table.replace_schema_metadata(None).cast(schema)
    tmp_dir = directory.parent / ".tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    name = f"part-{uuid.uuid4().hex}.parquet"
    tmp = tmp_dir / name
    pq.write_table(table, tmp)
    final = directory / name
    os.replace(tmp, final)
    return final


def _schema_file(directory: Path) -> Path:
    first = directory / "part-00000-schema.parquet"
    if not first.exists():
        raise FileNotFoundError(
            f"{directory}: no offline data directory; run `driftline features apply` first"
        )
    return first
