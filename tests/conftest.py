"""Fixtures shared by unit and integration tests.

Real servers (PostgreSQL, Redis) come from ``tests/servers.py``; the Kafka broker fixture
(``kafka_bootstrap``) lives in ``tests/integration/conftest.py``.
"""

from tests.servers import postgres_server, redis_server

__all__ = ["postgres_server", "redis_server"]
