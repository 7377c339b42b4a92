"""Alert routing: drift alerts from the ``drift-alerts`` topic to where people are.

:class:`AlertRouter` runs one delivery loop per configured sink (``alerts.sinks``), each in its
own thread and consumer group, committing after delivery; :class:`SinkDelivery` is the plain
logic of one sink (filter, de-duplicate by ``alert_id``, POST with retries and backoff), testable
without a broker; :func:`webhook_body` renders the payloads (generic JSON, Slack-compatible).
"""

from driftline.alerts.delivery import Attempt, DeliveryOutcome, SinkDelivery, WebhookPost
from driftline.alerts.payload import slack_message, webhook_body
from driftline.alerts.router import AlertRouter
from driftline.alerts.seen_ids import SeenIds
from driftline.alerts.stats import RoutingCollector, RoutingStats

__all__ = [
    "AlertRouter",
    "Attempt",
    "DeliveryOutcome",
    "RoutingCollector",
    "RoutingStats",
    "SeenIds",
    "SinkDelivery",
    "WebhookPost",
    "slack_message",
    "webhook_body",
]
