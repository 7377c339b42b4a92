"""Production feature values into Feast: ``driftline features push FILE`` and :func:`push_features`.

Rows are validated like events (:class:`~featurestore.validation.FeatureRowValidator`); a bad
row is reported with its line number and dead-lettered (JSONL file under the state dir, and the
dead-letters topic when a Kafka producer is given); its neighbours go on. Each good row goes to
every view it carries a feature of (shared and/or per task), through that view's PushSource. A
feature a row does not carry is stored as null for that row's view and time.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from driftline.config import DriftlineConfig
from featurestore.dead_letters import DeadLetterWriter, KafkaProducerLike
from featurestore.errors import FeatureRowError, FeatureStoreError
from featurestore.frames import view_frame
from featurestore.repo import FeatureRepo
from featurestore.validation import FeatureRowValidator

__all__ = ["PushMode", "PushReport", "RejectedRow", "push_features", "read_feature_file"]

PushMode = Literal["offline", "online", "both"]
"""Where pushed values go: offline store (training), online store (serving), or both."""


@dataclass(frozen=True)
class RejectedRow:
    """A row that was not pushed: where it was and why."""

    line: int
    reason: str


@dataclass
class PushReport:
    """What :func:`push_features` did."""

    pushed: int = 0
    per_view: dict[str, int] = field(default_factory=dict)
    rejected: list[RejectedRow] = field(default_factory=list)
    dead_letter_file: Path | None = None


def dead_letter_path(config: DriftlineConfig) -> Path:
    """The JSONL file that rejected feature rows and outcomes are appended to."""
    return Path(config.state_dir) / "dead-letters" / "featurestore.jsonl"


def read_feature_file(path: Path) -> Iterator[tuple[int, dict[str, Any] | FeatureRowError]]:
    """Yield ``(line, row)`` from a ``.jsonl``/``.json``, ``.csv`` or ``.parquet`` file.

    A line that cannot be parsed yields ``(line, FeatureRowError)``. CSV cells are strings
    (the validator parses them by dtype) and an empty cell is null; Parquet rows count from 1.
    """
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        with path.open(encoding="utf-8") as file:
            for number, text in enumerate(file, start=1):
                if not text.strip():
                    continue
                try:
                    row = json.loads(text, parse_constant=_reject_constant)
                except ValueError as exc:
                    yield number, FeatureRowError(f"not valid JSON: {exc}")
                    continue
                yield number, row
    elif suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as file:
            reader = csv.DictReader(file)
            for row in reader:
                yield reader.line_num, {k: (v if v != "" else None) for k, v in row.items()}
    elif suffix == ".parquet":
        import pyarrow.parquet as pq

        for number, row in enumerate(pq.read_table(path).to_pylist(), start=1):
            yield number, row
    else:
        raise FeatureStoreError(
            f"{path}: unknown file type {suffix!r}; use .jsonl, .csv or .parquet"
        )


def push_features(
    config: DriftlineConfig,
    rows: Iterable[dict[str, Any]] | Iterable[tuple[int, dict[str, Any] | FeatureRowError]],
    *,
    to: PushMode = "both",
    producer: KafkaProducerLike | None = None,
    source: str = "python",
    repo: FeatureRepo | None = None,
) -> PushReport:
    """Validate feature rows and push the good ones; dead-letter the bad ones.

    Parameters
    ----------
    config
        The driftline config (declares the features and the store).
    rows
        Dicts (numbered from 1), or ``(line, row)`` pairs as :func:`read_feature_file` yields.
    to
        ``offline``, ``online`` or ``both`` (default).
    producer
        Optional Kafka producer for the dead-letters topic.
    source
        Where the rows came from, for dead letters (``file:<path>`` for files).
    repo
        An existing :class:`FeatureRepo` to reuse (saves building the Feast store again).
    """
    from feast.data_source import PushMode as FeastPushMode

    repo = repo or FeatureRepo(config)
    layout = repo.layout
    validator = FeatureRowValidator(layout.feature_dtypes(), entity=layout.entity)
    path = dead_letter_path(config)
    letters = DeadLetterWriter(path, "features.push", producer, config.topics.dead_letters)
    report = PushReport()
    good: list[dict[str, Any]] = []
    for number, item in enumerate(rows, start=1):
        line, row = item if isinstance(item, tuple) else (number, item)
        try:
            if isinstance(row, FeatureRowError):
                raise row
            good.append(validator.validate(row))
        except FeatureRowError as exc:
            report.rejected.append(RejectedRow(line, exc.reason))
            key = row.get(layout.entity) if isinstance(row, dict) else None
            letters.write(exc.reason, row if isinstance(row, dict) else str(row), source, line,
                          str(key) if key is not None else None)  # fmt: skip
    letters.flush()
    if report.rejected:
        report.dead_letter_file = path
    mode = {"offline": FeastPushMode.OFFLINE, "online": FeastPushMode.ONLINE,
            "both": FeastPushMode.ONLINE_AND_OFFLINE}[to]  # fmt: skip
    created = datetime.now(UTC)
    for view in layout.feature_views:
        names = set(view.field_names)
        view_rows = [r for r in good if names.intersection(r)]
        if not view_rows:
            continue
        frame = view_frame(view, view_rows, "event_time", created)
        repo.store.push(view.push_source, frame, to=mode)
        report.per_view[view.name] = len(view_rows)
    report.pushed = len(good)
    return report


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")
