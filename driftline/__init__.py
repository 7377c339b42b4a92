"""driftline: event-driven drift monitoring and retraining for multi-task ML models.

The producer SDK is :class:`driftline.Client`; it is imported lazily so that importing
``driftline`` (and running ``driftline --help``) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Client", "__version__"]

if TYPE_CHECKING:
    from driftline.client import Client


def __getattr__(name: str) -> Any:
    if name == "Client":
        from driftline.client import Client

        return Client
    raise AttributeError(f"module 'driftline' has no attribute {name!r}")
