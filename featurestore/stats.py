"""What is stored: rows per view and per task, time range, null rates (``driftline features stats``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from featurestore.layout import EVENT_TIMESTAMP
from featurestore.repo import FeatureRepo
from featurestore.retrieval import read_view

__all__ = ["ViewStats", "store_stats"]


@dataclass(frozen=True)
class ViewStats:
    """Offline rows of one view."""

    view: str
    kind: str
    task: str | None
    rows: int
    entities: int
    first: datetime | None
    last: datetime | None
    null_rates: dict[str, float] = field(default_factory=dict)


def store_stats(repo: FeatureRepo) -> list[ViewStats]:
    """One :class:`ViewStats` per view, in layout order (reads every offline row)."""
    result = []
    for view in repo.layout.views:
        frame = read_view(repo, view)
        rows = len(frame)
        nulls = {
            name: float(frame[name].isna().mean()) if rows else 0.0 for name in view.field_names
        }
        times = frame[EVENT_TIMESTAMP]
        result.append(
            ViewStats(
                view=view.name,
                kind=view.kind,
                task=view.task,
                rows=rows,
                entities=int(frame[view.entity].nunique()),
                first=times.min().to_pydatetime() if rows else None,
                last=times.max().to_pydatetime() if rows else None,
                null_rates=nulls,
            )
        )
    return result
