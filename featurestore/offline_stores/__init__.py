"""Feast offline stores that driftline plugs into ``RepoConfig`` by class path.

Both add what the stock stores lack for a streaming label sink:

- :class:`~featurestore.offline_stores.duckdb_parts.DuckDBPartsOfflineStore`: Feast's DuckDB
  store, but a push to the offline store writes one new Parquet *part file* per batch into the
  view's directory (atomically: temp file + rename) instead of reading and rewriting the whole
  file (the stock behaviour, see DESIGN.md pitfalls).
- :class:`~featurestore.offline_stores.postgres_copy.PostgresCopyOfflineStore`: Feast's
  PostgreSQL store plus ``offline_write_batch`` (the stock one raises ``NotImplementedError``), one
  ``COPY`` in one transaction per batch.

They are imported by Feast from their class path, never by ``import featurestore``.
"""
