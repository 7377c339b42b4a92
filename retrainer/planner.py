"""What a retrain does: coalesced requests → a plan (tasks, window, holdout, full vs head-only).

Coalescing: requests for one model that wait together (pending while another run is going, or
arriving within ``retrainer.coalesce_window``) become one :class:`PendingRetrain` — the union of
their tasks, the widest of their windows, and every request and alert id — and are trained once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from driftline.config import DriftlineConfig
from driftline.events import RetrainRequest
from retrainer.errors import RequestRejected

__all__ = ["PendingRetrain", "RecordSource", "RetrainPlan", "plan_retrain"]

RecordSource = tuple[str, int, int]
"""Where a request was read: (topic, partition, offset)."""

TrainMode = Literal["full", "head_only"]


@dataclass
class PendingRetrain:
    """Requests for one model that will be answered by one training run.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> def request(rid, tasks, start=None):
    ...     return RetrainRequest.model_validate({"schema": RetrainRequest.SCHEMA,
    ...         "request_id": rid, "model": "shop", "tasks": tasks, "alert_ids": [f"a-{rid}"],
    ...         "window_start": start, "event_time": datetime(2026, 1, 2, tzinfo=UTC)})
    >>> pending = PendingRetrain("shop")
    >>> pending.add(request("r1", ["churn"], datetime(2026, 1, 1, tzinfo=UTC)), ("t", 0, 5))
    >>> pending.add(request("r2", ["spend", "churn"]), ("t", 0, 6))
    >>> pending.tasks, pending.request_ids, pending.alert_ids
    (['churn', 'spend'], ['r1', 'r2'], ['a-r1', 'a-r2'])
    """

    model: str
    requests: list[RetrainRequest] = field(default_factory=list)
    origins: dict[RecordSource, str] = field(default_factory=dict)

    def add(self, request: RetrainRequest, source: RecordSource) -> None:
        """Coalesce one more request (a repeated ``request_id`` only adds its source)."""
        if request.model != self.model:
            raise ValueError(f"request for {request.model!r} cannot join {self.model!r}")
        if request.request_id not in self.request_ids:
            self.requests.append(request)
        self.origins[source] = request.request_id

    @property
    def sources(self) -> list[RecordSource]:
        """Every record these requests were read from (all must be committed once answered)."""
        return list(self.origins)

    def without(self, request_ids: Iterable[str]) -> PendingRetrain:
        """The same sources, minus the requests with these ids (already answered)."""
        drop = set(request_ids)
        kept = [r for r in self.requests if r.request_id not in drop]
        return PendingRetrain(self.model, kept, dict(self.origins))

    def without_sources(self, sources: Iterable[RecordSource]) -> PendingRetrain:
        """Minus these records; a request stays while one of its records does."""
        origins = {s: rid for s, rid in self.origins.items() if s not in set(sources)}
        live = set(origins.values())
        return PendingRetrain(
            self.model, [r for r in self.requests if r.request_id in live], origins
        )

    @property
    def tasks(self) -> list[str]:
        """Union of the requests' tasks, in order of first mention."""
        return list(dict.fromkeys(t for r in self.requests for t in r.tasks))

    @property
    def request_ids(self) -> list[str]:
        """Ids of the coalesced requests, in arrival order."""
        return [r.request_id for r in self.requests]

    @property
    def alert_ids(self) -> list[str]:
        """Every alert id the requests carry, each once."""
        return list(dict.fromkeys(a for r in self.requests for a in r.alert_ids))

    def window(self, default_length: timedelta, now: datetime) -> tuple[datetime, datetime]:
        """Widest window: earliest start, latest end.

        A request without ``window_end`` means "up to now"; without ``window_start``,
        ``default_length`` (``retrainer.window``) before its end.
        """
        if not self.requests:
            raise ValueError("an empty PendingRetrain has no window")
        starts, ends = [], []
        for request in self.requests:
            end = request.window_end or now
            starts.append(request.window_start or end - default_length)
            ends.append(end)
        return min(starts), max(ends)


@dataclass(frozen=True)
class RetrainPlan:
    """Everything a training run needs to know; stored in the manifest (``retrainer.plan``).

    ``tasks`` are all heads of the model (a new version always has every head); ``drifted`` the
    tasks the requests named; ``mode`` is ``head_only`` (trunk and the other heads frozen,
    fine-tuned from ``parent_version``) or ``full``.
    """

    model: str
    tasks: tuple[str, ...]
    drifted: tuple[str, ...]
    window_start: datetime
    window_end: datetime
    holdout_fraction: float
    mode: TrainMode
    parent_version: int | None
    request_ids: tuple[str, ...]
    alert_ids: tuple[str, ...]
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "model": self.model,
            "tasks": list(self.tasks),
            "drifted": list(self.drifted),
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "holdout_fraction": self.holdout_fraction,
            "mode": self.mode,
            "parent_version": self.parent_version,
            "request_ids": list(self.request_ids),
            "alert_ids": list(self.alert_ids),
            "reason": self.reason,
        }


def plan_retrain(
    config: DriftlineConfig,
    pending: PendingRetrain,
    now: datetime,
    champion_version: int | None = None,
    champion_tasks: Sequence[str] | None = None,
) -> RetrainPlan:
    """Turn coalesced requests into a plan.

    Head-only fine-tuning is chosen when ``retrainer.head_only_single_task`` is on, exactly one
    task drifted, and a champion with the same tasks as the config exists to start from.
    Raises :class:`RequestRejected` for a task the config does not know.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> from driftline.config import parse_config
    >>> config = parse_config("model: shop\\ntasks: {churn: {type: binary}, spend: {type: regression}}")
    >>> request = RetrainRequest.model_validate({"schema": RetrainRequest.SCHEMA,
    ...     "request_id": "r1", "model": "shop", "tasks": ["churn"],
    ...     "event_time": datetime(2026, 1, 2, tzinfo=UTC)})
    >>> pending = PendingRetrain("shop", [request], {("t", 0, 0): "r1"})
    >>> now = datetime(2026, 1, 8, tzinfo=UTC)
    >>> plan_retrain(config, pending, now).mode
    'full'
    >>> plan = plan_retrain(config, pending, now, champion_version=3, champion_tasks=["churn", "spend"])
    >>> plan.mode, plan.drifted, plan.window_start.date().isoformat()
    ('head_only', ('churn',), '2026-01-01')
    """
    if not pending.requests:
        raise ValueError("nothing to plan: every request of this run is already answered")
    unknown = [t for t in pending.tasks if t not in config.tasks]
    if unknown:
        raise RequestRejected(
            f"task(s) {unknown} are not in the config of {config.model!r} "
            f"(its tasks: {sorted(config.tasks)})"
        )
    settings = config.retrainer
    tasks = tuple(config.tasks)
    drifted = tuple(t for t in tasks if t in pending.tasks)
    start, end = pending.window(timedelta(seconds=settings.window), now)
    if start >= end:
        raise RequestRejected(f"empty data window: {start.isoformat()} >= {end.isoformat()}")
    same_heads = champion_tasks is not None and list(champion_tasks) == list(tasks)
    head_only = (
        settings.head_only_single_task
        and len(drifted) == 1
        and champion_version is not None
        and same_heads
    )
    reasons = "; ".join(dict.fromkeys(r.reason for r in pending.requests if r.reason))
    return RetrainPlan(
        model=pending.model,
        tasks=tasks,
        drifted=drifted,
        window_start=start,
        window_end=end,
        holdout_fraction=settings.holdout_fraction,
        mode="head_only" if head_only else "full",
        parent_version=champion_version,
        request_ids=tuple(pending.request_ids),
        alert_ids=tuple(pending.alert_ids),
        reason=reasons,
    )
