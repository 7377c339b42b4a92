"""The progress bar of ``driftline bench NAME`` (rich, on stderr; stdout keeps the result).

``driftline bench`` runs every benchmark inside :func:`running`; a benchmark names its phases
with :func:`phase` (and counts work with :func:`advance` when it knows a total). Outside
``driftline bench`` (tests, imports) both do nothing.

>>> with running("demo"):
...     phase("warming up")
...     phase("measuring", total=2)
...     advance(2)
>>> phase("no bar: nothing happens")
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["advance", "phase", "running"]

_current: dict[str, Any] = {}


@contextmanager
def running(name: str) -> Iterator[None]:
    """Show a bar for benchmark ``name`` while the block runs (removed when it ends)."""
    from driftline.cli.progress import progress_bar

    with progress_bar() as bar:
        _current.update(bar=bar, task=bar.add_task(f"bench {name}", total=None), name=name)
        try:
            yield
        finally:
            _current.clear()


def phase(description: str, total: float | None = None) -> None:
    """Start a phase: its description, and a bar when ``total`` is known (else a spinner)."""
    if _current:
        bar, task = _current["bar"], _current["task"]
        bar.reset(task, total=total, description=f"bench {_current['name']}: {description}")


def advance(amount: float = 1.0) -> None:
    """Count ``amount`` of the current phase's total as done."""
    if _current:
        _current["bar"].advance(_current["task"], amount)
