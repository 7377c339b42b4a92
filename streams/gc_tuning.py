"""The monitor worker's garbage-collector settings: fewer, cheaper collections.

A worker keeps many small long-lived objects: the join's pending predictions (hundreds of
thousands when a worker starts on a backlog), the detectors' windows, Faust's and River's
modules. CPython's default thresholds, ``(700, 10, 10)``, run a young collection every 700 new
container objects and a full one whenever the long-lived objects grew by a quarter, and every
full collection walks all of them. In a 400 000-event drain that was 19 % of the worker's CPU
(5.8 of 30.8 s; ``bench/`` drain with a ``gc.callbacks`` timer).

:func:`tune_collector` moves what exists at start (imported modules, the app) out of the
collector's reach with :func:`gc.freeze` and raises the thresholds to :data:`THRESHOLDS`. The
state holds no reference cycles that need prompt collection, so the only cost is garbage
cycles living a little longer.

A benchmark that runs the worker's code in its own process uses :func:`worker_collector`, which
gives the process its previous settings back afterwards:

>>> import gc
>>> saved = gc.get_threshold()
>>> with worker_collector():
...     gc.get_threshold() == THRESHOLDS
True
>>> gc.get_threshold() == saved
True
"""

from __future__ import annotations

import atexit
import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["THRESHOLDS", "tune_collector", "worker_collector"]

THRESHOLDS = (50_000, 20, 100)
"""``gc.set_threshold`` arguments: young collection every 50 000 new container objects."""


def tune_collector() -> None:
    """Freeze what exists now (after a collection) and raise the collector's thresholds.

    At exit the frozen objects are thawed and collected, so that extension objects among them
    (Feast's duckdb connection and types) are freed before their modules are torn down (else
    duckdb reports ``nanobind: leaked ...`` lines).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    atexit.register(_thaw)


def _thaw() -> None:
    gc.unfreeze()
    gc.collect()


@contextmanager
def worker_collector() -> Iterator[None]:
    """The worker's collector settings inside the block; the previous ones again after it."""
    saved = gc.get_threshold()
    tune_collector()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*saved)
