"""Kafka security settings of ``driftline.yaml`` as Faust broker credentials."""

from __future__ import annotations

import ssl
from typing import Any

from driftline.config.models import KafkaConfig
from driftline.kafka_settings import credentials

__all__ = ["faust_credentials"]


def faust_credentials(kafka: KafkaConfig) -> Any | None:
    """``faust.SASLCredentials`` / ``faust.SSLCredentials`` for ``kafka.security`` (``None`` for
    plaintext). Secrets come from the environment variables the config names.

    >>> from driftline.config.models import KafkaConfig
    >>> faust_credentials(KafkaConfig()) is None
    True
    """
    import faust

    creds = credentials(kafka.security)
    protocol = creds.protocol.upper()
    if protocol == "PLAINTEXT":
        return None
    context = None
    if protocol in ("SSL", "SASL_SSL"):
        context = ssl.create_default_context(cafile=creds.cafile)
        if creds.certfile:
            context.load_cert_chain(creds.certfile, creds.keyfile, creds.key_password)
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    return faust.SASLCredentials(
        username=creds.username,
        password=creds.password,
        ssl_context=context,
        mechanism=creds.mechanism or "PLAIN",
    )
