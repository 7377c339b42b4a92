"""The typed shape of ``driftline.yaml``.

Every section is a frozen pydantic model that forbids unknown keys, so a typo is an error with a
suggestion instead of a silently ignored setting. Secrets never live here: the config names the
*environment variable* that holds a secret (``password_env``), and the value is read at connect time.

Relative paths are resolved against the current working directory; embedded stores live under
``state_dir`` (``.driftline/`` by default).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from driftline.config.ranges import METRIC_RANGES, check_detector_params, check_threshold

__all__ = [
    "DEFAULT_DETECTOR",
    "AlertPolicy",
    "AlertsConfig",
    "DashboardConfig",
    "DetectorConfig",
    "DriftlineConfig",
    "Duration",
    "EmbeddedFeatureStore",
    "EstimateConfig",
    "FeatureDriftConfig",
    "FeatureSpec",
    "FeatureStoreConfig",
    "GateConfig",
    "KafkaConfig",
    "LocalBrokerConfig",
    "MonitorConfig",
    "PostgresFeatureStore",
    "ProducerConfig",
    "RegistryConfig",
    "RetrainPolicy",
    "RetrainerConfig",
    "SecurityConfig",
    "TaskConfig",
    "TaskType",
    "ThresholdRule",
    "TopicsConfig",
    "WebhookSinkConfig",
]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def _parse_duration(value: Any) -> Any:
    """Accept seconds as a number or a string like ``"90s"``, ``"15m"``, ``"2h"``, ``"7d"``."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string like '15m', '2h', '7d'")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if not match:
            raise ValueError(
                f"{value!r} is not a duration; use seconds or '500ms', '15m', '2h', '7d'"
            )
        return float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]
    return value


def _non_negative(value: float) -> float:
    if value < 0:
        raise ValueError("must not be negative")
    return value


Duration = Annotated[float, BeforeValidator(_parse_duration), AfterValidator(_non_negative)]
"""Seconds; YAML may say ``300``, ``"5m"``, ``"2h"`` or ``"7d"``."""

Name = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")]
TaskType = Literal["binary", "multiclass", "regression", "ranking"]
Severity = Literal["info", "warning", "critical"]


class Section(BaseModel):
    """Base of every config section: frozen, unknown keys forbidden."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


# --------------------------------------------------------------------------------------- Kafka


class SecurityConfig(Section):
    """How clients authenticate to Kafka. Secrets come from environment variables only."""

    protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    username_env: str = "DRIFTLINE_KAFKA_USERNAME"
    password_env: str = "DRIFTLINE_KAFKA_PASSWORD"
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_key_password_env: str = "DRIFTLINE_KAFKA_SSL_KEY_PASSWORD"

    @model_validator(mode="after")
    def _sasl_needs_mechanism(self) -> SecurityConfig:
        if self.protocol.startswith("SASL") and self.sasl_mechanism is None:
            raise ValueError(f"protocol {self.protocol} needs sasl_mechanism (e.g. SCRAM-SHA-512)")
        return self


class LocalBrokerConfig(Section):
    """The embedded single-node Apache Kafka that ``driftline broker start`` runs."""

    port: int = Field(9092, ge=1, le=65535)
    controller_port: int = Field(9093, ge=1, le=65535)
    sasl_port: int | None = Field(None, ge=1, le=65535)
    heap: str = "512m"
    start_timeout: Duration = 60.0


class KafkaConfig(Section):
    """Kafka connection and topic layout."""

    bootstrap_servers: str = "127.0.0.1:9092"
    partitions: int = Field(4, ge=1, le=10_000)
    replication_factor: int = Field(1, ge=1, le=16)
    client_id: str = "driftline"
    connect_timeout: Duration = Field(
        10.0,
        gt=0,
        description="seconds a command waits for the broker before it exits with one line "
        "(services check once at start-up)",
    )
    security: SecurityConfig = SecurityConfig()
    local: LocalBrokerConfig = LocalBrokerConfig()


class TopicsConfig(Section):
    """Topic names (defaults shown) and retention of the output topics."""

    predictions: Name = "predictions"
    labels: Name = "labels"
    outcomes: Name = "outcomes"
    drift_alerts: Name = "drift-alerts"
    retrain_requests: Name = "retrain-requests"
    model_updates: Name = "model-updates"
    task_metrics: Name = "task-metrics"
    dead_letters: Name = "dead-letters"
    input_retention: Duration = 7 * 86400.0
    output_retention: Duration = 30 * 86400.0


class ProducerConfig(Section):
    """The producer SDK: envelope packing and back-pressure."""

    envelope_events: int = Field(100, ge=1, le=100_000)
    envelope_bytes: int = Field(512 * 1024, ge=1024, le=900 * 1024)
    linger_ms: int = Field(50, ge=0, le=60_000)
    on_buffer_full: Literal["block", "raise"] = "block"
    block_timeout: Duration = 30.0
    max_event_bytes: int = Field(256 * 1024, ge=256, le=900 * 1024)


# --------------------------------------------------------------------------------------- tasks


class FeatureSpec(Section):
    """One input feature: its name and type."""

    name: Name
    dtype: Literal["float", "int", "string", "bool"] = "float"


class DetectorConfig(Section):
    """A River drift detector on one signal of a task.

    ``signal: error`` watches the per-label error stream (needs labels); ``signal: score`` watches the
    prediction's score/value stream (label-free). ``params`` go to the River constructor; each
    must be one of its parameters, in its range (:data:`driftline.config.ranges.DETECTOR_PARAMS`:
    ADWIN's ``delta`` in (0, 1), a warning level below the drift level, ...).
    ``severity`` defaults to ``critical`` on the error stream (a retrain severity by default) and
    ``warning`` on the score stream. ``scale: auto`` feeds numeric signals (a regression task's
    error or value, a ranking score) to the detector in units of their reference spread, clipped
    at the reference's 1st/99th percentiles, so that false alarms do not depend on the units or
    on heavy tails; a 0/1 error noisier than a 10 % error rate is scaled down to that spread
    (ADWIN's bound leaves noisy 0/1 streams less margin); [0, 1] scores go in as they are.
    """

    kind: Literal["adwin", "page_hinkley", "kswin", "ddm", "eddm", "hddm_a", "hddm_w"]
    signal: Literal["error", "score", "expected_error"] = Field(
        "error",
        description="error (needs labels), score (the prediction), expected_error (the error "
        "the calibrated estimate expects of each prediction, label-free; needs `estimate`)",
    )
    params: dict[str, float | int | str | bool] = Field(default_factory=dict)
    severity: Severity | None = Field(
        None, description="default: critical for signal error, warning for signal score"
    )
    scale: Literal["auto", "raw", "reference"] = Field(
        "auto",
        description="auto: numeric signals in units of their first `reference` values; raw: as is",
    )
    reference: int = Field(
        1000, ge=100, le=1_000_000, description="values that set the scale (scale: reference)"
    )
    null_alarms_per_1m: float | None = Field(
        None,
        ge=0,
        description="its false alarms per 1 M values on the task's normal stream (as "
        "`driftline calibrate` measured); with feature_drift.false_discovery_rate its "
        "non-critical alerts join the false-discovery family",
    )

    @model_validator(mode="after")
    def _params_in_range(self) -> DetectorConfig:
        problems = check_detector_params(self.kind, self.params)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _default_severity(self) -> DetectorConfig:
        if self.severity is None:
            object.__setattr__(
                self, "severity", "critical" if self.signal == "error" else "warning"
            )
        return self


DEFAULT_DETECTOR = DetectorConfig(
    kind="adwin", signal="error", params={"delta": 0.0005, "clock": 1}, severity="critical"
)
"""What a task without a ``detectors`` key gets: ADWIN on its error stream, checked at every label,
``delta`` tuned for no false alarm on 1 M stationary labels (``driftline bench detection``)."""


class ThresholdRule(Section):
    """Alert when a rolling metric crosses a bound, e.g. ``accuracy < 0.8``.

    The bound lies within the metric's range (accuracy in [0, 1], mae in [0, inf), r2 up to 1),
    and the rule can both fire and not fire (``accuracy >= 0`` always would)."""

    metric: str
    op: Literal["<", "<=", ">", ">="]
    value: float
    severity: Severity = "warning"

    @model_validator(mode="after")
    def _within_the_metric(self) -> ThresholdRule:
        problem = (
            check_threshold(self.metric, self.op, self.value)
            if self.metric in METRIC_RANGES
            else None
        )
        if problem is not None:
            raise ValueError(problem)
        return self


class AlertPolicy(Section):
    """Turns detector firings into alerts."""

    min_samples: int = Field(500, ge=0)
    warmup: int = Field(1000, ge=0, description="labels ignored after a model-version change")
    confirmations: int = Field(1, ge=1, description="firings needed within `confirm_within` labels")
    confirm_within: int = Field(500, ge=1)
    cooldown: int = Field(2000, ge=0, description="labels of quiet after an alert (per detector)")
    warning_limit: int | None = Field(
        3,
        ge=1,
        description="most info/warning alerts of the task per `warning_period` (null: no limit)",
    )
    warning_period: Duration = 86400.0


class RetrainPolicy(Section):
    """When an alert turns into a retrain request."""

    on_severity: list[Severity] = Field(default_factory=lambda: list[Severity](["critical"]))
    cooldown: Duration = 3600.0
    min_labels: int = Field(
        1000, ge=1, description="labels of the current model version before any request"
    )
    collect_labels: int = Field(
        0,
        ge=0,
        description="labels to collect after the drift evidence starts before the request is "
        "sent, so the retrainer trains on the new concept; 0 sends it with the alert",
    )


class EstimateConfig(Section):
    """Performance estimated from predictions before their labels arrive.

    Binary and multiclass tasks: confidence-based performance estimation (CBPE), calibrated on the
    first ``reference`` labels of each model version; regression tasks: a direct loss estimate
    (the reference's error per bin of the predicted value). Gives the metrics ``estimated_*``
    (thresholds may watch them) and the ``expected_error`` signal (detectors may watch it).
    """

    enabled: bool = False
    reference: int = Field(2000, ge=100, description="labels that calibrate the estimate")
    chunk: Duration = Field(3600.0, description="prediction event time per estimate")
    min_predictions: int = Field(
        200, ge=1, description="a chunk with fewer predictions raises no estimated-metric alert"
    )
    bins: int = Field(50, ge=2, le=1000, description="score bins of the calibration")


class GateConfig(Section):
    """Promotion gate for one task (used by the retrainer)."""

    tolerance: float = Field(0.01, ge=0, le=1, description="allowed relative regression")
    must_improve_when_drifted: bool = True
    confidence: float = Field(0.95, gt=0, lt=1)


_DEFAULT_METRICS: dict[str, list[str]] = {
    "binary": ["accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"],
    "multiclass": ["accuracy", "macro_f1"],
    "regression": ["mae", "rmse", "r2"],
    "ranking": ["ndcg", "mrr"],
}
_ESTIMATED_METRICS: dict[str, list[str]] = {
    "binary": ["estimated_roc_auc", "estimated_accuracy"],
    "multiclass": ["estimated_accuracy"],
    "regression": ["estimated_mae", "estimated_rmse"],
    "ranking": [],
}
_PRIMARY_METRIC = {
    "binary": "roc_auc",
    "multiclass": "accuracy",
    "regression": "mae",
    "ranking": "ndcg",
}


class TaskConfig(Section):
    """One head of the multi-task model: how it is monitored, alerted on and retrained."""

    type: TaskType
    classes: list[str] | None = None
    metrics: list[str] = Field(default_factory=list)
    primary_metric: str | None = None
    window: int = Field(2000, gt=0, description="rolling window, in labels")
    label_delay: Duration = 86400.0
    ranking_k: int = Field(10, ge=1)
    thresholds: list[ThresholdRule] = Field(default_factory=list)
    detectors: list[DetectorConfig] = Field(
        default_factory=lambda: [DEFAULT_DETECTOR],
        description="default: ADWIN on the error stream (critical); `[]` opts out",
    )
    policy: AlertPolicy = AlertPolicy()
    estimate: EstimateConfig = EstimateConfig()
    retrain: RetrainPolicy = RetrainPolicy()
    gate: GateConfig = GateConfig()
    slices: list[str] = Field(default_factory=list)
    max_slice_values: int = Field(
        100,
        ge=1,
        description="values of each slice monitored on their own (fewer when their rolling "
        "windows would not fit the task's state budget); later values share the slice's `(other)` scope",
    )
    features: list[FeatureSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _fill_defaults(self) -> TaskConfig:
        if self.type == "multiclass" and (not self.classes or len(self.classes) < 2):
            raise ValueError("a multiclass task needs `classes` with at least two entries")
        allowed = _DEFAULT_METRICS[self.type]
        for metric in self.metrics:
            if metric not in allowed:
                raise ValueError(
                    f"metric {metric!r} is not available for {self.type}; use {allowed}"
                )
        if not self.metrics:
            object.__setattr__(self, "metrics", list(allowed))
        if self.primary_metric is None:
            object.__setattr__(self, "primary_metric", _PRIMARY_METRIC[self.type])
        elif self.primary_metric not in allowed:
            raise ValueError(f"primary_metric {self.primary_metric!r} is not one of {allowed}")
        estimated = _ESTIMATED_METRICS[self.type] if self.estimate.enabled else []
        for rule in self.thresholds:
            if rule.metric in _ESTIMATED_METRICS[self.type] and not estimated:
                raise ValueError(
                    f"threshold metric {rule.metric!r} needs `estimate: {{enabled: true}}`"
                )
            if rule.metric not in allowed + estimated:
                raise ValueError(
                    f"threshold metric {rule.metric!r} is not one of {allowed + estimated}"
                )
        if self.estimate.enabled and self.type == "ranking":
            raise ValueError("`estimate` is not available for ranking tasks")
        for det in self.detectors:
            if det.signal == "expected_error" and not self.estimate.enabled:
                raise ValueError(
                    "a detector on signal expected_error needs `estimate: {enabled: true}`"
                )
        return self

    @property
    def needs_scores(self) -> bool:
        """Whether the monitor needs each prediction's score: a ``signal: score`` detector or a
        slice (whose snapshots count predictions per segment). Otherwise the join only counts a
        record's predictions of this task (one ``predicted`` outcome per record)."""
        return (
            bool(self.slices)
            or self.estimate.enabled
            or any(d.signal != "error" for d in self.detectors)
        )


# --------------------------------------------------------------------------- subsystems


class MonitorConfig(Section):
    """The streaming monitor (Faust worker)."""

    app_id: Name = "driftline-monitor"
    store: Literal["rocksdb", "memory"] = "rocksdb"
    checkpoint_events: int = Field(
        5000, ge=1, description="input events between checkpoints (or checkpoint_interval)"
    )
    checkpoint_interval: Duration = 1.0
    snapshot_interval: Duration = 10.0
    max_early_labels: int = Field(
        10_000_000,
        ge=0,
        description="labels waiting for their prediction per input partition (on disk), at most",
    )
    max_event_skew: Duration = Field(
        86400.0,
        description="an event dated this far ahead of its partition's stream time and of the "
        "clock is dead-lettered (a wrong timestamp would expire every pending prediction)",
    )
    web_port: int = Field(6066, ge=1, le=65535)
    session_timeout: Duration = 10.0
    workers: int = Field(1, ge=1, le=64)
    static_membership: bool = Field(
        False, description="group.instance.id per worker: a restart resumes without a rebalance"
    )
    source_idle_timeout: Duration = Field(
        10.0,
        description="stage 2 applies a task's outcomes in event-time order across input "
        "partitions; a worker declares an input topic partition it reads idle (not waited for) "
        "when it is caught up and had no record this long",
    )
    input_alignment: Duration | None = Field(
        600.0,
        description="while a worker catches up on a backlog, an input topic partition more "
        "than this far ahead in event time of the slowest one with records left waits for it "
        "(bounds the outcomes stage 2 holds for its event-time order); null: never",
    )
    held_in_memory: int = Field(
        20_000,
        ge=2,
        description="outcomes per task stage 2 keeps in memory while they wait for their "
        "event-time turn; more wait in a local RocksDB database",
    )
    heap_trim_interval: Duration = Field(
        30.0,
        description="every this long the worker gives the memory freed in its C heap back to "
        "the system (glibc malloc_trim; RocksDB's reads leave much of it); 0: never",
    )
    join_cache_bytes: int = Field(
        32 * 2**20,
        ge=2**20,
        description="RocksDB block cache per join partition (the join's state is on disk)",
    )
    fetch_bytes: int = Field(
        16 * 2**20,
        ge=64 * 1024,
        description="most bytes one fetch reads per partition (worker memory: partitions × this)",
    )
    feature_sink: bool = Field(True, description="push labelled outcomes to Feast")
    task_state_bytes: int = Field(
        900 * 1024,
        ge=256 * 1024,
        description="what a task monitor's state is sized for (slice caps, window warnings): "
        "every checkpoint that touches a task pickles and writes all of its state, about 30 ms "
        "per MB; a state over a Kafka record is stored in parts",
    )

    @model_validator(mode="before")
    @classmethod
    def _removed_fields(cls, data: Any) -> Any:
        if isinstance(data, dict) and "join_buckets" in data:
            raise ValueError(
                "join_buckets was removed: the join keeps its state on disk (RocksDB) and needs "
                'no buckets; delete the line (docs/monitoring.md, "Sizing the join")'
            )
        if isinstance(data, dict) and "checkpoint_envelopes" in data:
            raise ValueError(
                "checkpoint_envelopes was replaced by checkpoint_events, which counts events, "
                "not records (50 envelopes of 100 events are checkpoint_events: 5000, the "
                "default)"
            )
        return data


class FeatureDriftConfig(Section):
    """Per-feature drift: sketches of the declared features per window of prediction time,
    compared with a reference profile, per task's feature view (shared + its own features)."""

    enabled: bool = False
    window: Duration = Field(3600.0, gt=0, description="prediction event time per profile")
    lateness: Duration = Field(
        300.0, description="a window closes this long after its end (in prediction time)"
    )
    reference: Literal["champion", "first_windows", "period"] | None = Field(
        None,
        description="the profile each window is compared with: champion = the training rows of "
        "the model version in use (stored with it; its first windows when it has none), "
        "first_windows = the first reference_windows windows of each version, period = "
        "reference_start..reference_end; default: period when those are set, else champion",
    )
    reference_windows: int = Field(
        24, ge=1, description="windows of each model version that make its reference profile"
    )
    reference_start: AwareDatetime | None = Field(
        None, description="with reference_end: a fixed reference period of prediction time"
    )
    reference_end: AwareDatetime | None = None
    min_count: int = Field(200, ge=1, description="values a window needs to be compared")
    psi: float = Field(0.2, gt=0, description="PSI a drifted feature reaches (drift that matters)")
    p_value: float = Field(
        0.001, gt=0, lt=1, description="per-test significance when false_discovery_rate is unset"
    )
    false_discovery_rate: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="control the FDR per window over tasks x features x non-critical detectors "
        "with a null_alarms_per_1m (Benjamini-Hochberg at this rate / number of tasks)",
    )
    severity: Severity = "warning"

    @model_validator(mode="after")
    def _period(self) -> FeatureDriftConfig:
        if (self.reference_start is None) != (self.reference_end is None):
            raise ValueError("set both reference_start and reference_end, or neither")
        start, end = self.reference_start, self.reference_end
        if start is not None and end is not None and end <= start:
            raise ValueError("reference_end must be after reference_start")
        if self.reference == "period" and start is None:
            raise ValueError("reference: period needs reference_start and reference_end")
        if self.reference in ("champion", "first_windows") and start is not None:
            raise ValueError(
                f"reference_start/reference_end make a period reference, not {self.reference}: "
                "remove them or set reference: period"
            )
        return self

    @property
    def reference_kind(self) -> Literal["champion", "first_windows", "period"]:
        """``reference``, or its default: ``period`` when a period is set, else ``champion``.

        >>> FeatureDriftConfig().reference_kind
        'champion'
        """
        # getattr: a monitor state stored before this field existed holds its section pickled
        chosen = getattr(self, "reference", None)
        if chosen is not None:
            return chosen  # type: ignore[no-any-return]
        return "period" if self.reference_start is not None else "champion"


class RetrainerConfig(Section):
    """The retrainer worker: what it trains and how."""

    group_id: Name = "driftline-retrainer"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    architecture: Literal["shared_bottom", "mmoe", "ple"] = "mmoe"
    loss_balancing: Literal["equal", "uncertainty", "gradnorm", "pcgrad"] = "uncertainty"
    epochs: int = Field(20, ge=1)
    batch_size: int = Field(512, ge=1)
    learning_rate: float = Field(1e-3, gt=0)
    optimizer: Literal["adam", "adamw"] = Field(
        "adam", description="torch.optim.Adam (L2 weight decay) or AdamW (decoupled)"
    )
    weight_decay: float = Field(0.0, ge=0)
    amp: Literal["auto", "off", "bfloat16", "float16"] = Field(
        "auto",
        description="mixed precision: auto = on CUDA only (bfloat16, else float16 with a "
        "gradient scaler); bfloat16/float16 on any device; off = float32",
    )
    seed: int = 0
    window: Duration = 7 * 86400.0
    holdout_fraction: float = Field(0.2, gt=0, lt=1)
    head_only_single_task: bool = True
    auto_promote: bool = True
    min_labels: int = Field(1000, ge=1)
    patience: int = Field(5, ge=1, description="epochs without improvement before a task stops")
    batching: Literal["auto", "uniform", "balanced"] = "auto"
    architecture_params: dict[str, int | float | list[int]] = Field(default_factory=dict)
    coalesce_window: Duration = Field(
        2.0, description="wait this long for more requests for the same model before training"
    )
    bootstrap_resamples: int = Field(1000, ge=50, le=100_000, description="promotion gate CI")
    min_delta_p: float | None = Field(
        None, description="if set: train single-task baselines; Δp (%) must be at least this"
    )
    orphan_min_age: Duration = Field(
        600.0, description="staging artifacts older than this are removed at start-up"
    )
    session_timeout: Duration = Field(10.0, description="Kafka consumer session timeout")


class EmbeddedFeatureStore(Section):
    """Feast with a duckdb offline store, sqlite online store and sqlite SQL registry.

    Everything lives under ``path``; ``project`` is the Feast project (default: the model name
    with non-identifier characters replaced by ``_``).
    """

    type: Literal["embedded"] = "embedded"
    path: Path = Path(".driftline/feast")
    project: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_]*$")] | None = None


class PostgresFeatureStore(Section):
    """Feast with Postgres offline store and registry, Redis online store (production)."""

    type: Literal["postgres"] = "postgres"
    path: Path = Path(".driftline/feast")
    project: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_]*$")] | None = None
    postgres_host: str = "localhost"
    postgres_port: int = 5432
    postgres_database: str = "driftline"
    postgres_user: str = "driftline"
    postgres_password_env: str = "DRIFTLINE_POSTGRES_PASSWORD"
    postgres_schema: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] = "public"
    postgres_sslmode: Literal[
        "disable", "allow", "prefer", "require", "verify-ca", "verify-full"
    ] = "prefer"
    redis_host: str = "localhost"
    redis_port: int = 6379
    redis_password_env: str = "DRIFTLINE_REDIS_PASSWORD"


FeatureStoreConfig = Annotated[
    EmbeddedFeatureStore | PostgresFeatureStore, Field(discriminator="type")
]


class RegistryConfig(Section):
    """Model registry (SQLAlchemy URL, password from the environment) and artifact directory."""

    url: str = "sqlite:///.driftline/registry.db"
    password_env: str = "DRIFTLINE_REGISTRY_PASSWORD"
    artifacts_dir: Path = Path(".driftline/artifacts")

    @model_validator(mode="after")
    def _no_password_in_url(self) -> RegistryConfig:
        if re.match(r"^[a-z0-9+]+://[^/@]*:[^/@]+@", self.url):
            raise ValueError(f"url must not hold a password; put it in ${self.password_env}")
        return self


# ------------------------------------------------------------------------ alerts, dashboard


class WebhookSinkConfig(Section):
    """An HTTP endpoint that gets every matching alert (POST, JSON), once per ``alert_id``.

    The URL often holds a token (a Slack incoming webhook does), so it is never in this file:
    ``url_env`` names the environment variable that holds it. ``format: json`` posts the
    ``driftline.alert/1`` event itself; ``format: slack`` posts a Slack-compatible message
    (``text`` and ``blocks``). A failed POST (a connection error, a timeout, HTTP 429 or 5xx) is
    tried again after ``backoff``, doubling up to ``max_backoff`` (or the ``Retry-After`` the
    receiver sends), ``retries`` times; then the alert goes to ``dead-letters`` with the reason.
    """

    type: Literal["webhook"] = "webhook"
    name: Name = Field(description="names the sink in logs, metrics and its consumer group")
    url_env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] = Field(
        description="environment variable that holds the URL (tokens included)"
    )
    format: Literal["json", "slack"] = "json"
    min_severity: Severity = "info"
    tasks: list[Name] = Field(default_factory=list, description="only these tasks (empty: all)")
    timeout: Duration = Field(5.0, description="seconds one POST may take")
    retries: int = Field(5, ge=0, le=100, description="tries after the first one fails")
    backoff: Duration = Field(1.0, description="wait before the first retry; doubles each time")
    max_backoff: Duration = 60.0
    headers_env: dict[str, Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]] = Field(
        default_factory=dict,
        description="extra headers whose values come from environment variables "
        "(e.g. Authorization: DRIFTLINE_WEBHOOK_AUTH)",
    )


class AlertsConfig(Section):
    """Alert routing: where drift alerts go besides the ``drift-alerts`` topic.

    With sinks configured, ``driftline monitor`` starts an alert router beside the worker (or run
    it alone: ``driftline alerts route``). Each sink reads ``drift-alerts`` in its own consumer
    group (``<group_id>-<sink name>``) and commits after delivery, so a slow or dead sink delays
    only itself, never the monitor or the other sinks.
    """

    sinks: list[WebhookSinkConfig] = Field(
        default_factory=list, description="(`type: webhook` is the one kind so far)"
    )
    route_with_monitor: bool = Field(
        True, description="`driftline monitor` starts the router when sinks are configured"
    )
    group_id: Name = "driftline-alert-router"
    lookback: Duration = Field(
        3600.0,
        description="a sink's first start delivers alerts produced this long before it "
        "(then it resumes from its committed offsets)",
    )
    remember: int = Field(
        100_000, ge=1, description="alert ids each sink remembers to drop duplicates"
    )
    dashboard_url: str | None = Field(
        None, description="link put in each message (e.g. http://dashboard.example:8050)"
    )

    @model_validator(mode="after")
    def _sink_names_unique(self) -> AlertsConfig:
        names = [sink.name for sink in self.sinks]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"alert sink name {name!r} is used twice")
        return self


class DashboardConfig(Section):
    """``driftline dashboard``: the web page of every task over time (reads the topics)."""

    host: str = "127.0.0.1"
    port: int = Field(8050, ge=1, le=65535)
    points: int = Field(
        5000, ge=10, le=1_000_000, description="snapshots kept per task and slice (oldest dropped)"
    )
    events: int = Field(
        2000, ge=10, le=1_000_000, description="alerts, requests, updates, dead letters kept"
    )
    lag_interval: Duration = Field(5.0, description="how often consumer lag is read")
    with_monitor: bool = Field(
        False, description="`driftline monitor` also serves the dashboard on `port`"
    )


# --------------------------------------------------------------------------------------- root


class DriftlineConfig(Section):
    """The whole of ``driftline.yaml``."""

    version: Literal[1] = 1
    model: Name
    state_dir: Path = Path(".driftline")
    kafka: KafkaConfig = KafkaConfig()
    topics: TopicsConfig = TopicsConfig()
    producer: ProducerConfig = ProducerConfig()
    features: list[FeatureSpec] = Field(default_factory=list)
    entity: Name = "entity_id"
    feature_ttl: Duration = 30 * 86400.0
    tasks: dict[Name, TaskConfig] = Field(min_length=1)
    monitor: MonitorConfig = MonitorConfig()
    feature_drift: FeatureDriftConfig = FeatureDriftConfig()
    retrainer: RetrainerConfig = RetrainerConfig()
    feature_store: FeatureStoreConfig = EmbeddedFeatureStore()
    registry: RegistryConfig = RegistryConfig()
    alerts: AlertsConfig = AlertsConfig()
    dashboard: DashboardConfig = DashboardConfig()

    @model_validator(mode="after")
    def _features_unique(self) -> DriftlineConfig:
        seen: set[str] = set()
        names = [f.name for f in self.features]
        names += [f.name for task in self.tasks.values() for f in task.features]
        for name in names:
            if name in seen:
                raise ValueError(f"feature {name!r} is declared twice")
            seen.add(name)
        return self

    @model_validator(mode="after")
    def _alert_sink_tasks_known(self) -> DriftlineConfig:
        for sink in self.alerts.sinks:
            unknown = sorted(set(sink.tasks) - set(self.tasks))
            if unknown:
                raise ValueError(
                    f"alert sink {sink.name!r} names unknown tasks {unknown}; "
                    f"tasks: {sorted(self.tasks)}"
                )
        return self
