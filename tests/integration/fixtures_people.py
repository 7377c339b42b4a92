"""Fixtures for the tests of what people see: the monitor, the dashboard and alert routing.

``people_stack(extra_yaml="")`` (function) → a :class:`PeopleStack`: a config with unique topics
and app id on the session's broker, the topics created, helpers to produce a seeded stream with
drift on one task, to start ``driftline monitor`` and ``driftline dashboard`` as subprocesses,
and to read the monitor's ``/metrics``. Everything it started is stopped after the test.
"""

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
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from driftline.broker import pick_free_port

T0 = 1_700_000_000  # in the past: events far ahead of the clock are dead letters
_TOPICS = ("predictions", "labels", "outcomes", "drift_alerts", "retrain_requests",
           "model_updates", "task_metrics", "dead_letters")  # fmt: skip

DRIFT_TASKS = """\
  churn: {type: binary, label_delay: 300, detectors: [{kind: adwin, severity: critical}],
          policy: {min_samples: 200, warmup: 200, cooldown: 100000}, retrain: {min_labels: 100}}
  fraud: {type: binary, label_delay: 300, detectors: [{kind: adwin, severity: critical}],
          policy: {min_samples: 200, warmup: 200, cooldown: 100000}, retrain: {min_labels: 100}}
  spend: {type: regression, label_delay: 300,
          detectors: [{kind: page_hinkley, params: {threshold: 50}, severity: warning}],
          policy: {min_samples: 200, warmup: 200, cooldown: 100000}}
"""
"""Three tasks; :meth:`PeopleStack.drift_stream` drifts ``churn`` only (the others stay quiet:
the same detectors and seeds as the monitor's own drift test)."""


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).isoformat().replace("+00:00", "Z")


class PeopleStack:
    """One deployment: config file, topics, a producer and the processes of the test."""

    def __init__(
        self,
        bootstrap: str,
        tmp: Path,
        extra_yaml: str = "",
        tasks: str = DRIFT_TASKS,
        dashboard_with_monitor: bool = False,
    ) -> None:
        from bench.workload import ordered_producer
        from driftline.config import load_config
        from driftline.topics import create_topics

        run = uuid.uuid4().hex[:8]
        self.bootstrap, self.tmp = bootstrap, tmp
        self.web_port, self.dashboard_port = pick_free_port(), pick_free_port()
        topics = "\n".join(f"  {t}: pp-{run}-{t.replace('_', '-')}" for t in _TOPICS)
        self.path = tmp / "driftline.yaml"
        self.path.write_text(
            f"model: shop\nstate_dir: {tmp}/state\n"
            f"registry: {{url: 'sqlite:///{tmp}/state/registry.db'}}\n"
            f"kafka: {{bootstrap_servers: '{bootstrap}', partitions: 2}}\n"
            f"topics:\n{topics}\n"
            f"monitor: {{app_id: pp-{run}, store: memory, web_port: {self.web_port},"
            " feature_sink: false, checkpoint_interval: 0.3, checkpoint_events: 100000,"
            " snapshot_interval: 60, session_timeout: 6}\n"
            f"dashboard: {{port: {self.dashboard_port}, lag_interval: 1,"
            f" with_monitor: {str(dashboard_with_monitor).lower()}}}\n"
            f"{extra_yaml}"
            f"tasks:\n{tasks}"
        )
        self.config = load_config(self.path)
        create_topics(self.config)
        self.producer = ordered_producer(bootstrap, partitioner="murmur2_random")
        self.warm: set[str] = set()
        self.processes: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.env = {**os.environ, "DRIFTLINE_BOOTSTRAP_SERVERS": bootstrap}
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)

    # ---------------------------------------------------------------------------- processes

    def start(self, *args: str, name: str) -> subprocess.Popen[bytes]:
        log = open(self.tmp / f"{name}.log", "ab")  # noqa: SIM115
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "driftline"), *args, "--config", str(self.path)],
            stdout=log, stderr=subprocess.STDOUT, env=self.env,
        )  # fmt: skip
        self.processes.append((name, process))
        return process

    def start_monitor(self) -> subprocess.Popen[bytes]:
        return self.start("monitor", "--loglevel", "warning", name="monitor")

    def start_dashboard(self) -> subprocess.Popen[bytes]:
        return self.start("dashboard", name="dashboard")

    def log(self, name: str) -> str:
        path = self.tmp / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def alive(self) -> None:
        for name, process in self.processes:
            if process.poll() is not None:
                pytest.fail(f"{name} exited with {process.returncode}:\n{self.log(name)}")

    def stop(self) -> None:
        for name, process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
                    pytest.fail(f"{name} did not stop within 30 s of SIGTERM")
        self.processes.clear()

    # ------------------------------------------------------------------------------- events

    def send(self, topic: str, key: str, event: dict[str, Any] | bytes) -> None:
        value = event if isinstance(event, bytes) else json.dumps(event).encode()
        self.producer.produce(getattr(self.config.topics, topic), key=key, value=value)
        if topic not in self.warm:  # the first record delivered first keeps the produce order
            self.producer.flush(30)
            self.warm.add(topic)

    def drift_stream(
        self, n: int = 3000, drift_at: int = 1500, start: int = 0, seed: int = 5, rate: float = 0
    ) -> None:
        """Predictions and labels of events ``start .. start+n``; ``churn`` drifts at ``drift_at``
        (its accuracy falls from 0.9 to 0.3), ``fraud`` and ``spend`` stay as they were.

        ``rate`` > 0 plays about that many events per second (in blocks of 50), as live traffic
        comes: predictions and labels then reach the monitor interleaved, and its snapshots
        follow the labels (a backlog read at once is read predictions first)."""
        rng = random.Random(seed)
        began = time.monotonic()
        for i in range(start, start + n):
            if rate > 0 and i % 50 == 0:
                self.producer.flush(30)
                time.sleep(max(0.0, began + (i - start) / rate - time.monotonic()))
            churn = _binary(rng, 0.9 if i < drift_at else 0.3)
            fraud = _binary(rng, 0.9)
            self.send("predictions", f"p-{i}", {
                "schema": "driftline.prediction/1", "prediction_id": f"p-{i}", "model": "shop",
                "model_version": "1", "entity_id": f"e-{i}", "event_time": iso(T0 + i),
                "outputs": {"churn": {"score": churn[1]}, "fraud": {"score": fraud[1]},
                            "spend": {"value": 10.0}},
            })  # fmt: skip
            for task, label in (("churn", churn[0]), ("fraud", fraud[0]),
                                ("spend", 10.0 + rng.gauss(0, 1))):  # fmt: skip
                self.send("labels", f"p-{i}", {
                    "schema": "driftline.label/1", "prediction_id": f"p-{i}", "task": task,
                    "label": label, "event_time": iso(T0 + i + 1),
                })  # fmt: skip
        self.producer.flush(30)

    # ------------------------------------------------------------------------------ metrics

    def metrics(self) -> str:
        try:
            url = f"http://127.0.0.1:{self.web_port}/metrics"
            return urllib.request.urlopen(url, timeout=2).read().decode()
        except OSError:
            return ""

    def metric(self, pattern: str) -> float:
        """The sum of the samples whose line matches ``pattern`` (a regex for name{labels})."""
        total = 0.0
        for line in self.metrics().splitlines():
            if not line.startswith("#") and re.match(pattern, line):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def labels_applied(self) -> float:
        return self.metric(r'driftline_task_events_total\{kind="labels",')

    def wait(self, what: str, check: Callable[[], bool], timeout: float = 120.0) -> float:
        """Poll ``check`` until true; the seconds it took."""
        start = time.monotonic()
        while not check():
            self.alive()
            if time.monotonic() - start > timeout:
                pytest.fail(f"{what}: not within {timeout:.0f} s\n{self.log('monitor')}")
            time.sleep(0.2)
        return time.monotonic() - start


def _binary(rng: random.Random, accuracy: float) -> tuple[int, float]:
    y = int(rng.random() < 0.5)
    right = rng.random() < accuracy
    return y, (0.8 if y else 0.2) if right else (0.2 if y else 0.8)


@pytest.fixture
def people_stack(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Callable[..., PeopleStack]]:
    made: list[PeopleStack] = []

    def make(
        extra_yaml: str = "", tasks: str = DRIFT_TASKS, dashboard_with_monitor: bool = False
    ) -> PeopleStack:
        directory = tmp_path / f"stack{len(made)}"
        directory.mkdir()
        made.append(
            PeopleStack(kafka_bootstrap, directory, extra_yaml, tasks, dashboard_with_monitor)
        )
        return made[-1]

    yield make
    for stack in made:
        stack.stop()
