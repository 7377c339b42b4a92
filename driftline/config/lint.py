"""Warnings about a valid config that will not do what its author likely meant.

``driftline config validate`` prints them (the config still loads): a task nothing watches for
drift, alert severities that can never request a retrain, and monitor ports that outgoing
connections may take while a worker restarts.

>>> from driftline.config.loader import parse_config
>>> text = "model: m\\ntasks:\\n  churn:\\n    type: binary\\n    detectors: []\\n"
>>> for line in config_warnings(parse_config(text), text, "d.yaml"):
...     print(line)
d.yaml:5: tasks.churn.detectors: warning: no detector watches task 'churn' for drift \
(`detectors: []` opts out; without the key it gets ADWIN on its error stream)
"""

from __future__ import annotations

from collections.abc import Callable

from driftline.config.loader import key_lines, nearest_line
from driftline.config.models import DriftlineConfig

__all__ = ["config_warnings"]


def config_warnings(
    config: DriftlineConfig, text: str | None = None, source: str = "<config>"
) -> list[str]:
    """``SOURCE:LINE: field: warning: message`` for each questionable setting of ``config``.

    ``text`` is the YAML the config came from (for line numbers; without it every line is 1).
    """
    lines = key_lines(text) if text is not None else {}
    out: list[str] = []

    def warn(loc: tuple[str | int, ...], message: str) -> None:
        field = ".".join(str(part) for part in loc)
        out.append(f"{source}:{nearest_line(loc, lines)}: {field}: warning: {message}")

    for name, task in config.tasks.items():
        base: tuple[str | int, ...] = ("tasks", name)
        if not task.detectors:
            rules = f" ({len(task.thresholds)} threshold rule(s) only)" if task.thresholds else ""
            warn(
                (*base, "detectors"),
                f"no detector watches task {name!r} for drift{rules} (`detectors: []` opts out; "
                "without the key it gets ADWIN on its error stream)",
            )
        retrain = task.retrain.on_severity
        if not retrain:
            continue  # alert-only on purpose
        rules_at = [
            ((*base, "detectors", i), det.severity or "warning", f"{det.kind}/{det.signal}")
            for i, det in enumerate(task.detectors)
        ] + [
            (
                (*base, "thresholds", i),
                rule.severity,
                f"threshold {rule.metric}{rule.op}{rule.value:g}",
            )
            for i, rule in enumerate(task.thresholds)
        ]
        for loc, severity, what in rules_at:
            if severity not in retrain:
                warn(
                    (*loc, "severity"),
                    f"{what} alerts with severity {severity!r}, which never requests a retrain "
                    f"(retrain.on_severity: {list(retrain)})",
                )
        if rules_at and all(severity not in retrain for _, severity, _ in rules_at):
            warn(
                (*base, "retrain", "on_severity"),
                f"no detector or rule of task {name!r} has a severity in {list(retrain)}: "
                "it can never request a retrain",
            )
    _ports(config, warn)
    return out


def _ports(config: DriftlineConfig, warn: Callable[[tuple[str | int, ...], str], None]) -> None:
    """The workers' ``/metrics`` ports inside this machine's ephemeral range: any outgoing
    connection may take one while its worker restarts (the worker then stops at start)."""
    from driftline.broker.network import ephemeral_ports

    mon, ephemeral = config.monitor, ephemeral_ports()
    last = mon.web_port + mon.workers - 1
    if mon.web_port < ephemeral.stop and last >= ephemeral.start:
        ports = f"{mon.web_port}" if last == mon.web_port else f"{mon.web_port}-{last}"
        warn(
            ("monitor", "web_port"),
            f"port(s) {ports} lie in this machine's ephemeral range {ephemeral.start}-"
            f"{ephemeral.stop - 1}, where outgoing connections take their local ports: one may be "
            "taken while its worker restarts (choose ports below the range)",
        )
