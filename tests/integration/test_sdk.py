"""The three user doors on a real broker: produce with the SDK or kcat, read back, validate."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest
from confluent_kafka import Consumer

from driftline.client import Client
from driftline.errors import DeliveryError, DriftlineError, EventValidationError
from driftline.events import Alert, EvidenceWindow, Label, Prediction, encode, stable_id
from driftline.kafka_logs import kafka_logger
from driftline.partitioning import partition_for
from driftline.reader import EventReader
from driftline.schemas import load_schema
from driftline.topics import create_topics

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def _raw_records(config, topic: str, expected: int, timeout: float = 30.0) -> list:  # type: ignore[no-untyped-def]
    consumer = Consumer(
        {"logger": kafka_logger(), "bootstrap.servers": config.kafka.bootstrap_servers, "group.id": f"raw-{topic}",
         "auto.offset.reset": "earliest", "enable.auto.commit": False}
    )  # fmt: skip
    consumer.subscribe([topic])
    records = []
    import time

    deadline = time.monotonic() + timeout
    last = time.monotonic()
    while time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and not msg.error():
            records.append(msg)
            last = time.monotonic()
        elif len(records) >= expected and time.monotonic() - last > 3:
            break
    consumer.close()
    return records


def _log(client: Client, n: int) -> None:
    for i in range(n):
        client.log_prediction(
            f"p-{i}",
            {"churn": {"score": (i % 10) / 10}, "spend": {"value": float(i)}},
            model_version="1",
            entity_id=f"c-{i % 7}",
            event_time=T0 + timedelta(seconds=i),
            features={"tenure": i},
        )
        client.log_label(f"p-{i}", "churn", i % 2, event_time=T0 + timedelta(seconds=i + 5))


def test_sdk_envelopes_round_trip_and_match_schema(make_config) -> None:  # type: ignore[no-untyped-def]
    config, _ = make_config(partitions=4, producer={"envelope_events": 25, "linger_ms": 20})
    assert set(create_topics(config).values()) == {"created"}
    with Client(config) as client:
        _log(client, 200)
        assert client.flush() == 400
    records = _raw_records(config, config.topics.predictions, expected=8)
    batch_schema, prediction_schema = (
        load_schema("driftline.batch/1"),
        load_schema("driftline.prediction/1"),
    )
    seen = []
    for record in records:
        envelope = json.loads(record.value())
        jsonschema.validate(envelope, batch_schema)
        assert 1 <= len(envelope["events"]) <= 25
        for event in envelope["events"]:
            jsonschema.validate(event, prediction_schema)
            # each envelope sits on the murmur2 partition of every event it holds
            assert record.partition() == partition_for(event["prediction_id"], 4)
            seen.append(event["prediction_id"])
    assert sorted(seen) == sorted(f"p-{i}" for i in range(200))
    with EventReader(config, [config.topics.labels]) as reader:
        labels = [item for item in reader.read(timeout=30, idle=5)]
    assert all(item.error is None and isinstance(item.event, Label) for item in labels)
    assert len({item.event.prediction_id for item in labels}) == 200
    assert all(item.source.index is not None for item in labels)


def test_single_record_mode_uses_murmur2_like_java(make_config) -> None:  # type: ignore[no-untyped-def]
    config, _ = make_config(partitions=6)
    create_topics(config)
    with Client(config, envelopes=False) as client:
        _log(client, 60)
    records = _raw_records(config, config.topics.predictions, expected=60)
    assert len(records) == 60
    for record in records:
        assert record.key().decode() == json.loads(record.value())["prediction_id"]
        assert record.partition() == partition_for(record.key(), 6)


def test_kcat_event_is_accepted_by_the_reader(make_config) -> None:  # type: ignore[no-untyped-def]
    kcat = shutil.which("kcat")
    if kcat is None:
        pytest.fail("kcat not installed: run `make setup` (apt-get install kcat)")
    config, _ = make_config(partitions=4)
    create_topics(config)
    event = {"schema": "driftline.prediction/1", "prediction_id": "p-kcat", "model": "shop-mtl",
             "model_version": "3", "entity_id": "cust-42", "event_time": "2026-11-23T12:00:00Z",
             "outputs": {"churn": {"score": 0.83}}, "features": {"tenure": 14}}  # fmt: skip
    subprocess.run(
        [kcat, "-P", "-b", config.kafka.bootstrap_servers, "-t", config.topics.predictions,
         "-K", "|", "-X", "partitioner=murmur2_random"],
        input=f"p-kcat|{json.dumps(event)}\n", text=True, check=True, timeout=30,
    )  # fmt: skip
    with EventReader(config, [config.topics.predictions]) as reader:
        items = list(reader.read(timeout=30, idle=5))
    assert len(items) == 1 and items[0].error is None
    prediction = items[0].event
    assert isinstance(prediction, Prediction) and prediction.prediction_id == "p-kcat"
    assert items[0].source.partition == partition_for("p-kcat", 4)


def test_invalid_events_never_reach_kafka(make_config) -> None:  # type: ignore[no-untyped-def]
    config, _ = make_config()
    create_topics(config)
    with Client(config) as client:
        with pytest.raises(EventValidationError, match="unknown task"):
            client.log_label("p-1", "colour", 1)
        with pytest.raises(EventValidationError, match="finite"):
            client.log_prediction(
                "p-1", {"churn": {"score": float("nan")}}, model_version="1", entity_id="e"
            )
        assert client.flush() == 0


def test_missing_topic_is_a_clear_error(make_config) -> None:  # type: ignore[no-untyped-def]
    config, _ = make_config()
    with Client(config) as client, pytest.raises(DeliveryError, match="driftline topics create"):
        client.log_label("p-1", "churn", 1)


def test_topics_create_is_idempotent_and_checks_copartitioning(make_config) -> None:  # type: ignore[no-untyped-def]
    config, _ = make_config(partitions=3)
    assert set(create_topics(config).values()) == {"created"}
    assert set(create_topics(config).values()) == {"exists"}
    # a labels topic that already exists with another partition count than predictions
    wider, _ = make_config(partitions=5)
    create_topics(wider)
    clash = config.model_copy(
        update={"topics": config.topics.model_copy(update={"labels": wider.topics.labels})}
    )
    with pytest.raises(DriftlineError, match="same partition count"):
        create_topics(clash)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "driftline.cli", *args], capture_output=True, text=True,
        cwd=ROOT, timeout=120, env={**os.environ},
    )  # fmt: skip


def test_produce_cli_reports_bad_lines_and_sends_good_ones(make_config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config, path = make_config()
    assert _cli("topics", "create", "-c", str(path)).returncode == 0
    good = {"schema": "driftline.label/1", "prediction_id": "p-1", "task": "churn", "label": 1,
            "event_time": "2026-11-23T12:00:00Z"}  # fmt: skip
    lines = [
        json.dumps(good),
        "{broken",
        json.dumps({**good, "task": "nope"}),
        json.dumps({**good, "prediction_id": "p-2"}),
    ]
    data = tmp_path / "labels.jsonl"
    data.write_text("\n".join(lines) + "\n")
    result = _cli("produce", "labels", str(data), "-c", str(path))
    assert result.returncode == 1
    assert f"{data}:2: not valid JSON" in result.stderr
    assert f"{data}:3: unknown task 'nope'" in result.stderr
    assert "sent 2 labels" in result.stderr
    with EventReader(config, [config.topics.labels]) as reader:
        ids = sorted(item.event.prediction_id for item in reader.read(timeout=30, idle=5))
    assert ids == ["p-1", "p-2"]


def test_alerts_tail_prints_and_filters(make_config) -> None:  # type: ignore[no-untyped-def]
    config, path = make_config()
    create_topics(config)
    from confluent_kafka import Producer

    producer = Producer(
        {"logger": kafka_logger(), "bootstrap.servers": config.kafka.bootstrap_servers}
    )
    for task in ("churn", "spend"):
        alert = Alert.model_validate(
            {"schema": "driftline.alert/1", "alert_id": stable_id(task), "model": "shop-mtl",
             "model_version": "1", "task": task, "detector": "adwin", "signal": "error",
             "severity": "critical", "metric": "error_rate", "value": 0.4, "baseline": 0.1,
             "evidence": EvidenceWindow(start_count=100, end_count=180, start_time=T0, end_time=T0),
             "config_hash": "abc", "event_time": T0}
        )  # fmt: skip
        producer.produce(config.topics.drift_alerts, key=task, value=encode(alert))
    producer.flush(10)
    result = _cli("alerts", "tail", "--json", "--task", "churn", "--timeout", "5", "-c", str(path))
    assert result.returncode == 0, result.stderr
    printed = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["task"] for a in printed] == ["churn"]
    jsonschema.validate(printed[0], load_schema("driftline.alert/1"))
    human = _cli("alerts", "tail", "--timeout", "5", "-c", str(path))
    assert "CRITICAL" in human.stdout and "v1 spend: error_rate" in human.stdout
