"""Production store: PostgreSQL offline store and SQL registry, Redis online store.

Secrets come from the environment variables the config names (``postgres_password_env``,
``redis_password_env``); an unset variable means "no password". Each view's offline rows live
in table ``<project>_<view>`` (lower case) in ``postgres_schema``, created by ``apply`` with an
index on (entity, event_timestamp); label tables also get a UNIQUE index on ``outcome_id``, so
even two racing writers cannot store one outcome twice.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from featurestore.backends.base import StoreBackend
from featurestore.errors import FeatureStoreError, StoreSchemaError
from featurestore.layout import ViewSpec

if TYPE_CHECKING:
    import psycopg
    from feast import RepoConfig
    from feast.data_source import DataSource

__all__ = ["PostgresBackend"]

_SQL_TYPE = {"float": "double precision", "int": "bigint", "string": "text", "bool": "boolean"}


class PostgresBackend(StoreBackend):
    """Tables in PostgreSQL, online values in Redis, the registry in PostgreSQL."""

    def _password(self, env: str) -> str:
        return os.environ.get(env, "")

    def _offline_settings(self) -> dict[str, Any]:
        from featurestore.offline_stores.postgres_copy import TYPE

        s = self.settings
        return {
            "type": TYPE,
            "host": s.postgres_host,
            "port": s.postgres_port,
            "database": s.postgres_database,
            "db_schema": s.postgres_schema,
            "user": s.postgres_user,
            "password": self._password(s.postgres_password_env),
            "sslmode": s.postgres_sslmode,
        }

    def registry_url(self) -> str:
        """SQLAlchemy URL of the registry database (holds the password: never print it)."""
        s = self.settings
        auth = quote(s.postgres_user, safe="")
        password = self._password(s.postgres_password_env)
        if password:
            auth += ":" + quote(password, safe="")
        return (
            f"postgresql+psycopg://{auth}@{s.postgres_host}:{s.postgres_port}/"
            f"{s.postgres_database}?sslmode={s.postgres_sslmode}"
        )

    def repo_config(self) -> RepoConfig:
        from feast import RepoConfig
        from feast.infra.registry.sql import SqlRegistryConfig

        s = self.settings
        redis = f"{s.redis_host}:{s.redis_port}"
        redis_password = self._password(s.redis_password_env)
        if redis_password:
            redis += f",password={redis_password}"
        root = self.path.resolve()
        root.mkdir(parents=True, exist_ok=True)
        return RepoConfig(
            project=self.layout.project,
            provider="local",
            repo_path=root,
            registry=SqlRegistryConfig(
                registry_type="sql", path=self.registry_url(), cache_ttl_seconds=60
            ),
            online_store={"type": "redis", "connection_string": redis},
            offline_store=self._offline_settings(),
            entity_key_serialization_version=3,
        )

    def table(self, view: ViewSpec) -> str:
        """The (unqualified, lower-case) table that holds ``view``'s offline rows."""
        return f"{self.layout.project}_{view.name}".lower()[:63]

    def batch_source(self, view: ViewSpec) -> DataSource:
        from feast.infra.offline_stores.contrib.postgres_offline_store.postgres_source import (
            PostgreSQLSource,
        )

        return PostgreSQLSource(
            name=f"{view.name}_source",
            table=self.table(view),
            timestamp_field="event_timestamp",
            created_timestamp_column="created_timestamp",
        )

    def connect(self) -> psycopg.Connection[Any]:
        """A new psycopg connection to the offline database."""
        import psycopg

        s = self.settings
        try:
            return psycopg.connect(
                host=s.postgres_host,
                port=s.postgres_port,
                dbname=s.postgres_database,
                user=s.postgres_user,
                password=self._password(s.postgres_password_env) or None,
                sslmode=s.postgres_sslmode,
            )
        except psycopg.OperationalError as exc:
            raise FeatureStoreError(
                f"cannot connect to PostgreSQL {s.postgres_user}@{s.postgres_host}:"
                f"{s.postgres_port}/{s.postgres_database} (password from "
                f"${s.postgres_password_env}): {exc}"
            ) from None

    def prepare(self) -> None:
        from psycopg import sql

        schema = self.settings.postgres_schema
        with self.connect() as conn:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            for view in self.layout.views:
                table = self.table(view)
                columns = [(view.entity, "text"), ("event_timestamp", "timestamp with time zone"),
                           ("created_timestamp", "timestamp with time zone")]  # fmt: skip
                columns += [(name, _SQL_TYPE[dtype]) for name, dtype in view.fields]
                stored = conn.execute(
                    "SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
                    (schema, table),
                ).fetchall()
                if stored and [tuple(r) for r in stored] != columns:
                    raise StoreSchemaError(
                        f"table {schema}.{table} has columns {stored}, the config declares "
                        f"{columns}; rename the table (keeping its data) and run apply again"
                    )
                target = sql.Identifier(schema, table)
                definition = sql.SQL(", ").join(
                    sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in columns
                )
                conn.execute(
                    sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(target, definition)
                )
                conn.execute(
                    sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} ({}, event_timestamp)").format(
                        sql.Identifier(f"{table[:50]}_entity_ts"),
                        target,
                        sql.Identifier(view.entity),
                    )
                )
                if view.kind == "label":
                    conn.execute(
                        sql.SQL("CREATE UNIQUE INDEX IF NOT EXISTS {} ON {} (outcome_id)").format(
                            sql.Identifier(f"{table[:50]}_outcome"), target
                        )
                    )

    def stored_values(self, view: ViewSpec, column: str, values: Iterable[str]) -> set[str]:
        from psycopg import sql

        wanted = sorted(set(values))
        if not wanted:
            return set()
        target = sql.Identifier(self.settings.postgres_schema, self.table(view))
        query = sql.SQL("SELECT DISTINCT {c} FROM {t} WHERE {c} = ANY(%s)").format(
            c=sql.Identifier(column), t=target
        )
        with self.connect() as conn:
            return {row[0] for row in conn.execute(query, (wanted,)).fetchall()}

    def describe(self) -> str:
        s = self.settings
        return (
            f"postgres {s.postgres_user}@{s.postgres_host}:{s.postgres_port}/"
            f"{s.postgres_database} + redis {s.redis_host}:{s.redis_port}"
        )
