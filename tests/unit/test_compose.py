"""docker-compose.yml is valid (Debian's docker-compose) and matches the config defaults."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from driftline.config import load_config
from driftline.config.models import DriftlineConfig

ROOT = Path(__file__).resolve().parents[2]
ENV = {
    **os.environ,
    "DRIFTLINE_POSTGRES_PASSWORD": "x",
    "DRIFTLINE_REDIS_PASSWORD": "y",
    "GRAFANA_ADMIN_PASSWORD": "z",
}


def _compose() -> dict:  # type: ignore[type-arg]
    return dict(yaml.safe_load((ROOT / "docker-compose.yml").read_text()))


def test_compose_config_is_valid() -> None:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail(
            "docker-compose not installed: run `make setup` (apt-get install docker-compose)"
        )
    result = subprocess.run(
        [binary, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True, text=True, env=ENV, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_compose_services_ports_and_env_match_config() -> None:
    compose = _compose()
    services = compose["services"]
    assert {"kafka", "postgres", "redis", "monitor", "retrainer", "topics"} <= set(services)
    cfg = load_config(ROOT / "infra" / "compose" / "driftline.yaml")
    defaults = DriftlineConfig.model_fields
    assert defaults["kafka"].default.local.port == 9092
    assert "9092:9092" in services["kafka"]["ports"]
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    fs = cfg.feature_store
    assert fs.type == "postgres"
    assert f"{fs.postgres_port}:5432" in services["postgres"]["ports"]
    assert f"{fs.redis_port}:6379" in services["redis"]["ports"]
    assert services["postgres"]["environment"]["POSTGRES_USER"] == fs.postgres_user
    assert services["postgres"]["environment"]["POSTGRES_DB"] == fs.postgres_database
    env = services["monitor"]["environment"]
    assert env["DRIFTLINE_BOOTSTRAP_SERVERS"] == "kafka:9092"
    # every secret the config names comes from the environment of the services
    for name in (fs.postgres_password_env, fs.redis_password_env, cfg.registry.password_env):
        assert name in env, name
    assert str(cfg.monitor.web_port) in [str(p) for p in services["monitor"]["ports"]]
    assert services["monitor"]["command"] == ["driftline", "monitor"]
    assert services["retrainer"]["command"] == ["driftline", "retrainer"]


def test_no_secret_literals_in_compose_or_configs() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    assert "POSTGRES_PASSWORD: ${" in text
    for path in (
        ROOT / "examples" / "driftline.yaml",
        ROOT / "infra" / "compose" / "driftline.yaml",
    ):
        assert "password:" not in path.read_text().replace("password_env", "")
