"""One sink's delivery against real local HTTP receivers: retries, backoff, de-duplication,
permanent failures, filters, payloads, and no URL (token) in any error."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from driftline.alerts import DeliveryOutcome, RoutingStats, SinkDelivery, WebhookPost
from driftline.alerts.payload import _EXAMPLE
from driftline.config.models import WebhookSinkConfig
from driftline.events import decode
from tests.webhook_receiver import WebhookReceiver

SECRET = "T0KEN-s3cr3t"


def alert(**changes: Any) -> Any:
    data = json.loads(_EXAMPLE)
    data.update(changes)
    return decode(data)


def sink(**settings: Any) -> WebhookSinkConfig:
    return WebhookSinkConfig(
        **{"name": "ops", "url_env": "DRIFTLINE_TEST_HOOK", "backoff": 0.01, **settings}
    )


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> Any:
    def point(receiver: WebhookReceiver | None, url: str | None = None) -> None:
        monkeypatch.setenv("DRIFTLINE_TEST_HOOK", url or receiver.url(f"/hook?token={SECRET}"))  # type: ignore[union-attr]

    return point


def test_receiver_failing_three_times_then_succeeding_gets_the_alert(hook: Any) -> None:
    waits: list[float] = []
    with WebhookReceiver(fail_first=3) as receiver:
        hook(receiver)
        delivery = SinkDelivery(
            sink(retries=5, backoff=0.01), wait=lambda s: waits.append(s) or False
        )
        assert delivery.deliver(alert()) == (DeliveryOutcome.DELIVERED, "")
        assert [r["status"] for r in receiver.requests] == [503, 503, 503, 200]
        assert waits == [0.01, 0.02, 0.04]
        body = receiver.delivered()[0]
        assert body["body"]["alert_id"] == "a-1" and body["body"]["schema"] == "driftline.alert/1"
        assert body["headers"]["Idempotency-Key"] == "a-1"
        assert body["path"] == f"/hook?token={SECRET}"
    snap = delivery.stats.snapshot()["ops"]
    assert snap["outcomes"] == {"delivered": 1} and snap["attempts"] == {"ok": 1, "error": 3}


def test_each_alert_is_delivered_once(hook: Any) -> None:
    with WebhookReceiver() as receiver:
        hook(receiver)
        delivery = SinkDelivery(sink())
        outcomes = [delivery.deliver(alert(alert_id=i))[0] for i in ("a", "b", "a", "b", "a")]
        assert [r["body"]["alert_id"] for r in receiver.requests] == ["a", "b"]
    assert outcomes.count(DeliveryOutcome.DUPLICATE) == 3
    delivery.remember_handled("c")  # handled before a restart
    assert delivery.deliver(alert(alert_id="c"))[0] is DeliveryOutcome.DUPLICATE


def test_gives_up_after_the_retries_and_never_shows_the_url(hook: Any) -> None:
    with WebhookReceiver(fail_first=100) as receiver:
        hook(receiver)
        outcome, reason = SinkDelivery(sink(retries=2)).deliver(alert())
        assert len(receiver.requests) == 3
    assert outcome is DeliveryOutcome.FAILED
    assert reason == "alert sink 'ops' gave up after 3 tries: HTTP 503"
    hook(None, f"http://127.0.0.1:1/hook?token={SECRET}")  # nothing listens on port 1
    outcome, reason = SinkDelivery(sink(retries=1)).deliver(alert())
    assert outcome is DeliveryOutcome.FAILED and "connection failed" in reason
    assert SECRET not in reason and "127.0.0.1:1" not in reason


def test_a_client_error_is_not_retried(hook: Any) -> None:
    with WebhookReceiver(status=400) as receiver:
        hook(receiver)
        outcome, reason = SinkDelivery(sink(retries=5)).deliver(alert())
        assert len(receiver.requests) == 1
    assert outcome is DeliveryOutcome.FAILED and reason.endswith("after 1 try: HTTP 400")


def test_a_hanging_receiver_times_out(hook: Any) -> None:
    with WebhookReceiver(hang=True) as receiver:
        hook(receiver)
        started = time.monotonic()
        outcome, reason = SinkDelivery(sink(retries=1, timeout=0.3)).deliver(alert())
        assert time.monotonic() - started < 3.0
    assert outcome is DeliveryOutcome.FAILED and "no answer within 0.3 s" in reason


def test_unset_url_variable_is_a_failure_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DRIFTLINE_TEST_HOOK", raising=False)
    attempt = WebhookPost("DRIFTLINE_TEST_HOOK", 1.0)(b"{}", {})
    assert (
        not attempt.ok and not attempt.retry and "$DRIFTLINE_TEST_HOOK is not set" in attempt.error
    )


def test_retry_after_is_honoured_up_to_max_backoff() -> None:
    from driftline.alerts import Attempt

    answers = [Attempt(False, True, "HTTP 429", retry_after=7.0), Attempt(True)]
    waits: list[float] = []
    delivery = SinkDelivery(
        sink(backoff=0.5, max_backoff=5.0),
        lambda body, headers: answers.pop(0),
        wait=lambda s: waits.append(s) or False,
    )
    assert delivery.deliver(alert())[0] is DeliveryOutcome.DELIVERED
    assert waits == [5.0]


def test_stopping_mid_retry_leaves_the_alert_undelivered() -> None:
    from driftline.alerts import Attempt

    delivery = SinkDelivery(
        sink(), lambda body, headers: Attempt(False, True, "HTTP 503"), wait=lambda s: True
    )
    assert delivery.deliver(alert())[0] is DeliveryOutcome.STOPPED
    assert delivery.stats.snapshot()["ops"]["outcomes"] == {}


def test_filters_by_severity_and_task() -> None:
    from driftline.alerts import Attempt

    delivery = SinkDelivery(
        sink(min_severity="critical", tasks=["churn"]), lambda body, headers: Attempt(True)
    )
    assert delivery.deliver(alert(severity="warning"))[0] is DeliveryOutcome.FILTERED
    assert delivery.deliver(alert(severity="critical", task="spend"))[0] is DeliveryOutcome.FILTERED
    assert delivery.deliver(alert(severity="critical"))[0] is DeliveryOutcome.DELIVERED


def test_slack_payload_with_dashboard_link(hook: Any) -> None:
    with WebhookReceiver() as receiver:
        hook(receiver)
        SinkDelivery(sink(format="slack"), dashboard_url="http://dash:8050").deliver(alert())
        body = receiver.requests[0]["body"]
    assert body["text"].startswith(":warning: WARNING drift on shop/churn v3")
    assert "<http://dash:8050/#task-churn|Open the dashboard>" in json.dumps(body["blocks"])


def test_routing_stats_reach_prometheus() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from driftline.alerts import RoutingCollector

    stats = RoutingStats()
    stats.delivered("ops", produced_at=time.time() - 0.3)
    stats.attempt("ops", ok=True)
    registry = CollectorRegistry()
    registry.register(RoutingCollector(stats))
    text = generate_latest(registry).decode()
    assert 'driftline_alert_deliveries_total{outcome="delivered",sink="ops"} 1.0' in text
    assert 'driftline_alert_delivery_seconds_bucket{le="0.5",sink="ops"} 1.0' in text
    assert 'driftline_alert_delivery_seconds_bucket{le="0.25",sink="ops"} 0.0' in text
