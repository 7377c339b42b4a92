"""A sink's loop that meets a Kafka error starts again, keeping what it delivered."""

from __future__ import annotations

import threading

import pytest

from driftline.alerts import router as router_module
from driftline.alerts.delivery import SinkDelivery
from driftline.alerts.router import AlertRouter
from driftline.config import parse_config

CONFIG = """\
model: m
alerts: {sinks: [{name: ops, url_env: OPS_URL}]}
tasks: {churn: {type: binary}}
"""


class FlakyKafka(AlertRouter):
    """The first priming and the first loop fail as a broker that is not ready would."""

    def __init__(self) -> None:
        super().__init__(parse_config(CONFIG))
        self.primings = 0
        self.deliveries: list[SinkDelivery] = []
        self.done = threading.Event()

    def _handled_ids(self, group: str) -> list[str]:
        self.primings += 1
        if self.primings == 1:
            raise RuntimeError("NOT_COORDINATOR")
        return ["a-1"]

    def _loop(self, delivery: SinkDelivery, group: str) -> None:
        self.deliveries.append(delivery)
        if len(self.deliveries) == 1:
            raise RuntimeError("commit failed: rebalance in progress")
        self.done.set()


def test_the_loop_starts_again_with_the_same_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(router_module, "RESTART_WAIT", 0.01)
    router = FlakyKafka()
    router._run_sink(router.config.alerts.sinks[0])
    assert router.done.is_set() and router.primings == 2
    first, second = router.deliveries
    assert first is second and "a-1" in first._seen  # primed once, kept across the restart
