"""``driftline bench features``: Feast training-set retrieval time/RSS and online lookup p99.

Builds an embedded store in a temp dir (duckdb offline store over Parquet part files, sqlite
online store), writes ``--entities`` entities x 3 feature snapshots and ``--rows`` labelled
predictions (two tasks, every prediction labelled for ``churn``, every other one for ``spend``)
through the label sink, then times :func:`featurestore.training_set` over all of them, and
1 000 single-entity online lookups after ``materialize``. Prints one JSON object with ``--json``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from bench.progress import phase
from bench.report import emit, report_options

__all__ = ["main"]


class PeakRss:
    """Samples this process's RSS every few milliseconds while active; ``peak_mb`` is the max."""

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.peak_mb = 0.0
        self._stop = threading.Event()

    def __enter__(self) -> PeakRss:
        import psutil

        process = psutil.Process(os.getpid())
        self.start_mb = process.memory_info().rss / 2**20

        def sample() -> None:
            while not self._stop.is_set():
                self.peak_mb = max(self.peak_mb, process.memory_info().rss / 2**20)
                time.sleep(self.interval)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _config_yaml(root: Path, n_features: int) -> str:
    shared = max(n_features - 4, 1)
    own = n_features - shared
    lines = [f"model: bench\nstate_dir: {root}\nfeature_ttl: 30d\nfeatures:"]
    lines += [f"  - {{name: f{i}, dtype: float}}" for i in range(shared)]
    lines.append("tasks:\n  churn: {type: binary}\n  spend:\n    type: regression")
    if own:
        lines.append("    features:")
        lines += [f"      - {{name: s{i}, dtype: float}}" for i in range(own)]
    lines.append(f"feature_store: {{type: embedded, path: {root}/feast}}")
    return "\n".join(lines) + "\n"


def run(rows: int, n_features: int, entities: int, lookups: int, seed: int) -> dict[str, Any]:
    """Run the benchmark and return the figures."""
    import numpy as np
    import pandas as pd

    from driftline.config import parse_config
    from featurestore.frames import view_frame
    from featurestore.label_sink import LabelSink
    from featurestore.repo import FeatureRepo
    from featurestore.retrieval import online_features, training_set

    rng = np.random.default_rng(seed)
    root = Path(tempfile.mkdtemp(prefix="driftline-bench-features-"))
    config = parse_config(_config_yaml(root, n_features))
    repo = FeatureRepo(config)
    phase("applying the Feast repo")
    started = time.perf_counter()
    repo.apply()
    apply_s = time.perf_counter() - started

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    ids = [f"e{i}" for i in range(entities)]
    created = datetime.now(UTC)
    phase("pushing feature values")
    started = time.perf_counter()
    for view in repo.layout.feature_views:
        records = []
        for snapshot in range(3):
            at = t0 + timedelta(days=10 * snapshot)
            values = rng.normal(size=(entities, len(view.fields)))
            for i, entity in enumerate(ids):
                row = {"entity_id": entity, "event_time": at}
                row.update({name: float(values[i, j]) for j, name in enumerate(view.field_names)})
                records.append(row)
        repo.store.push(view.push_source, view_frame(view, records, "event_time", created),
                        to=_offline())  # fmt: skip
    features_s = time.perf_counter() - started
    feature_rows = 3 * entities

    span = 30 * 86400
    offsets = np.sort(rng.uniform(0, span, size=rows))
    outcomes = []
    for i in range(rows):
        when = (t0 + timedelta(seconds=float(offsets[i]))).isoformat()
        entity = ids[int(rng.integers(entities))]
        outcomes.append({"outcome_id": f"c{i}", "task": "churn", "prediction_id": f"p{i}",
                         "entity_id": entity, "event_time": when, "label": int(i % 3 == 0),
                         "model_version": "1"})  # fmt: skip
        if i % 2 == 0:
            outcomes.append({"outcome_id": f"s{i}", "task": "spend", "prediction_id": f"p{i}",
                             "entity_id": entity, "event_time": when, "label": float(i % 50),
                             "model_version": "1"})  # fmt: skip
    phase(f"writing {rows} labelled outcomes")
    sink = LabelSink(config, batch_size=50_000, write_features=False, repo=repo)
    started = time.perf_counter()
    for chunk in range(0, len(outcomes), 10_000):
        sink.write(outcomes[chunk : chunk + 10_000])
    sink.close()
    label_sink_s = time.perf_counter() - started

    phase("training-set retrieval")
    window = (t0 - timedelta(days=1), t0 + timedelta(days=31))
    # The first call in a process also pays Feast's lazy imports (ibis backends, ~3-5 s here):
    # time it on a one-day window, then time the full window warm.
    started = time.perf_counter()
    training_set(config, ["churn", "spend"], t0, t0 + timedelta(days=1), repo=repo)
    first_call_s = time.perf_counter() - started
    with PeakRss() as rss:
        started = time.perf_counter()
        frame = training_set(config, ["churn", "spend"], *window, repo=repo)
        training_set_s = time.perf_counter() - started
    assert isinstance(frame, pd.DataFrame)

    phase("materialize, then online lookups")
    started = time.perf_counter()
    views = [v.name for v in repo.layout.feature_views]
    with contextlib.redirect_stdout(sys.stderr):  # Feast prints progress; keep stdout JSON
        repo.store.materialize(t0 - timedelta(days=1), t0 + timedelta(days=31), feature_views=views)
    materialize_s = time.perf_counter() - started
    picks = [ids[int(k)] for k in rng.integers(entities, size=lookups)]
    online_features(config, picks[:10], repo=repo)  # warm the registry cache
    latencies = []
    for entity in picks:
        started = time.perf_counter()
        online_features(config, [entity], repo=repo)
        latencies.append((time.perf_counter() - started) * 1000)
    started = time.perf_counter()
    batch = online_features(config, picks, repo=repo)
    batch_ms = (time.perf_counter() - started) * 1000

    feature_columns = [c for c in frame.columns if c.startswith(("f", "s")) and c[1:].isdigit()]
    return {
        "benchmark": "features",
        "store": "embedded (duckdb parts offline, sqlite online, sqlite SQL registry)",
        "rows_in": rows,
        "rows_out": len(frame),
        "features": len(feature_columns),
        "entities": entities,
        "feature_rows": feature_rows,
        "label_rows": len(outcomes),
        "training_set_s": round(training_set_s, 3),
        "training_set_first_call_1d_s": round(first_call_s, 3),
        "training_set_rss_mb": round(rss.peak_mb, 1),
        "training_set_rss_delta_mb": round(rss.peak_mb - rss.start_mb, 1),
        "feature_null_rate": round(float(frame[feature_columns].isna().mean().mean()), 4),
        "online_lookups": lookups,
        "online_p50_ms": round(float(np.percentile(latencies, 50)), 3),
        "online_p99_ms": round(float(np.percentile(latencies, 99)), 3),
        "online_batch_ms": round(batch_ms, 1),
        "online_batch_rows": len(batch),
        "apply_s": round(apply_s, 3),
        "feature_push_s": round(features_s, 3),
        "label_sink_s": round(label_sink_s, 3),
        "label_sink_rows_per_s": round(len(outcomes) / label_sink_s),
        "materialize_s": round(materialize_s, 3),
        "cpu_count": os.cpu_count(),
    }


def _offline() -> Any:
    from feast.data_source import PushMode

    return PushMode.OFFLINE


@click.command()
@report_options
@click.option("--rows", default=100_000, show_default=True, help="Labelled predictions.")
@click.option("--features", "n_features", default=20, show_default=True, help="Feature count.")
@click.option("--entities", default=10_000, show_default=True, help="Distinct entities.")
@click.option("--lookups", default=1_000, show_default=True, help="Online single-entity lookups.")
@click.option("--seed", default=0, show_default=True)
def main(
    as_json: bool, out: Path | None, rows: int, n_features: int, entities: int, lookups: int,
    seed: int,
) -> None:  # fmt: skip
    """Feast training-set retrieval time and peak RSS; online lookup p50/p99."""
    if n_features < 2:
        raise click.BadParameter("needs at least 2 features", param_hint="--features")
    result = run(rows, n_features, entities, lookups, seed)
    emit(result, as_json, out)
