"""One sink's delivery logic: filter, de-duplicate by ``alert_id``, POST with retries and backoff.

Nothing here reads Kafka: :class:`~driftline.alerts.router.AlertRouter` feeds it alerts and
commits once :meth:`SinkDelivery.deliver` returns. The HTTP call is a plain callable
(:class:`WebhookPost` by default), so tests can count and fail attempts without a server.
"""

from __future__ import annotations

import enum
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from driftline.alerts.payload import webhook_body
from driftline.alerts.seen_ids import SeenIds
from driftline.alerts.stats import RoutingStats
from driftline.config.models import WebhookSinkConfig
from driftline.events import Alert

__all__ = ["Attempt", "DeliveryOutcome", "SinkDelivery", "WebhookPost"]

_SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}
_RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}


@dataclass(frozen=True)
class Attempt:
    """The result of one POST: ``ok``; else whether trying again may help, and why not."""

    ok: bool
    retry: bool = False
    error: str = ""
    retry_after: float | None = None


class DeliveryOutcome(enum.Enum):
    """What became of one alert at one sink."""

    DELIVERED = "delivered"
    DUPLICATE = "duplicate"
    FILTERED = "filtered"
    FAILED = "failed"
    STOPPED = "stopped"


class WebhookPost:
    """POSTs a body to the URL held by the environment variable ``url_env``.

    The URL (and header values from ``headers_env``) are read at each call, so a rotated token
    applies without a restart, and they never appear in errors or logs: an error names the
    status or the connection problem only.

    Parameters
    ----------
    url_env
        Environment variable with the URL.
    timeout
        Seconds one POST may take.
    headers_env
        Header name → environment variable holding its value.
    """

    def __init__(
        self, url_env: str, timeout: float, headers_env: Mapping[str, str] | None = None
    ) -> None:
        self.url_env = url_env
        self.timeout = timeout
        self.headers_env = dict(headers_env or {})

    def __call__(self, body: bytes, headers: Mapping[str, str]) -> Attempt:
        url = os.environ.get(self.url_env)
        if not url:
            return Attempt(False, retry=False, error=f"${self.url_env} is not set")
        extra = {name: os.environ.get(env, "") for name, env in self.headers_env.items()}
        request = urllib.request.Request(
            url, data=body, headers={**headers, **extra}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read(65_536)
            return Attempt(True)
        except urllib.error.HTTPError as exc:
            retry_after = _retry_after(exc.headers.get("Retry-After") if exc.headers else None)
            return Attempt(
                False,
                retry=exc.code in _RETRYABLE_STATUS,
                error=f"HTTP {exc.code}",
                retry_after=retry_after,
            )
        except TimeoutError:
            return Attempt(False, retry=True, error=f"no answer within {self.timeout:g} s")
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, TimeoutError):
                return Attempt(False, retry=True, error=f"no answer within {self.timeout:g} s")
            return Attempt(False, retry=True, error=f"connection failed: {_strip(reason, url)}")
        except (OSError, ValueError) as exc:  # a malformed URL, a reset connection
            return Attempt(False, retry=True, error=f"{type(exc).__name__}: {_strip(exc, url)}")


class SinkDelivery:
    """Delivers alerts to one sink: at most once per ``alert_id``, with retries and backoff.

    Parameters
    ----------
    sink
        The sink's config (filters, format, retries, backoff).
    post
        Sends one body with headers and returns an :class:`Attempt` (default: :class:`WebhookPost`).
    stats
        Where deliveries, failures and attempts are counted.
    remember
        Alert ids remembered for de-duplication.
    dashboard_url
        Linked from Slack messages.
    wait
        ``wait(seconds)`` sleeps between tries and returns ``True`` when the router is stopping
        (then the alert is left undelivered and uncommitted).

    Examples
    --------
    >>> from driftline.events import decode
    >>> from driftline.alerts.payload import _EXAMPLE
    >>> sink = WebhookSinkConfig(name="ops", url_env="OPS_URL", retries=3, backoff=0.0)
    >>> answers = [Attempt(False, True, "HTTP 503"), Attempt(False, True, "HTTP 503"), Attempt(True)]
    >>> delivery = SinkDelivery(sink, lambda body, headers: answers.pop(0), RoutingStats())
    >>> alert = decode(_EXAMPLE)
    >>> delivery.deliver(alert)
    (<DeliveryOutcome.DELIVERED: 'delivered'>, '')
    >>> delivery.deliver(alert)[0]       # the same alert_id again
    <DeliveryOutcome.DUPLICATE: 'duplicate'>
    >>> delivery.stats.snapshot()["ops"]["attempts"]
    {'ok': 1, 'error': 2}
    """

    def __init__(
        self,
        sink: WebhookSinkConfig,
        post: Callable[[bytes, Mapping[str, str]], Attempt] | None = None,
        stats: RoutingStats | None = None,
        remember: int = 100_000,
        dashboard_url: str | None = None,
        wait: Callable[[float], bool] | None = None,
    ) -> None:
        self.sink = sink
        self.post = post or WebhookPost(sink.url_env, sink.timeout, sink.headers_env)
        self.stats = stats or RoutingStats()
        self.remember = remember
        self.dashboard_url = dashboard_url
        self.wait = wait or _sleep
        self._seen = SeenIds(remember)

    def remember_handled(self, alert_id: str) -> None:
        """Treat ``alert_id`` as delivered (handled before a restart): a repeat is dropped."""
        self._seen.add(alert_id)

    def wanted(self, alert: Alert) -> bool:
        """Whether the sink's filters (``min_severity``, ``tasks``) let ``alert`` through."""
        if _SEVERITY_RANK[alert.severity] < _SEVERITY_RANK[self.sink.min_severity]:
            return False
        return not self.sink.tasks or alert.task in self.sink.tasks

    def delays(self) -> list[float]:
        """The waits before each retry: ``backoff`` doubling, at most ``max_backoff``.

        >>> sink = WebhookSinkConfig(name="s", url_env="U", retries=4, backoff=1, max_backoff=5)
        >>> SinkDelivery(sink, lambda b, h: Attempt(True)).delays()
        [1.0, 2.0, 4.0, 5.0]
        """
        sink = self.sink
        return [min(sink.max_backoff, sink.backoff * 2**n) for n in range(sink.retries)]

    def deliver(
        self, alert: Alert, produced_at: float | None = None
    ) -> tuple[DeliveryOutcome, str]:
        """Deliver ``alert``; the outcome, and for ``FAILED`` the reason (the last error).

        ``produced_at`` (Unix seconds the alert reached Kafka) times the delivery.
        """
        name = self.sink.name
        if not self.wanted(alert):
            self.stats.count(name, DeliveryOutcome.FILTERED.value)
            return DeliveryOutcome.FILTERED, ""
        if alert.alert_id in self._seen:
            self.stats.count(name, DeliveryOutcome.DUPLICATE.value)
            return DeliveryOutcome.DUPLICATE, ""
        body = webhook_body(alert, self.sink.format, self.dashboard_url)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "driftline-alert-router",
            "Idempotency-Key": alert.alert_id,
            "X-Driftline-Alert-Id": alert.alert_id,
        }
        delays = self.delays()
        error = ""
        for attempt_no in range(len(delays) + 1):
            attempt = self.post(body, headers)
            self.stats.attempt(name, attempt.ok)
            if attempt.ok:
                self._seen.add(alert.alert_id)
                self.stats.delivered(name, produced_at)
                return DeliveryOutcome.DELIVERED, ""
            error = attempt.error
            if not attempt.retry or attempt_no == len(delays):
                break
            delay = delays[attempt_no]
            if attempt.retry_after is not None:
                delay = min(self.sink.max_backoff, max(delay, attempt.retry_after))
            if self.wait(delay):
                return DeliveryOutcome.STOPPED, error
        tries = "1 try" if attempt_no == 0 else f"{attempt_no + 1} tries"
        reason = f"alert sink {name!r} gave up after {tries}: {error}"
        self.stats.count(name, DeliveryOutcome.FAILED.value)
        return DeliveryOutcome.FAILED, reason


def _sleep(seconds: float) -> bool:
    time.sleep(seconds)
    return False


def _retry_after(value: str | None) -> float | None:
    """Seconds of a ``Retry-After`` header (the HTTP-date form is ignored).

    >>> _retry_after("3"), _retry_after("Wed, 21 Oct 2026 07:28:00 GMT"), _retry_after(None)
    (3.0, None, None)
    """
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _strip(error: object, url: str) -> str:
    """The error's text with the URL (and so any token in it) taken out."""
    text = str(error)
    return text.replace(url, "<url>") if url else text
