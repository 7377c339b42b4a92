"""The production path: PostgreSQL offline store + SQL registry, Redis online store (real servers)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from driftline.config import parse_config
from tests.servers import PostgresServer, RedisServer

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _outcome(oid: str, task: str, pid: str, entity: str, at: datetime, label: object) -> dict:
    return {"outcome_id": oid, "task": task, "prediction_id": pid, "entity_id": entity,
            "event_time": at.isoformat(), "label": label, "model_version": "1"}  # fmt: skip


@pytest.mark.servers
def test_postgres_and_redis_store_round_trip(
    postgres_server: PostgresServer,
    redis_server: RedisServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from featurestore.ingest import push_features
    from featurestore.label_sink import LabelSink
    from featurestore.repo import FeatureRepo
    from featurestore.retrieval import online_features, training_set

    postgres_server.create_database("features")
    monkeypatch.setenv("DRIFTLINE_POSTGRES_PASSWORD", postgres_server.password)
    monkeypatch.setenv("DRIFTLINE_REDIS_PASSWORD", redis_server.password)
    config = parse_config(
        f"""
model: shop-mtl
state_dir: {tmp_path}
feature_ttl: 1d
features: [{{name: tenure}}, {{name: country, dtype: string}}]
tasks:
  churn: {{type: binary}}
  spend: {{type: regression, features: [{{name: avg_order_value}}]}}
feature_store:
  type: postgres
  path: {tmp_path}/feast
  postgres_host: {postgres_server.host}
  postgres_port: {postgres_server.port}
  postgres_database: features
  postgres_user: {postgres_server.user}
  postgres_sslmode: disable
  redis_host: {redis_server.host}
  redis_port: {redis_server.port}
"""
    )
    repo = FeatureRepo(config)
    repo.apply()
    repo.apply()  # idempotent: tables and registry entries already there
    yaml_text = (tmp_path / "feast" / "feature_store.yaml").read_text()
    assert (
        postgres_server.password not in yaml_text and "${DRIFTLINE_POSTGRES_PASSWORD}" in yaml_text
    )

    rows = [
        {"entity_id": "e1", "event_time": (T0 - timedelta(hours=1)).isoformat(), "tenure": 1.0,
         "country": "DE", "avg_order_value": 10.0},
        {"entity_id": "e1", "event_time": (T0 + timedelta(hours=1)).isoformat(), "tenure": 99.0},
        {"entity_id": "e2", "event_time": (T0 - timedelta(days=3)).isoformat(), "tenure": 2.0},
        {"entity_id": "e3", "event_time": T0.isoformat(), "tenure": float("nan")},
    ]  # fmt: skip
    report = push_features(config, rows, to="offline", repo=repo)
    assert report.pushed == 3 and [r.line for r in report.rejected] == [4]

    outcomes = [
        _outcome("o1", "churn", "p1", "e1", T0, 1),
        _outcome("o2", "spend", "p1", "e1", T0, 12.5),
        _outcome("o3", "churn", "p2", "e2", T0, 0),
        _outcome("o4", "churn", "p3", "e3", T0, 1),
    ]
    sink = LabelSink(config, repo=repo)
    assert sink.write(outcomes) == 4 and sink.flush() == 4
    restarted = LabelSink(config, repo=FeatureRepo(config))
    assert restarted.write(outcomes) == 0 and restarted.flush() == 0

    window = (T0 - timedelta(days=1), T0 + timedelta(days=1))
    frame = training_set(config, ["churn", "spend"], *window, repo=repo)
    rows_by_id = {r["prediction_id"]: r for r in frame.to_dict("records")}
    assert list(frame["prediction_id"]) == ["p1", "p2", "p3"]
    assert rows_by_id["p1"]["tenure"] == 1.0  # the value written after T0 is not used
    assert rows_by_id["p1"]["avg_order_value"] == 10.0 and rows_by_id["p1"]["label__spend"] == 12.5
    assert math.isnan(rows_by_id["p2"]["tenure"])  # outside the TTL: kept, NaN
    assert math.isnan(rows_by_id["p3"]["tenure"]) and math.isnan(rows_by_id["p3"]["label__spend"])

    repo.store.materialize(T0 - timedelta(days=10), T0 + timedelta(days=1))
    online = online_features(config, ["e1", "e2"], ["spend"], repo=repo)
    assert online.loc[0, "tenure"] == 99.0 and online.loc[0, "avg_order_value"] == 10.0

    import redis

    client = redis.Redis(host=redis_server.host, port=redis_server.port,
                         password=redis_server.password)  # fmt: skip
    assert client.dbsize() > 0  # the online values really are in Redis
