"""What a webhook receives: the alert event itself (``json``) or a Slack-compatible message."""

from __future__ import annotations

import json

from driftline.events import Alert, encode

__all__ = ["slack_message", "webhook_body"]

_ICON = {"info": ":information_source:", "warning": ":warning:", "critical": ":rotating_light:"}


def webhook_body(alert: Alert, format: str, dashboard_url: str | None = None) -> bytes:
    """The POST body for ``format`` (``json``: the ``driftline.alert/1`` event; ``slack``).

    >>> from driftline.events import decode
    >>> alert = decode(_EXAMPLE)
    >>> json.loads(webhook_body(alert, "json"))["alert_id"]
    'a-1'
    >>> sorted(json.loads(webhook_body(alert, "slack")))
    ['blocks', 'text']
    """
    if format == "json":
        return encode(alert)
    if format == "slack":
        return json.dumps(slack_message(alert, dashboard_url)).encode()
    raise ValueError(f"unknown webhook format {format!r}; use json or slack")


def slack_message(alert: Alert, dashboard_url: str | None = None) -> dict[str, object]:
    """A Slack incoming-webhook message: ``text`` (the notification line) and ``blocks``.

    >>> from driftline.events import decode
    >>> slack_message(decode(_EXAMPLE))["text"]
    ':warning: WARNING drift on shop/churn v3: adwin roc_auc=0.61 (baseline 0.9)'
    """
    slice_ = ", ".join(f"{k}={v}" for k, v in alert.slice.items())
    baseline = "n/a" if alert.baseline is None else f"{alert.baseline:.4g}"
    text = (
        f"{_ICON[alert.severity]} {alert.severity.upper()} drift on {alert.model}/{alert.task}"
        f"{f' [{slice_}]' if slice_ else ''} v{alert.model_version}: {alert.detector} "
        f"{alert.metric}={alert.value:.4g} (baseline {baseline})"
    )
    evidence = alert.evidence
    fields = [
        ("Model", f"{alert.model} v{alert.model_version}"),
        ("Task", alert.task + (f" [{slice_}]" if slice_ else "")),
        ("Detector", f"{alert.detector} on the {alert.signal} signal"),
        ("Value", f"{alert.metric} = {alert.value:.4g} (baseline {baseline})"),
        ("Evidence", f"labels {evidence.start_count}–{evidence.end_count}"),
        ("Event time", f"{alert.event_time:%Y-%m-%d %H:%M:%S} UTC"),
    ]
    blocks: list[dict[str, object]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{text}*"}},
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": f"*{name}*\n{value}"} for name, value in fields],
        },
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"alert_id `{alert.alert_id}`"}],
        },
    ]
    if dashboard_url:
        link = f"{dashboard_url.rstrip('/')}/#task-{alert.task}"
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": f"<{link}|Open the dashboard>"}}
        )
    return {"text": text, "blocks": blocks}


_EXAMPLE = (
    '{"schema": "driftline.alert/1", "alert_id": "a-1", "model": "shop", "model_version": "3",'
    ' "task": "churn", "detector": "adwin", "signal": "error", "severity": "warning",'
    ' "metric": "roc_auc", "value": 0.61, "baseline": 0.9, "config_hash": "h",'
    ' "evidence": {"start_count": 100, "end_count": 400, "start_time": "2026-11-23T12:00:00Z",'
    ' "end_time": "2026-11-23T12:05:00Z"}, "event_time": "2026-11-23T12:05:00Z"}'
)
