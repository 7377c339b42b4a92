"""Issue 16 on a real broker: one record of every failure class (impossible times, numbers out of
range, JSON 10 000 deep, surrogates, null labels, a 999 KB prediction, non-objects in envelopes,
strings for numbers, ...) among a valid stream. The worker (``driftline monitor``) stays up, each
bad event gets exactly one dead letter with a reason, and the valid events' per-task counts are
exact."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from driftline.partitioning import partition_for
from tests.event_cases import (
    BAD_EVENTS,
    BAD_RECORDS,
    CONFIG_YAML,
    NON_OBJECT_ITEMS,
    label,
    prediction,
)
from tests.integration import test_monitor_stream
from tests.integration.test_monitor_stream import Deployment

deploy = test_monitor_stream.deploy  # the fixture: a config with unique topics and its worker

TASKS_YAML = CONFIG_YAML.split("tasks:\n", 1)[1]
LABELS = {"churn": 1, "spend": 100.0, "category": "home", "rank": 1}
VALID = 200


def _envelope(*events: Any) -> bytes:
    return json.dumps({"schema": "driftline.batch/1", "events": list(events)}).encode()


def _key_in(partition: int, prefix: str) -> str:
    """A prediction id whose home partition (of 2) is ``partition``."""
    return next(
        f"{prefix}{i}" for i in range(1000) if partition_for(f"{prefix}{i}", 2) == partition
    )


def test_every_failure_class_is_one_dead_letter_and_the_valid_counts_are_exact(
    deploy: Any,
) -> None:
    d: Deployment = deploy(TASKS_YAML)
    expected: Counter[str] = Counter()
    bad_plain = bad_in_envelopes = 0

    def valid(pid: str) -> None:
        d.send("predictions", pid, prediction(pid))
        expected.update({f"{task}.predictions": 1 for task in LABELS})
        for task, value in LABELS.items():
            d.send("labels", pid, label(pid, task, value))
            expected[f"{task}.labels"] += 1

    for i in range(VALID // 2):
        valid(f"p-{i}")
    for name, event in BAD_EVENTS:  # each bad event alone, as a plain record
        topic = "labels" if event.get("schema") == "driftline.label/1" else "predictions"
        d.send(topic, f"bad-{name}", event)
        bad_plain += 1
    for name, raw in BAD_RECORDS:  # each unreadable record
        d.send("predictions", f"raw-{name}", raw)
        bad_plain += 1
    for j, (_, event) in enumerate(BAD_EVENTS):  # each bad event again, inside an envelope
        pid = _key_in(j % 2, f"n{j}-")
        topic = "labels" if event.get("schema") == "driftline.label/1" else "predictions"
        if topic == "predictions":
            d.send(topic, pid, _envelope(prediction(pid), event))
            expected.update({f"{task}.predictions": 1 for task in LABELS})
        else:
            d.send("predictions", pid, prediction(pid))
            expected.update({f"{task}.predictions": 1 for task in LABELS})
            d.send(topic, pid, _envelope(label(pid, "churn", 1), event))
            expected["churn.labels"] += 1
        bad_in_envelopes += 1
    for j, item in enumerate(NON_OBJECT_ITEMS):  # non-objects among valid neighbours
        pid = _key_in(j % 2, f"o{j}-")
        d.send("predictions", pid, _envelope(prediction(pid), item))
        expected.update({f"{task}.predictions": 1 for task in LABELS})
        bad_in_envelopes += 1
    for i in range(VALID // 2, VALID):
        valid(f"p-{i}")
    d.producer.flush(60)

    d.start()
    total_bad = bad_plain + bad_in_envelopes
    seen = d.wait_for({**expected, "dead_letters": total_bad}, timeout=240)
    assert d.worker is not None and d.worker.poll() is None, "the worker stopped"
    assert {k: v for k, v in seen.items() if k in expected} == dict(expected)

    letters = [
        letter
        for letter in d.read("dead_letters", timeout=20, at_least=total_bad)
        if letter.get("stage") == "join"
    ]
    assert len(letters) == total_bad
    places = Counter(
        (s["topic"], s["partition"], s["offset"], s["index"])
        for s in (letter["source"] for letter in letters)
    )
    assert max(places.values()) == 1, "a bad event was dead-lettered twice"
    assert all(letter["reason"] for letter in letters)
    indexes = Counter(letter["source"]["index"] for letter in letters)
    assert indexes == {None: bad_plain, 1: bad_in_envelopes}
    log = (d.tmp / "worker.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
