"""A ``driftline monitor`` worker in a subprocess, with fresh topics, for benchmarks and tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import psutil

from driftline.broker import pick_free_port
from driftline.config import DriftlineConfig, load_config
from driftline.config.environment import env_name
from driftline.topics import create_topics
from streams.errors import RESTART_EXIT_CODE

__all__ = ["WorkerProcess"]

_TOPICS = (
    "predictions",
    "labels",
    "outcomes",
    "drift_alerts",
    "retrain_requests",
    "model_updates",
    "task_metrics",
    "dead_letters",
)
_COUNT = re.compile(
    r'^driftline_task_events_total\{kind="(\w+)",model="[^"]*",model_version="[^"]*",task="(\w+)"\} (\S+)$'
)
_CUMULATIVE = re.compile(
    r'^driftline_task_metric\{metric="(\w+)",model="[^"]*",model_version="[^"]*",slice="",task="(\w+)",'
    r'window="cumulative"\} (\S+)$'
)
_COVERAGE = re.compile(
    r'^driftline_label_coverage\{model="[^"]*",model_version="[^"]*",task="(\w+)"\} (\S+)$'
)
_WAITING = re.compile(r'^driftline_outcomes_waiting\{model="[^"]*",task="(\w+)"\} (\S+)$')


class WorkerProcess:
    """Writes a config with unique topic names under ``directory`` and runs workers on it.

    Parameters
    ----------
    bootstrap
        ``host:port`` of the broker.
    directory
        Where the config, the state and the worker log go.
    tasks_yaml
        The ``tasks:`` section's body.
    monitor
        Extra ``monitor:`` settings (YAML flow mapping body, e.g. ``"store: rocksdb"``).
    partitions
        Partitions of every topic.
    workers
        Worker processes (``driftline monitor --workers``); :meth:`scrape` sums their counts and
        :meth:`sample_rss` their memory.
    """

    def __init__(
        self,
        bootstrap: str,
        directory: Path,
        tasks_yaml: str,
        monitor: str = "",
        partitions: int = 2,
        workers: int = 1,
    ) -> None:
        run = uuid.uuid4().hex[:8]
        self.workers = workers
        self.bootstrap = bootstrap
        self.directory = directory
        self.port = pick_free_port(count=workers)  # worker i serves on port + i
        topics = "\n".join(f"  {t}: w-{run}-{t.replace('_', '-')}" for t in _TOPICS)
        extra = f", {monitor}" if monitor else ""
        snapshots = "" if "snapshot_interval" in monitor else ", snapshot_interval: 1000000"
        self.path = directory / "driftline.yaml"
        directory.mkdir(parents=True, exist_ok=True)
        self.path.write_text(
            f"model: shop\nstate_dir: {directory}/state\n"
            f"kafka: {{bootstrap_servers: '{bootstrap}', partitions: {partitions}}}\n"
            f"topics:\n{topics}\n"
            f"monitor: {{app_id: w-{run}, web_port: {self.port}, feature_sink: false,"
            f" session_timeout: 6{snapshots}{extra}}}\n"
            f"tasks:\n{tasks_yaml}"
        )
        self.config: DriftlineConfig = load_config(self.path)
        create_topics(self.config)
        self.process: subprocess.Popen[bytes] | None = None
        self.peak_rss = 0
        self.restarts = 0  # by supervise()

    def start(self) -> None:
        """Start the worker (``driftline monitor``)."""
        env = {**os.environ, env_name("bootstrap_servers"): self.bootstrap}
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # restarts should not recompile every module
        log = open(self.directory / "worker.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "driftline"),
                "monitor",
                "--config",
                str(self.path),
                "--loglevel",
                "warning",
                "--workers",
                str(self.workers),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM and wait; SIGKILL after ``timeout`` (then raise)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise RuntimeError(f"the worker did not stop within {timeout} s of SIGTERM") from None

    def kill(self) -> None:
        """SIGKILL the worker (a crash)."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def alive(self) -> bool:
        """Whether the worker process runs."""
        return self.process is not None and self.process.poll() is None

    def log_tail(self, name: str = "worker.log", chars: int = 3000) -> str:
        """The end of a worker's log under :attr:`directory` (for a failure message)."""
        return (self.directory / name).read_text(errors="replace")[-chars:]

    def supervise(self) -> bool:
        """Restart a worker that stopped itself to replay (exit 70), as a supervisor would.

        ``True`` when it restarted it; ``RuntimeError`` when the worker died otherwise.
        """
        if self.alive():
            return False
        code = self.process.poll() if self.process is not None else None
        if code != RESTART_EXIT_CODE:
            raise RuntimeError(
                f"the worker died ({code}); {self.directory}/worker.log ends:\n{self.log_tail()}"
            )
        self.start()
        self.restarts += 1
        return True

    def sample_rss(self) -> int:
        """Record the worker's RSS now (bytes); the peak is kept in ``peak_rss``."""
        if self.process is None:
            return 0
        try:
            parent = psutil.Process(self.process.pid)
            processes = [parent, *parent.children()] if self.workers > 1 else [parent]
            rss = sum(int(process.memory_info().rss) for process in processes)
        except psutil.Error:
            return 0
        self.peak_rss = max(self.peak_rss, rss)
        return rss

    def scrape(self) -> dict[str, float]:
        """Per-task counts (``task.kind``), cumulative metrics and coverage from ``/metrics``.

        With several workers, the counts are summed over those that answer (each task's monitor
        lives on one of them); metrics and coverage are those of the last worker that reports
        the task. ``{}`` when none answers.
        """
        out: dict[str, float] = {}
        for port in range(self.port, self.port + self.workers):
            try:
                url = f"http://127.0.0.1:{port}/metrics"
                body = urllib.request.urlopen(url, timeout=5).read().decode()
            except OSError:
                continue
            _parse_metrics(body, out)
        return out

    def wait_for(self, key: str, value: float, timeout: float = 240.0) -> dict[str, float]:
        """:meth:`scrape` until ``key`` (e.g. ``churn.labels``) reads ``value``; the counts then.
        ``RuntimeError`` when the worker dies or ``timeout`` seconds pass first."""
        deadline, counts = time.monotonic() + timeout, self.scrape()
        while counts.get(key) != value:
            if not self.alive():
                raise RuntimeError(f"the worker died; its log ends:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{key} did not reach {value} in {timeout} s: {counts}")
            time.sleep(0.5)
            counts = self.scrape()
        return counts

    def changelog_keys(self, topic: str) -> set[bytes]:
        """The keys of every record of ``topic`` (a changelog: what the state was written as)."""
        from confluent_kafka import Consumer, TopicPartition

        from driftline.kafka_logs import kafka_logger

        consumer = Consumer({"bootstrap.servers": self.bootstrap, "enable.auto.commit": False,
                             "group.id": f"read-{uuid.uuid4().hex}", "logger": kafka_logger()})  # fmt: skip
        keys: set[bytes] = set()
        try:
            for partition in range(self.config.kafka.partitions):
                where = TopicPartition(topic, partition)
                _, high = consumer.get_watermark_offsets(where, timeout=10)
                consumer.assign([TopicPartition(topic, partition, 0)])
                seen, deadline = 0, time.monotonic() + 30
                while seen < high and time.monotonic() < deadline:
                    message = consumer.poll(1.0)
                    if message is not None and not message.error():
                        seen = (message.offset() or 0) + 1
                        keys.add(message.key() or b"")
            return keys
        finally:
            consumer.close()

    def inputs_done(self, counts: dict[str, float], tasks: tuple[str, ...]) -> float:
        """Input events reflected in ``counts``: predictions (first task) + every kind of label."""
        kinds = ("labels", "duplicates", "late", "orphans")
        labels = sum(counts.get(f"{task}.{kind}", 0.0) for task in tasks for kind in kinds)
        return counts.get(f"{tasks[0]}.predictions", 0.0) + labels

    def by_id(self, topic: str, key: str, timeout: float = 20.0) -> dict[str, dict[str, Any]]:
        """The events of an output topic by their id field ``key``; an id sent twice (a replay
        sends some again) must carry the same event (``AssertionError`` otherwise)."""
        seen: dict[str, dict[str, Any]] = {}
        for event in self.read(topic, timeout=timeout):
            first = seen.setdefault(event[key], event)
            assert first == event, f"{topic}: {key} {event[key]} sent with two bodies"
        return seen

    def read(self, topic: str, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Every event on one of the config's topics (by field name, e.g. ``drift_alerts``)."""
        import json

        from confluent_kafka import Consumer

        from driftline.kafka_logs import kafka_logger

        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": uuid.uuid4().hex,
                "auto.offset.reset": "earliest",
                "logger": kafka_logger(),
            }
        )
        consumer.subscribe([getattr(self.config.topics, topic)])
        out: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        idle = 0
        while time.monotonic() < deadline and idle < 4:
            message = consumer.poll(0.5)
            if message is None:
                idle += 1
            elif message.error() is None and (value := message.value()) is not None:
                idle = 0
                out.append(json.loads(value))
        consumer.close()
        return out


def _parse_metrics(body: str, out: dict[str, float]) -> None:
    """Add one worker's ``/metrics`` text to ``out``: counts summed, the rest overwritten."""
    for line in body.splitlines():
        if match := _COUNT.match(line):
            key = f"{match.group(2)}.{match.group(1)}"
            out[key] = out.get(key, 0.0) + float(match.group(3))
        elif match := _CUMULATIVE.match(line):
            out[f"{match.group(2)}.cumulative.{match.group(1)}"] = float(match.group(3))
        elif match := _COVERAGE.match(line):
            out[f"{match.group(1)}.coverage"] = float(match.group(2))
        elif match := _WAITING.match(line):
            key = f"{match.group(1)}.waiting"
            out[key] = out.get(key, 0.0) + float(match.group(2))
