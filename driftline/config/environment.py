"""Every ``DRIFTLINE_*`` setting driftline reads from the environment, resolved in one place.

:class:`EnvironmentSettings` (pydantic-settings) declares them, typed; :func:`environment` reads
them. The precedence everywhere is **command-line flag > environment > driftline.yaml > default**:

* the config loader applies :meth:`EnvironmentSettings.config_overrides` once, over the YAML
  (``$DRIFTLINE_BOOTSTRAP_SERVERS`` → ``kafka.bootstrap_servers``), before validation;
* a command-line option that an environment variable can set takes it as its default
  (``--config``, ``--log-level``, ``--worker-id``, ``--libs``), so the flag still wins.

Secrets are not here: the config names the variables that hold them (``kafka.security.
password_env``, ``registry.password_env``, ``alerts.sinks[].url_env``, ...), they are read from
the environment only where a client is built, and no setting here holds or logs one.
``docs/config-reference.md`` lists these variables and the secrets' (rendered from this class
and the config models by ``driftline config reference``).

>>> EnvironmentSettings(bootstrap_servers="kafka:9092").config_overrides()  # as if from $DRIFTLINE_...
{'kafka': {'bootstrap_servers': 'kafka:9092'}}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from driftline.errors import ConfigError

__all__ = ["ENV_PREFIX", "EnvironmentSettings", "env_name", "environment"]

ENV_PREFIX = "DRIFTLINE_"


class EnvironmentSettings(BaseSettings):
    """The ``DRIFTLINE_*`` environment variables (an empty one counts as unset)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_ignore_empty=True, extra="ignore", frozen=True
    )

    config: Path | None = Field(
        None,
        description="driftline.yaml of every command that reads one, when `-c/--config` is not "
        "given (default `./driftline.yaml`)",
    )
    bootstrap_servers: str | None = Field(
        None,
        description="overrides `kafka.bootstrap_servers` of driftline.yaml (containers, tests), "
        "for every command and client",
    )
    log_level: str | None = Field(
        None,
        description="`--log-level` of `driftline monitor`, `retrainer`, `calibrate`, ... when it is "
        "not given: debug, info, warning, error (any case)",
    )
    kafka_logs: bool = Field(
        False,
        description="`1` (or true): librdkafka's own log lines on for one-shot commands too (they "
        "are off there; services log them at `--log-level`)",
    )
    worker_id: str | None = Field(
        None,
        description="`--worker-id` of `driftline monitor` when it is not given: this replica's "
        "name (default `worker-<index>`)",
    )
    kafka_libs: Path | None = Field(
        None,
        description="`--libs` of `driftline broker` (and the test suite's broker) when it is not "
        "given: the Kafka jars (default `.driftline/kafka/libs`)",
    )

    def config_overrides(self) -> dict[str, Any]:
        """What the environment sets over driftline.yaml, as a partial config mapping."""
        if self.bootstrap_servers is None:
            return {}
        return {"kafka": {"bootstrap_servers": self.bootstrap_servers}}


def env_name(field: str) -> str:
    """The variable of a setting.

    >>> env_name("bootstrap_servers")
    'DRIFTLINE_BOOTSTRAP_SERVERS'
    """
    if field not in EnvironmentSettings.model_fields:
        raise KeyError(field)
    return f"{ENV_PREFIX}{field.upper()}"


def environment() -> EnvironmentSettings:
    """The ``DRIFTLINE_*`` settings of this process's environment, read now.

    A variable whose value does not fit raises :class:`ConfigError` (exit 2), one line each:
    ``error: $DRIFTLINE_KAFKA_LOGS: Input should be a valid boolean, unable to interpret input``.
    """
    try:
        return EnvironmentSettings()
    except ValidationError as exc:
        problems = [f"error: ${env_name(str(e['loc'][0]))}: {e['msg']}" for e in exc.errors()]
        raise ConfigError("invalid environment variable(s)", problems) from None
