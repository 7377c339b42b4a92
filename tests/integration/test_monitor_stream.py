"""The monitor on a real broker: joins, drift on one task of three, re-baseline, dead letters,
restart. The worker runs as ``driftline monitor --config FILE`` in a subprocess."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from bench.workload import ordered_producer
from driftline.broker import pick_free_port
from driftline.config import load_config
from driftline.kafka_logs import kafka_logger
from driftline.topics import create_topics

T0 = 1_700_000_000  # in the past: events far ahead of the clock are dead letters
TOPICS = (
    "predictions",
    "labels",
    "outcomes",
    "drift_alerts",
    "retrain_requests",
    "model_updates",
    "task_metrics",
    "dead_letters",
)


def _partition(i: int) -> int:
    from driftline.partitioning import partition_for

    return partition_for(f"p-{i}", 2)


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).isoformat().replace("+00:00", "Z")


class Deployment:
    """A config with unique topics and app id, its worker process and helpers."""

    def __init__(self, bootstrap: str, tmp: Path, tasks_yaml: str, store: str = "memory") -> None:
        run = uuid.uuid4().hex[:8]
        self.bootstrap, self.port, self.tmp = bootstrap, pick_free_port(), tmp
        topics = "\n".join(f"  {t}: it-{run}-{t.replace('_', '-')}" for t in TOPICS)
        self.path = tmp / "driftline.yaml"
        self.path.write_text(
            f"model: shop\nstate_dir: {tmp}/state\n"
            f"kafka: {{bootstrap_servers: '{bootstrap}', partitions: 2}}\n"
            f"topics:\n{topics}\n"
            f"monitor: {{app_id: it-{run}, store: {store}, web_port: {self.port},"
            " feature_sink: false, checkpoint_interval: 0.3, checkpoint_events: 100000, snapshot_interval: 100000,"
            " session_timeout: 6}\n"
            f"tasks:\n{tasks_yaml}"
        )
        self.config = load_config(self.path)
        create_topics(self.config)
        self.producer = ordered_producer(bootstrap, partitioner="murmur2_random")
        self.warm: set[str] = set()
        self.worker: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "DRIFTLINE_BOOTSTRAP_SERVERS": self.bootstrap}
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # a restart should not recompile every module
        self.log = open(self.tmp / "worker.log", "ab")  # noqa: SIM115
        self.worker = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "driftline"),
                "monitor",
                "--config",
                str(self.path),
                "--loglevel",
                "info",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
        )

    def stop(self) -> None:
        if self.worker is not None and self.worker.poll() is None:
            self.worker.send_signal(signal.SIGTERM)
            try:
                self.worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.worker.kill()
                pytest.fail("the worker did not stop within 30 s of SIGTERM")
        self.worker = None

    def send(self, topic: str, key: str, event: dict[str, Any] | bytes) -> None:
        value = event if isinstance(event, bytes) else json.dumps(event).encode()
        self.producer.produce(getattr(self.config.topics, topic), key=key, value=value)
        if topic not in self.warm:
            # librdkafka queues records produced before it knows the topic's partitions and
            # appends them *after* records produced once it knows them (seen: p-1337 at offset 0,
            # p-1 at offset 828). Delivering the first record first keeps the produce order.
            self.producer.flush(30)
            self.warm.add(topic)

    def prediction(
        self, i: int, outputs: dict[str, Any], version: str = "1", t: float | None = None
    ) -> None:
        self.send(
            "predictions",
            f"p-{i}",
            {
                "schema": "driftline.prediction/1",
                "prediction_id": f"p-{i}",
                "model": "shop",
                "model_version": version,
                "entity_id": f"e-{i}",
                "event_time": _iso(t or T0 + i),
                "outputs": outputs,
            },
        )

    def label(self, i: int, task: str, value: Any, t: float | None = None) -> None:
        self.send(
            "labels",
            f"p-{i}",
            {
                "schema": "driftline.label/1",
                "prediction_id": f"p-{i}",
                "task": task,
                "label": value,
                "event_time": _iso(t or T0 + i + 1),
            },
        )

    def metrics(self) -> dict[str, float]:
        try:
            body = urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=2).read()
        except OSError:
            return {}
        out = {}
        for line in body.decode().splitlines():
            match = re.match(
                r'^driftline_task_events_total\{kind="(\w+)",model="shop",model_version="[^"]*",'
                r'task="(\w+)"\} ([0-9.e+]+)$',
                line,
            )
            if match:
                out[f"{match.group(2)}.{match.group(1)}"] = float(match.group(3))
            match = re.match(
                r'^driftline_task_metric\{metric="(\w+)",model="shop",model_version="[^"]*",slice="",task="(\w+)",'
                r'window="cumulative"\} (\S+)$',
                line,
            )
            if match:
                out[f"{match.group(2)}.cumulative.{match.group(1)}"] = float(match.group(3))
            match = re.match(
                r'^driftline_label_coverage\{model="shop",model_version="[^"]*",task="(\w+)"\} (\S+)$',
                line,
            )
            if match:
                out[f"{match.group(1)}.coverage"] = float(match.group(2))
            if line.startswith('driftline_dead_letters_total{stage="join"}'):
                out["dead_letters"] = float(line.split()[-1])
        return out

    def wait_for(self, expected: dict[str, float], timeout: float = 180.0) -> dict[str, float]:
        deadline = time.monotonic() + timeout
        seen: dict[str, float] = {}
        while time.monotonic() < deadline:
            seen = self.metrics()
            if all(seen.get(k) == v for k, v in expected.items()):
                return seen
            assert self.worker is None or self.worker.poll() is None, "the worker died"
            time.sleep(0.5)
        pytest.fail(f"expected {expected}, last seen {seen}\n{self.diagnosis()}")

    def diagnosis(self) -> str:
        """What tells a worker's fault from its input's: each input partition's event times in
        offset order (a producer's retry can reorder them), and the worker log's end."""
        lines = [f"input order: {self.input_order()}", "worker log (end):"]
        log = (self.tmp / "worker.log").read_text(errors="replace").splitlines()
        lines += [line for line in log if "overlapping" not in line][-40:]
        return "\n".join(lines)

    def input_order(self) -> str:
        topics = (self.config.topics.predictions, self.config.topics.labels)
        consumer = Consumer(
            {"logger": kafka_logger(), "bootstrap.servers": self.bootstrap, "group.id": "-"}
        )
        found = []
        for topic, partition in ((t, p) for t in topics for p in range(2)):
            where = TopicPartition(topic, partition, 0)
            end = consumer.get_watermark_offsets(where, timeout=10)[1]
            consumer.assign([where])
            last, offset = float("-inf"), 0
            while offset < end and (message := consumer.poll(5)) is not None:
                if message.error() is None:
                    offset = message.offset() + 1
                    t = datetime.fromisoformat(
                        json.loads(message.value())["event_time"]
                    ).timestamp()
                    if t < last:
                        found.append(f"{topic}[{partition}]@{offset - 1}: {t - last:+.0f} s")
                    last = max(last, t)
        consumer.close()
        return "; ".join(found[:5]) or "every partition in event-time order"

    def settled(self, expected: dict[str, float], quiet: float = 4.0) -> dict[str, float]:
        """Wait for ``expected``, then until the counts stop changing for ``quiet`` seconds."""
        seen = self.wait_for(expected)
        while True:
            time.sleep(quiet)
            again = self.metrics()
            if again == seen:
                return seen
            seen = again

    def read(self, topic: str, timeout: float = 10.0, at_least: int = 1) -> list[dict[str, Any]]:
        consumer = Consumer(
            {
                "logger": kafka_logger(),
                "bootstrap.servers": self.bootstrap,
                "group.id": uuid.uuid4().hex,
                "auto.offset.reset": "earliest",
            }
        )
        consumer.subscribe([getattr(self.config.topics, topic)])
        out: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                out.append(json.loads(message.value()))
            elif len(out) >= at_least and message is None:
                break
        consumer.close()
        return out


@pytest.fixture
def deploy(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Any]:
    made: list[Deployment] = []

    def make(tasks_yaml: str, store: str = "memory") -> Deployment:
        directory = tmp_path / f"d{len(made)}"
        directory.mkdir()
        made.append(Deployment(kafka_bootstrap, directory, tasks_yaml, store))
        return made[-1]

    yield make
    for deployment in made:
        deployment.stop()


THREE_TASKS = """\
  churn: {type: binary, label_delay: 300, detectors: [{kind: adwin, severity: critical}],
          policy: {min_samples: 200, warmup: 200, cooldown: 100000}, retrain: {min_labels: 100}}
  fraud: {type: binary, label_delay: 300, detectors: [{kind: adwin, severity: critical}],
          policy: {min_samples: 200, warmup: 200, cooldown: 100000}, retrain: {min_labels: 100}}
  spend: {type: regression, label_delay: 300,
          detectors: [{kind: page_hinkley, params: {threshold: 50}, severity: warning}],
          policy: {min_samples: 200, warmup: 200, cooldown: 100000}}
"""


def _binary(rng: random.Random, accuracy: float) -> tuple[int, float]:
    y = int(rng.random() < 0.5)
    right = rng.random() < accuracy
    return y, (0.8 if y else 0.2) if right else (0.2 if y else 0.8)


def test_abrupt_drift_on_one_task_of_three_alerts_that_task_only(deploy: Any) -> None:
    d = deploy(THREE_TASKS)
    rng = random.Random(5)
    n, drift_at = 3000, 1500
    for i in range(n):
        churn = _binary(rng, 0.9)
        fraud = _binary(rng, 0.9 if i < drift_at else 0.3)
        d.prediction(
            i,
            {"churn": {"score": churn[1]}, "fraud": {"score": fraud[1]}, "spend": {"value": 10.0}},
        )
        d.label(i, "churn", churn[0])
        d.label(i, "fraud", fraud[0])
        d.label(i, "spend", 10.0 + rng.gauss(0, 1))
    d.send("predictions", "junk", b"{not json")
    d.send(
        "labels",
        "p-x",
        {
            "schema": "driftline.label/1",
            "prediction_id": "p-x",
            "task": "nope",
            "label": 1,
            "event_time": _iso(T0),
        },
    )
    d.producer.flush()
    d.start()
    d.wait_for({"churn.labels": n, "fraud.labels": n, "spend.labels": n, "dead_letters": 2})
    alerts = d.read("drift_alerts")
    assert {a["task"] for a in alerts} == {"fraud"}, alerts
    ends = [a["evidence"]["end_count"] for a in alerts]
    assert all(drift_at <= end <= drift_at + 300 for end in ends), (drift_at, ends)
    requests = d.read("retrain_requests")
    assert requests and requests[0]["tasks"] == ["fraud"]
    letters = d.read("dead_letters", at_least=2)
    reasons = sorted(letter["reason"] for letter in letters)
    assert any("not valid JSON" in r for r in reasons) and any("unknown task" in r for r in reasons)


def test_join_with_shuffled_delayed_duplicate_early_and_missing_labels(deploy: Any) -> None:
    d = deploy("  churn: {type: binary, label_delay: 100}\n")
    rng = random.Random(9)
    n = 400
    labels = [i for i in range(n) if i % 10 != 0]  # every 10th never gets a label
    early = set(labels[:30])  # these labels are sent before their predictions
    for i in early:
        d.label(i, "churn", 1, t=T0 + i + 5)
    d.producer.flush()
    for i in range(n):
        d.prediction(i, {"churn": {"score": 0.7}})
    late = [i for i in labels if i not in early]
    duplicates = rng.sample(late, 20) + rng.sample(sorted(early), 5)
    order = sorted(late + duplicates)  # a duplicate comes close to its original
    blocks = [order[k : k + 40] for k in range(0, len(order), 40)]
    for block in blocks:  # shuffled within blocks of 40: out of order, delayed within budget
        rng.shuffle(block)
        for i in block:
            d.label(i, "churn", 1, t=T0 + i + rng.uniform(1, 50))
    # time moves on in both partitions so every missing label expires (event time, not wall clock)
    ticks = [10_000, next(i for i in range(10_001, 10_100) if _partition(i) != _partition(10_000))]
    for i in ticks:
        d.prediction(i, {"churn": {"score": 0.5}}, t=T0 + n + 1000)
        d.label(i, "churn", 0, t=T0 + n + 1001)
    d.producer.flush()
    d.start()
    d.wait_for(
        {
            "churn.labels": len(labels) + 2,
            "churn.expired": n // 10,
            "churn.duplicates": len(duplicates),
            "churn.predictions": n + 2,
            "churn.orphans": 0,
            "churn.late": 0,
        }
    )


def test_promoted_model_version_rebaselines_detectors(deploy: Any) -> None:
    import hashlib

    from streams.features import FeatureProfile

    d = deploy(
        "  churn: {type: binary, label_delay: 300, detectors: [{kind: adwin}],"
        " policy: {min_samples: 100, warmup: 5000, cooldown: 100000}}\n"
        "features: [{name: x}]\nfeature_drift: {enabled: true}\n"
    )
    rng = random.Random(2)
    for i in range(600):
        y, score = _binary(rng, 0.9)
        d.prediction(i, {"churn": {"score": score}})
        d.label(i, "churn", y)
    # v2 comes with the profile of its training rows (as the retrainer stores it): the worker
    # reads it from the model update and makes it churn's feature drift reference
    profile = FeatureProfile.from_rows({"x": "numeric"}, ({"x": rng.random()} for _ in range(50)))
    stored = d.tmp / "feature_profile.json"
    stored.write_bytes(profile.to_bytes())
    d.send(
        "model_updates",
        "shop",
        {
            "schema": "driftline.model-update/1",
            "update_id": "u-2",
            "model": "shop",
            "version": "2",
            "status": "promoted",
            "event_time": _iso(T0 + 600),
            "feature_profile_uri": stored.resolve().as_uri(),
            "feature_profile_sha256": hashlib.sha256(stored.read_bytes()).hexdigest(),
        },
    )
    d.producer.flush()
    d.start()
    d.wait_for({"churn.labels": 600})
    wanted = [
        b'field="warming_up",model="shop",model_version="2",slice="",task="churn"} 1.0',
        b'{metric="reference/champion",model="shop",model_version="2",slice="",task="churn",'
        b'window="feature"} 1.0',
    ]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        body = urllib.request.urlopen(f"http://127.0.0.1:{d.port}/metrics", timeout=2).read()
        if all(line in body for line in wanted):
            break
        time.sleep(0.5)
    else:
        pytest.fail(
            "the detector did not re-baseline (warm-up) after the promotion, or the version's "
            f"stored feature profile is not the reference: {[w in body for w in wanted]}"
        )
    # a drift inside the new version's warm-up is not alerted
    for i in range(600, 1800):
        y, score = _binary(rng, 0.2)
        d.prediction(i, {"churn": {"score": score}}, version="2")
        d.label(i, "churn", y)
    d.producer.flush()
    d.wait_for({"churn.labels": 1800})
    assert d.read("drift_alerts", timeout=3, at_least=0) == []


def test_restart_mid_stream_counts_equal_an_uninterrupted_run(deploy: Any) -> None:
    tasks = (
        "  churn: {type: binary, label_delay: 50}\n  spend: {type: regression, label_delay: 500}\n"
    )

    def produce(d: Deployment, start: int, stop: int) -> None:
        for i in range(start, stop):
            rng = random.Random(i)  # the same labels whatever the split into produce calls
            d.prediction(i, {"churn": {"score": 0.6}, "spend": {"value": 3.0}})
            if rng.random() < 0.8:
                d.label(i, "churn", 1)
            if rng.random() < 0.5:
                d.label(i, "spend", 2.5)
        d.producer.flush()

    reference = deploy(tasks)
    produce(reference, 0, 3000)
    reference.start()
    time.sleep(3)
    expected_churn = reference.settled({"churn.predictions": 3000, "spend.predictions": 3000})
    reference.stop()

    d = deploy(tasks, store="rocksdb")  # the restart resumes from the local RocksDB store
    produce(d, 0, 1500)
    d.start()
    d.wait_for({"churn.predictions": 1500})
    produce(d, 1500, 3000)
    time.sleep(0.5)
    d.stop()  # mid-stream: some records processed, some not
    d.start()
    keys = [k for k in expected_churn if k.split(".")[0] in ("churn", "spend")]
    assert any(".cumulative." in k for k in keys) and "churn.coverage" in keys
    d.wait_for({k: expected_churn[k] for k in keys})
