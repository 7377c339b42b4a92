"""The embedded local Apache Kafka broker behind ``driftline broker start|stop|status``.

>>> from driftline.broker import LocalBroker
>>> LocalBroker().port
9092
"""

from driftline.broker.errors import BrokerError, BrokerStartError, KafkaJarsError
from driftline.broker.jars import KafkaJars
from driftline.broker.local import LocalBroker
from driftline.broker.network import fetch_topics, pick_free_port
from driftline.broker.pidfile import BrokerPidFile
from driftline.broker.properties import BrokerProperties
from driftline.broker.status import BrokerStatus

__all__ = [
    "BrokerError",
    "BrokerPidFile",
    "BrokerProperties",
    "BrokerStartError",
    "BrokerStatus",
    "KafkaJars",
    "KafkaJarsError",
    "LocalBroker",
    "fetch_topics",
    "pick_free_port",
]
