"""What the agents must know of rebalances (:class:`Rebalances`)."""

from __future__ import annotations

from typing import Any

import faust

from streams.delivery_order import AckGate, DeliveryOrder, group_start, hole_check
from streams.faust_compat import committed_offsets
from streams.stage_io import exit_for_restart

__all__ = ["Rebalances"]


class Rebalances:
    """What the agents must know of rebalances.

    ``count``: how many began. A record an agent read before one must not be processed after it:
    the tables are being recovered then (a state restored now would come back empty), and Faust
    seeks the partition back and delivers the record again anyway.

    :meth:`check`: each partition's records must reach the stage in order from the committed
    offset (:class:`streams.delivery_order.DeliveryOrder`); one delivered again is skipped
    (``False``); after a break the worker exits before acknowledging anything past it, and a
    restart reads from the committed offset.
    """

    def __init__(self, app: faust.App, kafka_settings: dict[str, Any], gate: AckGate) -> None:
        self.count = 0
        self.gate = gate
        self.order = DeliveryOrder(
            lambda where: committed_offsets(app.consumer).get(where),
            hole_check(kafka_settings),
            self._broken,
            group_start(kafka_settings, app.conf.id),
        )

    def begin(self) -> None:
        """A rebalance began: the order starts again from the committed offsets."""
        self.count += 1
        self.order.reset()
        self.gate.reset()

    def check(self, message: Any) -> bool:
        """Whether ``message`` is the next one of its partition (``False``: delivered again)."""
        return self.order.check(message.topic, message.partition, message.offset)

    @staticmethod
    def _broken(what: str) -> None:
        exit_for_restart(
            "%s: records reached the stage out of order; exiting so that a restart reads from "
            "the committed offset",
            what,
        )
