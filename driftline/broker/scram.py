"""Create or update the SCRAM-SHA-512 user of the optional SASL listener."""

from __future__ import annotations

from driftline.errors import BrokerError

__all__ = ["SCRAM_ITERATIONS", "upsert_scram_user"]

SCRAM_ITERATIONS = 8192


def upsert_scram_user(bootstrap_servers: str, username: str, password: str) -> None:
    """Store ``username``'s SCRAM-SHA-512 credential in the cluster metadata (create or replace).

    It goes through the Admin API on the PLAINTEXT listener, so the password never appears on a
    command line, in a file or in a log, and a changed password takes effect at the next start.
    """
    from confluent_kafka.admin import AdminClient
    from confluent_kafka.admin._scram import (
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialUpsertion,
    )

    from driftline.kafka_logs import kafka_logger

    admin = AdminClient({"bootstrap.servers": bootstrap_servers}, logger=kafka_logger())
    upsert = UserScramCredentialUpsertion(
        username,
        ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS),
        password.encode("utf-8"),
    )
    futures = admin.alter_user_scram_credentials([upsert], request_timeout=15.0)
    try:
        for future in futures.values():
            future.result(timeout=20.0)
    except Exception as exc:
        raise BrokerError(
            f"could not create the SCRAM user {username!r} on {bootstrap_servers}: {exc}"
        ) from None
