"""The server fixtures start real servers that accept their credentials."""

import pytest

from tests.servers import PostgresServer, RedisServer


@pytest.mark.servers
def test_postgres_accepts_password(postgres_server: PostgresServer) -> None:
    import psycopg

    url = postgres_server.sqlalchemy_url("selfcheck")
    assert url.startswith("postgresql+psycopg://")
    dsn = (
        f"host={postgres_server.host} port={postgres_server.port} user={postgres_server.user} "
        f"password={postgres_server.password} dbname=selfcheck"
    )
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(dsn.replace(postgres_server.password, "wrong"))


@pytest.mark.servers
def test_redis_requires_password(redis_server: RedisServer) -> None:
    import redis

    client = redis.Redis(
        host=redis_server.host, port=redis_server.port, password=redis_server.password
    )
    assert client.ping()
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host=redis_server.host, port=redis_server.port, password="wrong").ping()
