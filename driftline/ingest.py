"""Read events from JSONL files, validating each line and reporting bad ones by line number.

>>> import tempfile, pathlib
>>> from driftline.config import parse_config
>>> cfg = parse_config("model: m\\ntasks:\\n  churn: {type: binary}\\n")
>>> path = pathlib.Path(tempfile.mkdtemp()) / "labels.jsonl"
>>> _ = path.write_text('{"schema": "driftline.label/1", "prediction_id": "p", "task": "churn",'
...                     ' "label": 1, "event_time": "2026-11-23T12:00:00Z"}\\n{oops\\n')
>>> events, problems = read_events(path, cfg, "driftline.label/1")
>>> len(events), problems[0].split(": ")[0].endswith("labels.jsonl:2")
(1, True)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from driftline.config.models import DriftlineConfig
from driftline.errors import EventValidationError
from driftline.events import decode
from driftline.validation import EventRules

__all__ = ["read_events"]


def read_events(
    path: Path, config: DriftlineConfig, expected_schema: str
) -> tuple[list[Any], list[str]]:
    """Return ``(events, problems)``; each problem is ``PATH:LINE: reason``."""
    rules = EventRules(config)
    events: list[Any] = []
    problems: list[str] = []
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                event = decode(raw.strip(), config.producer.max_event_bytes)
                if expected_schema != event.SCHEMA:
                    raise EventValidationError(f"expected {expected_schema}, got {event.SCHEMA}")
                rules.check(event)
            except EventValidationError as exc:
                problems.append(f"{path}:{number}: {exc.reason}")
                continue
            events.append(event)
    return events, problems
