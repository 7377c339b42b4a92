"""driftline's production simulator and local stack (``driftline simulate|up|down|status|demo``).

It lives outside the ``driftline`` core because it depends on ``models`` (scoring with the
registry's champion) and ``featurestore`` (writing features to Feast), which depend on the core.

Public API::

    from simulator import SyntheticStream, YeastStream, DriftSchedule, LabelPlan, Simulation
    stream = SyntheticStream.from_config(config, schedule=DriftSchedule.parse(["churn@5000"]))
    Simulation(config, stream, LabelPlan.from_config(config)).run(count=10_000)
"""

from simulator.bootstrap import BootstrapReport, bootstrap_champion, publish_update, write_history
from simulator.errors import ServiceError, SimulatorError
from simulator.event import SimEvent
from simulator.labels import DueLabel, LabelPlan, LabelQueue
from simulator.lag import TopicLag, consumer_lag
from simulator.phases import PhaseTracker
from simulator.process import BackgroundProcess
from simulator.schedule import ConceptDrift, CovariateShift, DriftSchedule
from simulator.scorer import ChampionScorer, ModelUpdateWatcher
from simulator.simulation import Simulation, SimulationStats
from simulator.stack import LocalStack, ServiceState
from simulator.synthetic import SyntheticStream, TaskShape
from simulator.yeast import YeastStream

__all__ = [
    "BackgroundProcess",
    "BootstrapReport",
    "ChampionScorer",
    "ConceptDrift",
    "CovariateShift",
    "DriftSchedule",
    "DueLabel",
    "LabelPlan",
    "LabelQueue",
    "LocalStack",
    "ModelUpdateWatcher",
    "PhaseTracker",
    "ServiceError",
    "ServiceState",
    "SimEvent",
    "Simulation",
    "SimulationStats",
    "SimulatorError",
    "SyntheticStream",
    "TaskShape",
    "TopicLag",
    "YeastStream",
    "bootstrap_champion",
    "consumer_lag",
    "publish_update",
    "write_history",
]
