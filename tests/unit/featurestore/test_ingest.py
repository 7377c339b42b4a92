"""``push_features`` / ``read_feature_file``: line numbers, dead letters, CSV and Parquet input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from featurestore.ingest import push_features, read_feature_file
from featurestore.retrieval import read_view
from tests.unit.featurestore.conftest import T0, hours


class RecordingProducer:
    """Stands in for a Kafka producer: records what would be sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes | None]] = []
        self.flushed = 0

    def produce(self, topic: str, value: bytes, key: bytes | None = None) -> None:
        self.sent.append((topic, value, key))

    def flush(self, timeout: float = 10.0) -> None:
        self.flushed += 1


def test_jsonl_push_reports_bad_lines_and_dead_letters_them(
    applied: tuple[Any, Any], tmp_path: Path
) -> None:
    config, repo = applied
    at = (T0 + hours(1000)).isoformat()
    path = tmp_path / "features.jsonl"
    path.write_text(
        "\n".join(
            [
                json.dumps({"entity_id": "j1", "event_time": at, "tenure": 5.0}),
                "{not json",
                "",
                json.dumps({"entity_id": "j2", "event_time": at, "tenure": "NaN"}),
                '{"entity_id": "j3", "event_time": "' + at + '", "tenure": NaN}',
                json.dumps({"entity_id": "j4", "event_time": at, "avg_order_value": 2, "x": 1}),
                json.dumps({"entity_id": "j5", "event_time": at, "avg_order_value": 2.5}),
            ]
        )
    )
    producer = RecordingProducer()
    report = push_features(
        config, read_feature_file(path), to="offline", producer=producer,
        source=f"file:{path}", repo=repo,
    )  # fmt: skip
    assert report.pushed == 2 and report.per_view == {"shared_features": 1, "spend_features": 1}
    assert [r.line for r in report.rejected] == [2, 4, 5, 6]
    assert "not valid JSON" in report.rejected[0].reason
    assert "x: unknown feature" in report.rejected[3].reason
    letters = [json.loads(v) for _, v, _ in producer.sent]
    assert [t for t, _, _ in producer.sent] == ["dead-letters"] * 4 and producer.flushed == 1
    assert [letter["source"] for letter in letters][1] == {
        "topic": f"file:{path}",
        "partition": 0,
        "offset": 4,
        "index": None,
    }
    assert report.dead_letter_file is not None
    assert report.dead_letter_file.read_text().count(f"file:{path}") == 4
    shared = read_view(repo, repo.layout.view("shared_features"))
    assert "j1" in set(shared["entity_id"]) and "j2" not in set(shared["entity_id"])


def test_csv_and_parquet_rows_are_read_with_their_line_numbers(tmp_path: Path) -> None:
    csv_path = tmp_path / "f.csv"
    csv_path.write_text("entity_id,event_time,tenure,country\na,2026-03-01T00:00:00Z,1.5,\n")
    assert list(read_feature_file(csv_path)) == [
        (2, {"entity_id": "a", "event_time": "2026-03-01T00:00:00Z", "tenure": "1.5",
             "country": None})
    ]  # fmt: skip
    parquet_path = tmp_path / "f.parquet"
    pq.write_table(pa.table({"entity_id": ["a", "b"], "tenure": [1.0, None]}), parquet_path)
    assert [line for line, _ in read_feature_file(parquet_path)] == [1, 2]
    assert list(read_feature_file(parquet_path))[1][1]["tenure"] is None
