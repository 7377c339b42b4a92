"""A task monitor's state stays within its budget whatever its slices meet; configs whose window
is over it are warned of at start, with the file and line."""

from __future__ import annotations

import pickle
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from driftline.cli.main import cli
from driftline.config import parse_config
from streams.outcome import Outcome
from streams.ranking import GroupRankingMetric
from streams.scope_monitor import ScopeMonitor
from streams.state_budget import OTHER, _label, _scope_bytes, slice_cap
from streams.task_monitor import TaskMonitor

TASKS = {
    "binary": "{type: binary}",
    "regression": "{type: regression}",
    "multiclass": "{type: multiclass, classes: [a, b, c]}",
    "ranking": "{type: ranking}",
    "thresholds": "{type: binary, thresholds: [{metric: roc_auc, op: '<', value: 0.6}]}",
}


@pytest.mark.parametrize("kind", sorted(TASKS))
@pytest.mark.parametrize("window", [300, 2000, 6000])
def test_the_estimate_bounds_a_full_scope(kind: str, window: int) -> None:
    """The measured estimate is at least the pickled size of a scope fed 3 windows of labels."""
    task = parse_config(f"model: m\ntasks:\n  t: {TASKS[kind]}\n").tasks["t"]
    task = task.model_copy(update={"window": window})
    scope = ScopeMonitor(task, 0)
    rng = random.Random(7)
    for i in range(3 * window):
        y_true, y_pred, group, probs = _label(task, rng, i)
        scope.observe_label(y_true, y_pred, group, float(i), probs)
    assert len(pickle.dumps(scope, protocol=5)) <= _scope_bytes(task, estimate=False)


def _labelled(n: int, value: str, rng: random.Random) -> Outcome:
    y = rng.random()
    return Outcome(
        "labelled", "m", "1", "churn", f"p{n}", float(n), ("labels", 0, n, 0, 0),
        y_pred=y, y_true=int(rng.random() < y), segments={"country": value},
    )  # fmt: skip


def test_a_slice_with_many_values_stays_within_the_budget() -> None:
    config = parse_config("model: m\ntasks:\n  churn: {type: binary, slices: [country]}\n")
    cap = slice_cap(config, "churn")
    monitor, rng = TaskMonitor(config, "m", "churn"), random.Random(1)
    for n in range(60_000):  # 300 countries, every scope's window full
        monitor.apply(_labelled(n, f"c{n % 300}", rng))
    assert len(monitor.dump()) < config.monitor.task_state_bytes
    own = [key for key in monitor.scopes if key and key[0][1] != OTHER]
    assert [key[0][1] for key in own] == [f"c{i}" for i in range(cap)]  # first seen, first served
    assert monitor.scopes[(("country", OTHER),)].labels == 60_000 - 200 * cap
    assert monitor.overflow == {"country": 60_000 - 200 * cap}


def test_the_cap_holds_after_a_restore() -> None:
    config = parse_config("model: m\ntasks:\n  churn: {type: binary, slices: [country]}\n")
    cap = slice_cap(config, "churn")
    monitor, rng = TaskMonitor(config, "m", "churn"), random.Random(2)
    for n in range(cap):
        monitor.apply(_labelled(n, f"c{n}", rng))
    restored = TaskMonitor.load(config, monitor.dump())
    restored.apply(_labelled(cap, "new", rng))
    assert (("country", "new"),) not in restored.scopes
    assert restored.scopes[(("country", OTHER),)].labels == 1
    assert restored.overflow == {"country": 1}


def test_a_larger_task_state_budget_makes_room_for_more_values() -> None:
    """``monitor.task_state_bytes`` trades checkpoint time for slice values: 5 MiB gives the
    default 100 values a scope each at the default window (900 kB: 13), and the state of 100
    full scopes stays within it."""
    text = "model: m\ntasks:\n  churn: {type: binary, slices: [country]}\n"
    small = parse_config(text)
    large = parse_config(text + "monitor: {task_state_bytes: 5242880, snapshot_interval: 0}\n")
    assert slice_cap(small, "churn") < 20 and slice_cap(large, "churn") == 100
    monitor, rng = TaskMonitor(large, "m", "churn"), random.Random(2)
    for n in range(2000 * 100):
        monitor.apply(_labelled(n, f"c{n % 100}", rng))
    assert len(monitor.scopes) == 101 and monitor.overflow == {}
    assert len(monitor.dump()) < large.monitor.task_state_bytes


def test_a_lower_max_slice_values_wins() -> None:
    text = "model: m\ntasks:\n  churn: {type: binary, slices: [country], max_slice_values: 2}\n"
    assert slice_cap(parse_config(text), "churn") == 2


def test_a_ranking_task_keeps_a_bounded_state() -> None:
    """Before: every query group stayed in the cumulative NDCG, so a ranking task's state grew
    without bound (1 MB after 20 000 labels) and the worker stopped at the record limit."""
    bounded, exact = GroupRankingMetric("ndcg", 10, open_items=500), []
    rng = random.Random(3)
    for g in range(5_000):
        items = [(rng.random(), rng.randrange(4)) for _ in range(10)]
        for score, relevance in items:
            bounded.update(f"q{g}", score, relevance)
        single = GroupRankingMetric("ndcg", 10)
        for score, relevance in items:
            single.update("q", score, relevance)
        exact.append(single.get())
    assert len(bounded._groups) <= 51
    assert bounded.get() == pytest.approx(sum(exact) / len(exact), rel=1e-9)


def test_validate_and_monitor_warn_of_a_window_over_the_budget(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Not refused: a state over the budget is stored in parts (:mod:`streams.split_values`);
    the warning says what it costs and which window stays within."""
    from streams.cli import _warn_of_state_budget

    path = tmp_path / "driftline.yaml"
    path.write_text("model: m\ntasks:\n  churn:\n    type: binary\n    window: 90000\n")
    result = CliRunner().invoke(cli, ["config", "validate", str(path)])
    assert result.exit_code == 0, result.output
    want = f"{path}:5: tasks.churn.window: warning: a window of 90000 labels"
    assert want in result.output and "A window of at most 45000 stays within" in result.output
    _warn_of_state_budget(parse_config(path.read_text()), path)
    assert want in caplog.text


def test_validate_warns_when_a_slice_is_capped(tmp_path: Path) -> None:
    path = tmp_path / "driftline.yaml"
    path.write_text("model: m\ntasks:\n  churn:\n    type: binary\n    slices: [country]\n")
    result = CliRunner().invoke(cli, ["config", "validate", str(path)])
    assert result.exit_code == 0, result.output
    assert f"{path}:5: tasks.churn.slices: warning: with a window of 2000 labels" in result.output


def test_metrics_count_the_outcomes_sent_to_other() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from streams.stages import JoinStage, MonitorStage
    from streams.web import MonitorCollector

    text = "model: m\ntasks:\n  churn: {type: binary, slices: [country], max_slice_values: 2}\n"
    config = parse_config(text)
    stage = MonitorStage(config)
    monitor, rng = stage.monitor_for("m", "churn"), random.Random(4)
    for n in range(10):
        monitor.apply(_labelled(n, f"c{n % 5}", rng))
    registry = CollectorRegistry()
    registry.register(MonitorCollector(JoinStage(config, 1), stage))
    page = generate_latest(registry).decode()
    line = (
        f'driftline_slice_overflow_total{{model="m",model_version="{monitor.model_version}",'
        'slice="country",task="churn"} 6.0'
    )
    assert line in page
    assert 'slice="country=(other)"' in page


def test_the_cap_is_the_same_in_another_process() -> None:
    """Workers of one deployment must agree on which values get a scope (a takeover must give
    the same scopes): the measured cap does not depend on the process (hash seeds, caches)."""
    import os
    import subprocess
    import sys

    code = (
        "from driftline.config import parse_config\n"
        "from streams.state_budget import slice_cap\n"
        "c = parse_config('model: m\\ntasks:\\n  t: {type: regression, slices: [a, b]}\\n')\n"
        "print(slice_cap(c, 't'))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    config = parse_config("model: m\ntasks:\n  t: {type: regression, slices: [a, b]}\n")
    assert out.stdout.strip() == str(slice_cap(config, "t")), out.stderr


def test_a_real_value_spelled_other_shares_the_other_scope() -> None:
    text = "model: m\ntasks:\n  churn: {type: binary, slices: [country], max_slice_values: 1}\n"
    config = parse_config(text)
    monitor, rng = TaskMonitor(config, "m", "churn"), random.Random(6)
    for n, value in enumerate([OTHER, "c0", "c1"]):
        monitor.apply(_labelled(n, value, rng))
    assert sorted(key[0][1] for key in monitor.scopes if key) == [OTHER, "c0"]
    restored = TaskMonitor.load(config, monitor.dump())
    restored.apply(_labelled(3, "c2", rng))  # the count after a restore: still c0 alone
    assert sorted(key[0][1] for key in restored.scopes if key) == [OTHER, "c0"]
