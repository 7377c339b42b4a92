"""murmur2 matches Kafka's Java client (and librdkafka's murmur2_random)."""

from __future__ import annotations

import pytest

from driftline.partitioning import murmur2, partition_for


@pytest.mark.parametrize(
    ("key", "expected"),
    # values from Kafka's UtilsTest.testMurmur2
    [(b"21", -973932308), (b"foobar", -790332482), (b"a-little-bit-long-string", -985981536),
     (b"a-little-bit-longer-string", -1486304829), (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
     (b"abc", 479470107)],
)  # fmt: skip
def test_kafka_reference_values(key: bytes, expected: int) -> None:
    assert murmur2(key) == expected


def test_partition_is_in_range_and_stable() -> None:
    for i in range(1000):
        p = partition_for(f"p-{i}", 7)
        assert 0 <= p < 7
        assert p == partition_for(f"p-{i}".encode(), 7)
