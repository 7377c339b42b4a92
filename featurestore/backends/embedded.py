"""Embedded store: DuckDB over Parquet part files (offline), sqlite (online), sqlite SQL registry.

Layout under ``feature_store.path`` (default ``.driftline/feast``)::

    feature_store.yaml        generated, for inspection (`feast -c` can read it)
    registry.db               Feast SQL registry (sqlite)
    online.db                 Feast sqlite online store
    offline/<view>/*.parquet  one directory per view; one part file per pushed batch
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from featurestore.backends.base import StoreBackend
from featurestore.errors import StoreSchemaError
from featurestore.layout import ViewSpec

if TYPE_CHECKING:
    from feast import RepoConfig
    from feast.data_source import DataSource

__all__ = ["EmbeddedBackend", "arrow_schema"]

_ARROW = {"float": pa.float64(), "int": pa.int64(), "string": pa.string(), "bool": pa.bool_()}
SCHEMA_FILE = "part-00000-schema.parquet"


def arrow_schema(view: ViewSpec) -> pa.Schema:
    """The Arrow schema of ``view``'s batch source."""
    timestamp = pa.timestamp("us", tz="UTC")
    fields = [
        pa.field(view.entity, pa.string()),
        pa.field("event_timestamp", timestamp),
        pa.field("created_timestamp", timestamp),
    ]
    fields += [pa.field(name, _ARROW[dtype]) for name, dtype in view.fields]
    return pa.schema(fields)


class EmbeddedBackend(StoreBackend):
    """Files under ``feature_store.path``; nothing to run.

    Examples
    --------
    >>> import tempfile
    >>> from driftline.config import parse_config
    >>> from featurestore.layout import RepoLayout
    >>> root = tempfile.mkdtemp()
    >>> config = parse_config(
    ...     f"model: m\\nfeatures: [{{name: x}}]\\ntasks: {{t: {{type: binary}}}}\\n"
    ...     f"feature_store: {{type: embedded, path: {root}}}\\n"
    ... )
    >>> backend = EmbeddedBackend(config.feature_store, RepoLayout.from_config(config))
    >>> backend.prepare()
    >>> sorted(p.name for p in (backend.path / "offline").iterdir())
    ['shared_features', 't_labels']
    >>> backend.stored_values(backend.layout.view("t_labels"), "outcome_id", ["o-1"])
    set()
    """

    @property
    def offline_dir(self) -> Path:
        """Root of the Parquet directories."""
        return self.path.resolve() / "offline"

    def repo_config(self) -> RepoConfig:
        from feast import RepoConfig
        from feast.infra.registry.sql import SqlRegistryConfig

        from featurestore.offline_stores.duckdb_parts import TYPE

        root = self.path.resolve()
        root.mkdir(parents=True, exist_ok=True)
        return RepoConfig(
            project=self.layout.project,
            provider="local",
            repo_path=root,
            registry=SqlRegistryConfig(
                registry_type="sql", path=f"sqlite:///{root / 'registry.db'}", cache_ttl_seconds=60
            ),
            online_store={"type": "sqlite", "path": str(root / "online.db")},
            offline_store={"type": TYPE},
            entity_key_serialization_version=3,
        )

    def batch_source(self, view: ViewSpec) -> DataSource:
        from feast import FileSource
        from feast.data_format import ParquetFormat

        return FileSource(
            name=f"{view.name}_source",
            path=str(self.offline_dir / view.name),
            file_format=ParquetFormat(),
            timestamp_field="event_timestamp",
            created_timestamp_column="created_timestamp",
        )

    def prepare(self) -> None:
        for view in self.layout.views:
            directory = self.offline_dir / view.name
            directory.mkdir(parents=True, exist_ok=True)
            expected = arrow_schema(view)
            schema_file = directory / SCHEMA_FILE
            if schema_file.exists():
                stored = pq.read_schema(schema_file)
                if stored.names != expected.names or stored.types != expected.types:
                    raise StoreSchemaError(
                        f"{directory}: stored columns {_describe(stored)} differ from the "
                        f"config's {_describe(expected)}; move that directory away (keeping "
                        "its data) and run `driftline features apply` again"
                    )
                continue
            pq.write_table(expected.empty_table(), schema_file)

    def stored_values(self, view: ViewSpec, column: str, values: Iterable[str]) -> set[str]:
        import duckdb

        wanted = sorted(set(values))
        if not wanted:
            return set()
        pattern = str(self.offline_dir / view.name / "*.parquet").replace("'", "''")
        with duckdb.connect() as conn:
            rows = conn.execute(
                f"SELECT DISTINCT \"{column}\" FROM read_parquet('{pattern}') "
                f'WHERE "{column}" IN (SELECT unnest(?::VARCHAR[]))',
                [wanted],
            ).fetchall()
        return {row[0] for row in rows}


def _describe(schema: pa.Schema) -> str:
    return "[" + ", ".join(f"{f.name}:{f.type}" for f in schema) + "]"
