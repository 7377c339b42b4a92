"""A replay of River's ``Yeast`` multi-label dataset (shipped in the river wheel) with injected shift.

2 417 genes, 103 numeric features ``Att1..Att103``, 14 binary labels ``Class1..Class14``. The
replay walks the rows in a seeded random order, a fresh order every pass, one event per row. A
task named ``ClassN`` in the config replays that label; other binary tasks take ``Class1``,
``Class2``, ... in config order. Only the features the config declares (``AttN`` names) are sent.

Injected shift, by event count (:class:`~simulator.schedule.DriftSchedule`):

concept drift
    with ``severity`` ``s`` the task's label is inverted on a seeded ``s / 2`` share of rows
    (``s = 2``: every label flipped, the old model's ROC AUC becomes ``1 - AUC``; the flipped
    concept is exactly as learnable);
covariate shift
    every sent feature moves by ``magnitude`` × its standard deviation.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

import numpy as np

from driftline.config.models import DriftlineConfig, FeatureSpec
from simulator.errors import SimulatorError
from simulator.event import SimEvent
from simulator.schedule import DriftSchedule

__all__ = ["YEAST_LABELS", "YeastStream", "load_yeast"]

YEAST_LABELS = tuple(f"Class{i}" for i in range(1, 15))
YEAST_ROWS = 2417


@cache
def load_yeast() -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """``(features [2417 × 103], labels [2417 × 14] as 0/1, feature names)`` from the river wheel."""
    from river import datasets

    xs, ys = [], []
    for x, y in datasets.Yeast():  # type: ignore[no-untyped-call]
        xs.append(list(x.values()))
        ys.append([int(y[name]) for name in YEAST_LABELS])
        names = tuple(x)
    return np.asarray(xs, dtype=float), np.asarray(ys, dtype=int), names


class YeastStream:
    """Replay of Yeast as a stream of :class:`~simulator.event.SimEvent`.

    Parameters
    ----------
    tasks
        Task name → Yeast label name (``Class1`` .. ``Class14``).
    features
        Feature names to send (``Att1`` .. ``Att103``).
    schedule, seed, start, interval, run
        As for :class:`~simulator.synthetic.SyntheticStream`.

    Examples
    --------
    >>> stream = YeastStream({"c1": "Class1", "c3": "Class3"}, ["Att1", "Att2"], seed=0)
    >>> event = stream.event(0)
    >>> sorted(event.features), sorted(event.labels), event.labels["c1"] in (0, 1)
    (['Att1', 'Att2'], ['c1', 'c3'], True)
    """

    def __init__(
        self,
        tasks: Mapping[str, str],
        features: list[str],
        schedule: DriftSchedule | None = None,
        seed: int = 0,
        start: float = 1_767_225_600.0,
        interval: float = 1.0,
        run: str = "yeast",
    ) -> None:
        for task, label in tasks.items():
            if label not in YEAST_LABELS:
                raise SimulatorError(f"task {task!r} maps to {label!r}, not a Yeast label ({YEAST_LABELS[0]}..{YEAST_LABELS[-1]})")  # fmt: skip
        if not tasks or not features:
            raise SimulatorError("the Yeast replay needs at least one task and one feature")
        self.tasks = dict(tasks)
        self.features = list(features)
        self.schedule = schedule or DriftSchedule()
        self.seed = seed
        self.start = start
        self.interval = interval
        self.run = run
        self._reset()

    @classmethod
    def from_config(cls, config: DriftlineConfig, **kwargs: object) -> YeastStream:
        """Binary tasks of ``config`` mapped to Yeast labels, and its ``AttN`` features."""
        tasks: dict[str, str] = {}
        spare = iter(name for name in YEAST_LABELS if name not in config.tasks)
        for name, task in config.tasks.items():
            if task.type != "binary":
                raise SimulatorError(f"the Yeast replay has binary labels only; task {name!r} is {task.type}")  # fmt: skip
            tasks[name] = name if name in YEAST_LABELS else next(spare)
        specs: list[FeatureSpec] = list(config.features)
        specs += [f for t in config.tasks.values() for f in t.features]
        names = [f.name for f in specs if f.name.startswith("Att")]
        if not names:
            raise SimulatorError("the Yeast replay needs features named Att1..Att103 in the config")  # fmt: skip
        return cls(tasks, names, **kwargs)  # type: ignore[arg-type]

    def _reset(self) -> None:
        x, y, names = load_yeast()
        missing = [f for f in self.features if f not in names]
        if missing:
            raise SimulatorError(f"Yeast has no features {missing}; use Att1..Att103")
        self._x = x[:, [names.index(f) for f in self.features]]
        self._std = self._x.std(axis=0) + 1e-12
        self._y = y[:, [YEAST_LABELS.index(label) for label in self.tasks.values()]]
        self._orders: dict[int, np.ndarray] = {}

    def _row(self, index: int) -> int:
        cycle, position = divmod(index, YEAST_ROWS)
        order = self._orders.get(cycle)
        if order is None:
            order = np.random.default_rng([self.seed, cycle]).permutation(YEAST_ROWS)
            self._orders = {cycle: order}
        return int(order[position])

    def event(self, index: int) -> SimEvent:
        """Event number ``index``."""
        return self.events(index, 1)[0]

    def events(self, start: int, count: int) -> list[SimEvent]:
        """Events ``start`` .. ``start + count - 1``."""
        out = []
        for index in range(start, start + count):
            row = self._row(index)
            shift = self.schedule.shift(index)
            values = self._x[row] + shift * self._std
            labels = {}
            for k, task in enumerate(self.tasks):
                label = int(self._y[row, k])
                flip_share = self.schedule.rotation(task, index) / 2.0
                if flip_share and _uniform(self.seed, index, k) < flip_share:
                    label = 1 - label
                labels[task] = label
            out.append(
                SimEvent(
                    index=index,
                    t=self.start + index * self.interval,
                    entity_id=f"gene-{row}",
                    features={
                        n: round(float(v), 6) for n, v in zip(self.features, values, strict=True)
                    },
                    labels=labels,
                    run=self.run,
                )
            )
        return out


def _uniform(seed: int, index: int, task: int) -> float:
    return float(np.random.default_rng([seed, index, task, 0xF1]).random())
