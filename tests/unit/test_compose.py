"""docker-compose.yml would run in production: checked with Debian's ``docker-compose config``.

There is no Docker engine here, so nothing starts; ``docker-compose config`` validates the file
against the compose schema and renders it with ``.env.example``'s values, and the tests read the
rendered services: what waits for what, which network reaches what, per-replica state, worker
identity, healthchecks, and that nothing needs an undocumented variable.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from driftline.config import load_config

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"


def _compose_binary() -> str:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail(
            "docker-compose not installed: run `make setup` (apt-get install docker-compose)"
        )
    return binary


def _render(path: Path = COMPOSE, env_file: Path = ENV_EXAMPLE) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DRIFTLINE_", "KAFKA_"))}
    return subprocess.run(
        [_compose_binary(), "--env-file", str(env_file), "-f", str(path), "config"],
        capture_output=True, text=True, env=env, cwd=path.parent, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def rendered() -> dict[str, Any]:
    result = _render()
    assert result.returncode == 0, result.stderr
    return dict(yaml.safe_load(result.stdout))


def test_compose_config_is_valid_with_the_example_env() -> None:
    result = subprocess.run(
        [_compose_binary(), "--env-file", str(ENV_EXAMPLE), "-f", str(COMPOSE), "config", "-q"],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_every_variable_the_file_needs_is_in_env_example() -> None:
    used = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", COMPOSE.read_text()))
    documented = set(re.findall(r"^#?\s*([A-Z_][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.M))
    assert used <= documented, sorted(used - documented)
    required = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*):\?", COMPOSE.read_text()))
    assert required == {
        "DRIFTLINE_POSTGRES_PASSWORD",
        "DRIFTLINE_REDIS_PASSWORD",
        "GRAFANA_ADMIN_PASSWORD",
    }


def test_a_missing_secret_is_named(tmp_path: Path) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = _render(env_file=empty)
    assert result.returncode != 0 and "DRIFTLINE_POSTGRES_PASSWORD" in result.stderr


def test_one_shot_setup_runs_before_the_services(rendered: dict[str, Any]) -> None:
    services = rendered["services"]
    setup = services["setup"]
    command = " ".join(setup["command"])
    assert "driftline topics create" in command and "driftline features apply" in command
    assert setup["restart"] == "no"
    assert {name: dep["condition"] for name, dep in setup["depends_on"].items()} == {
        "kafka": "service_healthy", "postgres": "service_healthy", "redis": "service_healthy",
    }  # fmt: skip
    for name in ("monitor", "retrainer"):
        assert services[name]["depends_on"] == {
            "setup": {"condition": "service_completed_successfully"}
        }, name


def test_postgres_and_redis_are_internal_only(rendered: dict[str, Any]) -> None:
    services, networks = rendered["services"], rendered["networks"]
    for name in ("postgres", "redis"):
        assert "ports" not in services[name], name
        assert list(services[name]["networks"]) == ["backend"], name
    assert networks["backend"].get("internal") is True
    assert "redis-data:/data" in [_volume(v) for v in services["redis"]["volumes"]]
    assert "postgres-data:/var/lib/postgresql/data" in [_volume(v) for v in services["postgres"]["volumes"]]  # fmt: skip


def test_kafka_has_an_external_listener(rendered: dict[str, Any]) -> None:
    kafka = rendered["services"]["kafka"]
    env = kafka["environment"]
    assert "EXTERNAL://localhost:9094" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert "INTERNAL://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] == "INTERNAL"
    assert [(p["published"], p["target"]) for p in kafka["ports"]] in ([(9094, 9094)], [("9094", 9094)])  # fmt: skip
    assert set(kafka["networks"]) == {"backend", "edge"}


def test_each_monitor_replica_has_its_own_state_and_worker_id(rendered: dict[str, Any]) -> None:
    monitor = rendered["services"]["monitor"]
    volumes = monitor["volumes"]
    state = [v for v in volumes if _target(v) == "/var/lib/driftline"]
    assert len(state) == 1 and _source(state[0]) is None  # anonymous: one volume per container
    assert 'DRIFTLINE_WORKER_ID="$$HOSTNAME"' in " ".join(monitor["command"])  # $$: rendered
    assert "driftline monitor" in " ".join(monitor["command"])
    artifacts = [v for v in rendered["services"]["retrainer"]["volumes"] if _target(v).endswith("/artifacts")]  # fmt: skip
    assert [_source(v) for v in artifacts] == ["artifacts"]  # shared by every retrainer


def test_monitor_and_retrainer_have_healthchecks(rendered: dict[str, Any]) -> None:
    services = rendered["services"]
    config = load_config(ROOT / "infra" / "compose" / "driftline.yaml")
    probe = " ".join(services["monitor"]["healthcheck"]["test"])
    assert f"127.0.0.1:{config.monitor.web_port}/metrics" in probe
    check = " ".join(services["retrainer"]["healthcheck"]["test"])
    assert "/var/lib/driftline/run/retrainer.heartbeat" in check
    assert str(config.state_dir) == "/var/lib/driftline"


def test_services_get_every_secret_the_config_names(rendered: dict[str, Any]) -> None:
    config = load_config(ROOT / "infra" / "compose" / "driftline.yaml")
    fs = config.feature_store
    assert fs.type == "postgres" and fs.postgres_host == "postgres" and fs.redis_host == "redis"
    for name in ("setup", "monitor", "retrainer"):
        env = rendered["services"][name]["environment"]
        assert env["DRIFTLINE_BOOTSTRAP_SERVERS"] == "kafka:9092"
        for secret in (fs.postgres_password_env, fs.redis_password_env, config.registry.password_env):  # fmt: skip
            assert env.get(secret), (name, secret)


def test_two_more_services_can_be_appended(tmp_path: Path) -> None:
    """What issue 18 adds (Prometheus and Grafana) goes at the end of ``services`` and
    ``volumes`` without touching the rest."""
    text = COMPOSE.read_text()
    head, _, tail = text.partition("\nnetworks:\n")
    extra = (
        "\n  prometheus:\n    image: prom/prometheus:v3.0.0\n    networks: [backend, edge]\n"
        "  grafana:\n    image: grafana/grafana:11.3.0\n    networks: [edge]\n"
        "    volumes: [grafana-data:/var/lib/grafana]\n"
    )
    path = tmp_path / "docker-compose.yml"
    path.write_text(head.rstrip("\n") + "\n" + extra + "\nnetworks:\n" + tail + "  grafana-data:\n")
    (tmp_path / "infra").symlink_to(ROOT / "infra")
    result = _render(path)
    assert result.returncode == 0, result.stderr
    assert {"prometheus", "grafana"} <= set(yaml.safe_load(result.stdout)["services"])


def test_image_is_cpu_only_by_default_non_root_and_complete() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^ARG TORCH=cpu$", dockerfile, re.M)
    assert "download.pytorch.org/whl/cpu" in dockerfile
    assert re.search(r"^USER driftline$", dockerfile, re.M)
    for package in ("driftline", "streams", "retrainer", "featurestore", "models", "simulator"):
        assert re.search(rf"^COPY {package} ", dockerfile, re.M), package
    assert ".driftline" in (ROOT / ".dockerignore").read_text()


def test_no_secret_literals_in_compose_or_configs() -> None:
    text = COMPOSE.read_text()
    assert "POSTGRES_PASSWORD: ${" in text
    for path in (
        ROOT / "examples" / "driftline.yaml",
        ROOT / "infra" / "compose" / "driftline.yaml",
    ):
        assert "password:" not in path.read_text().replace("password_env", "")


def _volume(entry: Any) -> str:
    """``source:target`` of a volume entry, without its mode (``:rw``)."""
    if isinstance(entry, str):
        return entry.removesuffix(":rw").removesuffix(":ro")
    return f"{entry.get('source')}:{entry['target']}"


def _target(entry: Any) -> str:
    return entry.split(":")[1] if isinstance(entry, str) and ":" in entry else entry if isinstance(entry, str) else entry["target"]  # fmt: skip


def _source(entry: Any) -> str | None:
    if isinstance(entry, str):
        return entry.split(":")[0] if ":" in entry else None
    return entry.get("source")
