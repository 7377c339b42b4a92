"""HeapTrim gives freed C heap back to the system (glibc: the CI machines run Debian)."""

from __future__ import annotations

import subprocess
import sys

from streams.heap_trim import HeapTrim

_FREED_BUT_KEPT = """
import psutil
from streams.heap_trim import HeapTrim
process = psutil.Process()
blocks = [bytes(2000) for _ in range(100_000)]  # ~200 MB through malloc (over pymalloc's 512 B)
pinned = bytes(2000)  # allocated last: the heap's top stays in use, so free() trims nothing
del blocks
before = process.memory_info().rss
HeapTrim(every=1.0).run()
print(before, process.memory_info().rss)
"""


def test_glibc_malloc_trim_is_found() -> None:
    assert HeapTrim(every=30.0).available


def test_a_trim_returns_the_freed_heap_to_the_system() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _FREED_BUT_KEPT], capture_output=True, text=True, check=True
    )
    before, after = (int(n) for n in out.stdout.split())
    assert before - after > 100 * 2**20, (before, after)
