"""``driftline bench NAME``: one benchmark per module in ``bench/``, each a click command ``main``."""

from __future__ import annotations

import functools
import importlib
import importlib.util
from typing import Any

import click

BENCHMARKS: dict[str, tuple[str, str]] = {
    "detection": ("bench.detection", "Detection quality: delay, misses, false alarms vs River."),
    "monitor": ("bench.monitor", "Monitor throughput, alert latency and RSS on a real broker."),
    "hotpath": ("bench.hotpath", "Monitor per-event work in-process: events/s per stage."),
    "peers": ("bench.peers", "Hot path rows/s vs a plain River loop on the same rows."),
    "horizon": ("bench.horizon", "One worker holding days of pending predictions: RSS, disk."),
    "restart": ("bench.restart", "Monitor worker restart time after kill -9 (and catch-up)."),
    "features": ("bench.features", "Feast training-set retrieval time/RSS and online p99."),
    "train": ("bench.train", "Multi-task training: Yeast vs single-task baselines, MMoE test."),
    "retrain": ("bench.retrain", "Request-to-update time of the retrainer, by phase."),
}


class BenchGroup(click.Group):
    """Lists the benchmarks whose module exists; imports one only when it runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(n for n, (m, _) in BENCHMARKS.items() if importlib.util.find_spec(m))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.list_commands(ctx):
            return None
        command = importlib.import_module(BENCHMARKS[cmd_name][0]).main
        assert isinstance(command, click.Command)
        return _with_progress(cmd_name, command)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, BENCHMARKS[name][1]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Benchmarks"):
                formatter.write_dl(rows)


def _with_progress(name: str, command: click.Command) -> click.Command:
    """``command`` running inside :func:`bench.progress.running` (a bar on stderr)."""
    from bench.progress import running

    callback = command.callback
    if callback is None or getattr(callback, "_with_progress", False):
        return command

    def run(*args: Any, **kwargs: Any) -> Any:
        with running(name):
            return callback(*args, **kwargs)

    run._with_progress = True  # type: ignore[attr-defined]
    command.callback = functools.update_wrapper(run, callback)
    return command


@click.group(cls=BenchGroup)
def bench() -> None:
    """Run a benchmark: a summary (or one JSON object with ``--json``), and ``--out FILE``."""
