"""Alert routing on a real broker with local HTTP receivers.

* The router delivers each alert once per sink (a duplicate record is dropped, also after a
  restart), a receiver that fails three times then succeeds gets every alert, and a dead one
  ends in dead-letters with the reason (and no token in it).
* A dead receiver does not slow the monitor: while the router of ``driftline monitor`` waits on
  a receiver that never answers, the monitor applies a second batch as fast as ever, and its
  ``/metrics`` shows the failing attempts.
"""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

from driftline.events import decode, encode
from driftline.reader import EventReader
from tests.webhook_receiver import WebhookReceiver

SECRET = "xoxb-s3cr3t"
SINKS = """\
alerts:
  sinks:
    - {name: ops, url_env: PP_OPS_URL}
    - {name: chat, url_env: PP_CHAT_URL, format: slack, retries: 5, backoff: 0.05}
    - {name: gone, url_env: PP_GONE_URL, retries: 2, backoff: 0.05, timeout: 1}
"""


def _alert(i: int, task: str = "churn") -> Any:
    return decode(
        {
            "schema": "driftline.alert/1", "alert_id": f"alert-{i}", "model": "shop",
            "model_version": "1", "task": task, "detector": "adwin/error", "signal": "error",
            "severity": "critical", "metric": "error_rate", "value": 0.4, "baseline": 0.1,
            "config_hash": "h", "event_time": "2026-11-23T12:00:00Z",
            "evidence": {"start_count": 1, "end_count": 2, "start_time": "2026-11-23T11:59:00Z",
                         "end_time": "2026-11-23T12:00:00Z"},
        }
    )  # fmt: skip


def _ids(receiver: WebhookReceiver) -> list[str]:
    return sorted(r["headers"]["Idempotency-Key"] for r in receiver.delivered())


def test_each_alert_once_flaky_receiver_gets_it_dead_one_dead_letters(
    people_stack: Any, monkeypatch: Any
) -> None:
    from driftline.alerts import AlertRouter

    stack = people_stack(SINKS)
    with WebhookReceiver() as ops, WebhookReceiver(fail_first=3) as chat:
        monkeypatch.setenv("PP_OPS_URL", ops.url())
        monkeypatch.setenv("PP_CHAT_URL", chat.url())
        monkeypatch.setenv("PP_GONE_URL", f"http://127.0.0.1:1/hook?token={SECRET}")
        for i in (1, 2, 1, 3):  # alert-1 twice: the monitor emits a repeat after a restart
            stack.send("drift_alerts", "shop/churn", encode(_alert(i)))
        stack.producer.flush(10)
        router = AlertRouter(stack.config)
        router.start()
        try:
            ops.wait_for(3)
            chat.wait_for(3)
            stack.wait("the dead sink gives up on all four", lambda: _failed(router, "gone") == 4, 60)  # fmt: skip
            time.sleep(1.0)  # a duplicate delivered late would show now
        finally:
            router.stop()
        assert _ids(ops) == _ids(chat) == ["alert-1", "alert-2", "alert-3"]
        assert all(chat.tries[f"alert-{i}"] == 4 for i in (1, 2, 3))  # 3 failures, then 200
        assert chat.delivered()[0]["body"]["text"].startswith(":rotating_light: CRITICAL drift")
        outcomes = router.stats.snapshot()
        assert outcomes["ops"]["outcomes"] == {"delivered": 3, "duplicate": 1}
        assert outcomes["chat"]["outcomes"] == {"delivered": 3, "duplicate": 1}

        reader = EventReader(stack.config, [stack.config.topics.dead_letters])
        letters = [item.event for item in reader.read(timeout=20, idle=3) if item.event]
        assert sorted(json.loads(d.payload)["alert_id"] for d in letters) == ["alert-1", "alert-1", "alert-2", "alert-3"]  # fmt: skip
        assert {d.stage for d in letters} == {"alert-router/gone"}
        assert all("gave up after 3 tries: connection failed" in d.reason for d in letters)
        assert not any(SECRET in d.reason or "127.0.0.1:1" in d.reason for d in letters)

        # a restart: nothing is delivered again, not even a repeat of a delivered alert
        stack.send("drift_alerts", "shop/churn", encode(_alert(2)))
        stack.send("drift_alerts", "shop/churn", encode(_alert(4)))
        stack.producer.flush(10)
        again = AlertRouter(stack.config)
        again.start()
        try:
            ops.wait_for(4)
            time.sleep(1.5)
        finally:
            again.stop()
        assert _ids(ops) == ["alert-1", "alert-2", "alert-3", "alert-4"]
        assert again.stats.snapshot()["ops"]["outcomes"] == {"delivered": 1, "duplicate": 1}


def _failed(router: Any, sink: str) -> int:
    return int(router.stats.snapshot().get(sink, {}).get("outcomes", {}).get("failed", 0))


def test_a_dead_receiver_does_not_slow_the_monitor(people_stack: Any, monkeypatch: Any) -> None:
    with WebhookReceiver(hang=True) as dead:
        monkeypatch.setenv("PP_DEAD_URL", dead.url())
        stack = people_stack(
            "alerts:\n  sinks:\n"
            "    - {name: dead, url_env: PP_DEAD_URL, timeout: 20, retries: 5, backoff: 1}\n",
            dashboard_with_monitor=True,
        )
        stack.env["PP_DEAD_URL"] = dead.url()
        stack.start_monitor()
        stack.wait("the monitor serves /metrics", lambda: bool(stack.metrics()), 90)
        stack.drift_stream(n=2000, drift_at=1000, rate=1000)  # churn drifts: one alert
        stack.wait("the monitor applies the first batch", lambda: stack.labels_applied() == 6000)
        stack.wait("the router is stuck on the dead receiver", lambda: dead.connections >= 1, 30)

        # The dead sink now holds its alert for 6 tries × 20 s. The monitor must not notice.
        took = time.monotonic()
        stack.drift_stream(n=2000, start=2000, drift_at=0, seed=6)
        stack.wait("the monitor applies the second batch", lambda: stack.labels_applied() == 12000, 60)  # fmt: skip
        took = time.monotonic() - took
        assert took < 15.0, f"the monitor took {took:.1f} s for 2 000 events"
        text = stack.metrics()
        assert 'driftline_alert_deliveries_total{outcome="delivered",sink="dead"} 0.0' in text
        assert 'driftline_alert_deliveries_total{outcome="failed",sink="dead"} 0.0' in text
        assert dead.connections >= 1 and not dead.requests  # still waiting on it
        assert stack.metric(r'driftline_alerts_total\{.*task="churn"') >= 1
        assert "process_cpu_seconds_total" in text and "python_info" in text
        assert "driftline_alert_latency_seconds_count " in text
        # dashboard.with_monitor: the monitor's process serves the dashboard too
        url = f"http://127.0.0.1:{stack.dashboard_port}/api/overview"
        overview = json.loads(urllib.request.urlopen(url, timeout=5).read())
        assert {t["task"] for t in overview["tasks"]} == {"churn", "fraud", "spend"}
