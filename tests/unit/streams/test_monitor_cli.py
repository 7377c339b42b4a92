"""``driftline monitor`` start-up: internal topics before Faust starts, the Feast sink opened early."""

from __future__ import annotations

from concurrent.futures import Future
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from driftline.config import parse_config
from driftline.config.models import DriftlineConfig
from driftline.errors import BrokerUnreachableError
from streams import cli as monitor_cli
from streams.errors import StreamsError
from streams.feature_sink import FeatureSink

YAML = (
    "model: m\nkafka: {partitions: 3, replication_factor: 2}\nmonitor: {app_id: mon}\n"
    "topics: {outcomes: joined}\ntasks: {a: {type: binary}}\n"
)
NAMES = ["joined", "mon-join-store-changelog", "mon-monitor-changelog"]


class FakeAdmin:
    """An AdminClient whose topics appear in the metadata only after ``lag`` listings."""

    def __init__(self, topics: dict[str, int] | None = None, lag: int = 1, race: bool = False):
        self.topics = dict(topics or {})
        self.lag = lag
        self.race = race
        self.pending: dict[str, int] = {}
        self.created: list[Any] = []

    def list_topics(self, timeout: float) -> Any:
        if self.lag <= 0:
            self.topics.update(self.pending)
        self.lag -= 1
        metadata = {n: SimpleNamespace(partitions=dict.fromkeys(range(c))) for n, c in self.topics.items()}  # fmt: skip
        return SimpleNamespace(topics=metadata)

    def create_topics(self, new: list[Any], request_timeout: float) -> dict[str, Future[None]]:
        futures: dict[str, Future[None]] = {}
        for spec in new:
            self.created.append(spec)
            self.pending[spec.topic] = spec.num_partitions
            future: Future[None] = Future()
            if self.race:
                future.set_exception(RuntimeError("KafkaError{code=TOPIC_ALREADY_EXISTS}"))
            else:
                future.set_result(None)
            futures[spec.topic] = future
        return futures


def _config(text: str = YAML) -> DriftlineConfig:
    return parse_config(text)


def test_missing_internal_topics_are_created_and_waited_for() -> None:
    admin = FakeAdmin({"predictions": 3}, lag=3)
    result = monitor_cli.create_internal_topics(_config(), admin=admin, timeout=5)
    assert result == dict.fromkeys(NAMES, "created")
    specs = {s.topic: s for s in admin.created}
    assert sorted(specs) == sorted(NAMES)
    assert {(s.num_partitions, s.replication_factor) for s in specs.values()} == {(3, 2)}
    assert specs["mon-monitor-changelog"].config == {"cleanup.policy": "compact"}
    assert specs["mon-join-store-changelog"].config == {
        "cleanup.policy": "compact",
        "delete.retention.ms": "86400000",
    }
    assert specs["joined"].config["cleanup.policy"] == "delete"
    assert admin.lag < 0  # it listed until the metadata showed them


def test_existing_topics_are_left_alone_and_a_race_is_harmless() -> None:
    admin = FakeAdmin({"joined": 3, "mon-join-store-changelog": 3})
    result = monitor_cli.create_internal_topics(_config(), admin=admin, timeout=5)
    assert result == {"joined": "exists", "mon-join-store-changelog": "exists",
                      "mon-monitor-changelog": "created"}  # fmt: skip
    assert [s.topic for s in admin.created] == ["mon-monitor-changelog"]
    racing = FakeAdmin(race=True)  # another worker created them between our list and create
    assert set(monitor_cli.create_internal_topics(_config(), admin=racing, timeout=5).values()) == {"exists"}  # fmt: skip


def test_a_changelog_with_another_partition_count_is_refused() -> None:
    admin = FakeAdmin({"joined": 3, "mon-join-store-changelog": 3, "mon-monitor-changelog": 4})
    with pytest.raises(StreamsError, match=r"mon-monitor-changelog.*kafka.partitions = 3"):
        monitor_cli.create_internal_topics(_config(), admin=admin, timeout=5)


def test_an_unreachable_broker_says_where_and_what_to_do() -> None:
    class DeadAdmin(FakeAdmin):
        def list_topics(self, timeout: float) -> Any:
            raise RuntimeError("KafkaError{code=_TRANSPORT}")

    with pytest.raises(BrokerUnreachableError, match=r"at \S+:9092 within 1 s.*broker start"):
        monitor_cli.create_internal_topics(_config(), admin=DeadAdmin(), timeout=1)


def test_the_admin_client_gets_the_kafka_security_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    import confluent_kafka.admin

    seen: list[dict[str, Any]] = []

    def admin_client(settings: dict[str, Any]) -> FakeAdmin:
        seen.append(settings)
        return FakeAdmin(dict.fromkeys(NAMES, 3))

    monkeypatch.setattr(confluent_kafka.admin, "AdminClient", admin_client)
    monkeypatch.setenv("DRIFTLINE_KAFKA_USERNAME", "alice")
    monkeypatch.setenv("DRIFTLINE_KAFKA_PASSWORD", "s3cret")
    secured = YAML.replace(
        "replication_factor: 2}",
        "replication_factor: 2, security: {protocol: SASL_SSL, sasl_mechanism: PLAIN}}",
    )
    monitor_cli.create_internal_topics(_config(secured), timeout=5)
    assert seen[0]["security.protocol"] == "sasl_ssl"
    assert (seen[0]["sasl.username"], seen[0]["sasl.password"]) == ("alice", "s3cret")


def test_the_names_are_the_ones_faust_gives_the_apps_topics(tmp_path: Path) -> None:
    from streams.app import build_app

    config = _config(YAML + f"state_dir: {tmp_path}\n")
    app = build_app(config)
    changelogs = {table.changelog_topic.get_topic_name() for table in app.tables.values()}
    internal = {t.name for t in monitor_cli.internal_topics(config)}
    assert changelogs == internal - {"joined", "mon-join-store-changelog"}  # no Faust table
    internal_inputs = {
        (name, agent.channel.partitions)
        for agent in app.agents.values()
        if agent.channel.internal
        for name in agent.channel.topics
    }
    assert internal_inputs == {("joined", 3)}


def test_the_worker_fetches_and_batches_in_large_chunks(tmp_path: Path) -> None:
    """Faust's defaults (1 MiB fetches, 16 KiB producer batches) left a worker idle a third of
    the time (docs/monitoring.md, "Benchmarks"); ``monitor.fetch_bytes`` sets the first."""
    from streams.app import PRODUCER_BATCH_BYTES, build_app

    app = build_app(_config(YAML + f"state_dir: {tmp_path}\n"))
    assert app.conf.consumer_max_fetch_size == 16 * 2**20
    assert app.conf.producer_max_batch_size == PRODUCER_BATCH_BYTES == 1_000_000
    small = _config(
        YAML.replace("{app_id: mon}", "{app_id: mon, fetch_bytes: 65536}")
        + f"state_dir: {tmp_path}\n"
    )
    assert build_app(small).conf.consumer_max_fetch_size == 65536


def test_monitor_provisions_topics_and_opens_the_sink_before_the_worker(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import faust

    import streams.app
    import streams.feature_sink

    calls: list[tuple[str, Any]] = []
    label_sink = object()
    monkeypatch.setenv("DRIFTLINE_BOOTSTRAP_SERVERS", "broker-a:1")
    monkeypatch.setattr(monitor_cli, "create_internal_topics",
                        lambda cfg: calls.append(("topics", cfg.kafka.bootstrap_servers)) or {})  # fmt: skip
    monkeypatch.setattr(streams.feature_sink, "open_label_sink",
                        lambda cfg: calls.append(("sink", None)) or label_sink)  # fmt: skip
    monkeypatch.setattr(streams.app, "build_app",
                        lambda cfg, **kw: calls.append(("app", kw["feature_sink"])) or "app")  # fmt: skip

    class Worker:
        def __init__(self, app: Any, **_: Any) -> None:
            calls.append(("worker", app))

        def execute_from_commandline(self) -> None:
            calls.append(("run", None))

    monkeypatch.setattr(faust, "Worker", Worker)
    path = tmp_path / "d.yaml"
    path.write_text(YAML)
    result = CliRunner().invoke(monitor_cli.monitor, ["--config", str(path)])
    assert result.exit_code == 0, result.output
    assert calls == [("topics", "broker-a:1"), ("sink", None), ("app", label_sink),
                     ("worker", "app"), ("run", None)]  # fmt: skip
    calls.clear()
    path.write_text(YAML.replace("app_id: mon", "app_id: mon, feature_sink: false"))
    assert CliRunner().invoke(monitor_cli.monitor, ["--config", str(path)]).exit_code == 0
    assert ("sink", None) not in calls and ("app", None) in calls


def test_the_sink_opens_once_and_a_late_flush_still_opens_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import streams.feature_sink

    class Recorder:
        def write(self, rows: list[Any]) -> int:
            return len(rows)

        def flush(self) -> int:
            return 0

        def close(self) -> None:
            pass

    opened: list[Recorder] = []
    monkeypatch.setattr(streams.feature_sink, "open_label_sink",
                        lambda cfg: opened.append(Recorder()) or opened[-1])  # fmt: skip
    sink = FeatureSink(_config())
    assert sink.open() is sink and sink.sink is opened[0]
    sink.open()
    assert len(opened) == 1
    given = Recorder()
    assert FeatureSink(_config(), given).open().sink is given and len(opened) == 1
    late = FeatureSink(_config())
    late.flush()
    assert late.sink is opened[1]


def test_open_label_sink_imports_feast_and_touches_no_file(tmp_path: Path) -> None:
    import sys
    from datetime import UTC, datetime

    from featurestore import FeatureRepo, LabelSink
    from streams.feature_sink import open_label_sink

    config = _config(
        f"model: m\nstate_dir: {tmp_path}\nfeatures: [{{name: x}}]\ntasks: {{a: {{type: binary}}}}\n"
        f"feature_store: {{type: embedded, path: {tmp_path}/feast}}\n"
    )
    sink = open_label_sink(config, apply=False)
    assert isinstance(sink, LabelSink) and "feast" in sys.modules and "duckdb" in sys.modules
    assert not (tmp_path / "feast" / "registry.db").exists()  # the repo may be applied later
    FeatureRepo(config).apply()
    outcome = {"outcome_id": "p-1:a", "task": "a", "prediction_id": "p-1", "entity_id": "e-1",
               "event_time": datetime.now(UTC), "label": 1, "model_version": "1"}  # fmt: skip
    assert sink.write([outcome]) == 1 and sink.flush() == 1


def test_the_monitor_applies_a_missing_feast_repo_at_start(tmp_path: Path) -> None:
    """A fresh state dir (nobody ran `driftline features apply`): the sink the monitor opens at
    start applies the repo, so its first checkpoint writes labels instead of failing."""
    from datetime import UTC, datetime

    from featurestore import FeatureRepo
    from streams.feature_sink import open_label_sink

    config = _config(
        f"model: m\nstate_dir: {tmp_path}\nfeatures: [{{name: x}}]\ntasks: {{a: {{type: binary}}}}\n"
        f"feature_store: {{type: embedded, path: {tmp_path}/feast}}\n"
    )
    assert FeatureRepo(config).missing()  # nothing registered yet
    sink = open_label_sink(config)
    assert FeatureRepo(config).missing() == []
    outcome = {"outcome_id": "p-1:a", "task": "a", "prediction_id": "p-1", "entity_id": "e-1",
               "event_time": datetime.now(UTC), "label": 1, "model_version": "1"}  # fmt: skip
    assert sink.write([outcome]) == 1 and sink.flush() == 1
    reopened = FeatureRepo(config)
    assert reopened.ensure_applied() == []  # already there: not applied again
    reopened.close()


def test_a_replica_named_by_worker_id_keeps_its_own_state(tmp_path: Path) -> None:
    from streams.app import build_app

    text = YAML.replace("app_id: mon", "app_id: mon, static_membership: true")
    config = _config(text + f"state_dir: {tmp_path}\n")
    a, b = build_app(config, worker_id="c0ffee"), build_app(config, worker_id="beef01")
    assert Path(a.conf.datadir).name == "c0ffee" and Path(b.conf.datadir).name == "beef01"
    assert a.conf.consumer_group_instance_id == "mon-c0ffee"
    assert Path(build_app(config).conf.datadir).name == "worker-0"


def test_worker_id_must_be_a_plain_name(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_text(YAML)
    result = CliRunner().invoke(monitor_cli.monitor, ["-c", str(path), "--worker-id", "../x"])
    assert result.exit_code == 2 and "--worker-id" in result.output


def test_workers_get_their_ids_and_the_supervisor_decides_their_end(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``--workers N --worker-id box``: worker i runs as ``box-i`` under the supervisor
    (``streams.supervisor``, tested in ``test_supervisor.py``), whose verdict is the exit code."""
    import subprocess

    import streams.supervisor

    started: list[list[str]] = []

    class Supervisor:
        def __init__(self, start: Any, count: int) -> None:
            self.start, self.count = start, count

        def run(self) -> int:
            for index in range(self.count):
                self.start(index)
            return 70

    monkeypatch.setattr(subprocess, "Popen", lambda argv: started.append(argv))
    monkeypatch.setattr(streams.supervisor, "WorkerSupervisor", Supervisor)
    monkeypatch.setattr(monitor_cli.signal, "signal", lambda *_args: None)  # keep pytest's
    assert monitor_cli._run_workers(tmp_path / "d.yaml", "info", 2, worker_id="box") == 70
    assert started[0][-2:] == ["--worker-id", "box-0"] and started[1][-2:] == ["--worker-id", "box-1"]  # fmt: skip


def test_a_taken_web_port_stops_the_worker_with_one_line_naming_port_and_setting() -> None:
    import socket

    from driftline.broker import pick_free_port
    from streams.errors import WebPortInUseError

    base = pick_free_port(count=2)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", base + 1))
        taken.listen()
        monitor_cli.wait_for_web_port(base, 0, timeout=0.1)  # worker 0's port is free
        with pytest.raises(WebPortInUseError) as caught:
            monitor_cli.wait_for_web_port(base, 1, timeout=0.6)
    message = str(caught.value)
    assert f"port {base + 1} (monitor.web_port {base} + worker 1" in message
    assert "ephemeral range" in message and caught.value.exit_code == 69


def test_the_worker_waits_for_a_web_port_its_predecessor_is_letting_go() -> None:
    import socket
    import threading

    from driftline.broker import pick_free_port

    port = pick_free_port()
    taken = socket.socket()
    taken.bind(("0.0.0.0", port))
    taken.listen()
    threading.Timer(0.8, taken.close).start()
    monitor_cli.wait_for_web_port(port, 0, timeout=10.0)  # returns once it is closed
    assert taken.fileno() == -1
