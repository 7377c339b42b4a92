"""Scoring with the current champion of the registry, hot-swapped when ``model-updates`` says so."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from driftline.config.models import DriftlineConfig
from driftline.events import ModelUpdate
from simulator.errors import SimulatorError
from simulator.event import SimEvent

__all__ = ["ChampionScorer", "ModelUpdateWatcher"]

log = logging.getLogger("driftline.simulator")


class ChampionScorer:
    """Predicts every head of the registry's ``champion`` of ``config.model`` for simulated events.

    Parameters
    ----------
    config
        The loaded ``driftline.yaml`` (``model``, ``tasks``, ``registry``).
    registry
        A :class:`models.Registry`; default: the one ``config.registry`` names.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> from driftline.config import parse_config
    >>> from models import Registry, build_model, FeatureSchema, TaskSpec
    >>> root = tempfile.mkdtemp()
    >>> cfg = parse_config(f"model: m\\nfeatures: [{{name: x}}]\\ntasks: {{churn: {{type: binary}}}}\\n"
    ...                    f"registry: {{url: 'sqlite:///{root}/r.db', artifacts_dir: {root}/a}}\\n")
    >>> frame = pd.DataFrame({"x": [0.0, 1.0], "churn": [0.0, 1.0]})
    >>> model = build_model([TaskSpec("churn", "binary")], FeatureSchema.of(numeric=["x"]), frame)
    >>> _ = Registry.from_config(cfg.registry).register("m", model, alias="champion")
    >>> scorer = ChampionScorer(cfg)
    >>> scorer.refresh(), scorer.version
    (True, '1')
    >>> 0.0 <= scorer.score([SimEvent(0, 0.0, "e", {"x": 0.3}, {})])[0]["churn"]["score"] <= 1.0
    True
    """

    def __init__(self, config: DriftlineConfig, registry: Any | None = None) -> None:
        self.config = config
        self.registry = registry
        self._reset()

    def _reset(self) -> None:
        self.version: str | None = None
        self._model: Any = None
        self.swaps = 0

    def _registry(self) -> Any:
        if self.registry is None:
            from models import Registry

            self.registry = Registry.from_config(self.config.registry)
        return self.registry

    def champion_version(self) -> str | None:
        """The champion's version number in the registry now, or ``None`` when there is none."""
        from models import RegistryError

        try:
            aliases = self._registry().aliases(self.config.model)
        except RegistryError:
            return None
        version = aliases.get("champion")
        return None if version is None else str(version)

    def refresh(self) -> bool:
        """Load the registry's champion if it is not the one in use; return whether it changed."""
        version = self.champion_version()
        if version is None or version == self.version:
            return False
        loaded = self._registry().load(self.config.model, "champion")
        self._model = loaded.model
        self.version = version
        self.swaps += 1
        log.info("scoring with %s v%s", self.config.model, version)
        return True

    def score(self, events: Sequence[SimEvent]) -> list[dict[str, dict[str, Any]]]:
        """The ``outputs`` of a prediction event for each of ``events``, in order."""
        import pandas as pd

        if self._model is None:
            raise SimulatorError(
                f"no champion of {self.config.model!r} in the registry; bootstrap one first "
                "(`driftline demo` does) or promote a version (`driftline models promote`)"
            )
        frame = pd.DataFrame([e.features for e in events])
        predictions = self._model.predict(frame)
        outputs: list[dict[str, dict[str, Any]]] = [{} for _ in events]
        for spec in self._model.tasks:
            if spec.name not in self.config.tasks:
                continue
            values = predictions[spec.name]
            for row, out in enumerate(outputs):
                out[spec.name] = _output(spec, values[row])
        return outputs


def _output(spec: Any, value: Any) -> dict[str, Any]:
    if spec.type == "binary":
        return {"score": min(1.0, max(0.0, float(value)))}
    if spec.type == "multiclass":
        probs = {c: float(p) for c, p in zip(spec.classes, value, strict=True)}
        return {"label": max(probs, key=probs.__getitem__), "probs": probs}
    return {"value": float(value)}


class ModelUpdateWatcher:
    """Notices ``model-updates`` events for one model without blocking (a throwaway consumer).

    ``poll()`` returns the promotions and rollbacks that arrived since the last call.
    """

    def __init__(self, config: DriftlineConfig) -> None:
        self.config = config
        self._reader: Any = None

    def poll(self, budget: int = 50) -> list[ModelUpdate]:
        """Updates of ``config.model`` that moved the champion (promoted, rolled back); reads at
        most ``budget`` records."""
        if self._reader is None:
            from driftline.reader import EventReader

            self._reader = EventReader(self.config, [self.config.topics.model_updates])
        updates = []
        for item in self._reader.poll(max_records=budget):
            event = item.event
            if item.error is not None:
                log.warning("skipping a bad model-updates record at %s: %s", item.source, item.error)  # fmt: skip
            elif (
                isinstance(event, ModelUpdate)
                and event.model == self.config.model
                and event.status in ("promoted", "rolled_back")
            ):
                updates.append(event)
        return updates

    def close(self) -> None:
        """Leave the group."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None
