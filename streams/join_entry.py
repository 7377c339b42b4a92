"""One join entry (a pending prediction and/or its early labels) and its compact stored form.

The join keeps, per prediction id, only what it needs to emit later outcomes: the model
version, event time and position of the prediction, each head's predicted value, which tasks
were joined or expired, and the labels that came before their prediction. Entity id, segments
and features are kept only when a sink or a slice will read them (the :class:`EntryCodec`'s
``keep_*`` switches). Tasks are stored as small integer *codes* (their position in the store's
task table), so an entry's joined/expired sets are two bit masks.

Stored form (``driftline.join-entry/1``): a fixed binary header, then a JSON tail for the
variable-length parts (version, outputs, context, early labels), with unset trailing fields
left out. No pickled Python objects: a stored entry can be read by any version that knows the
layout, and it costs about 70-100 bytes for three tasks.

Examples
--------
>>> codec = EntryCodec()
>>> entry = JoinEntry(version="3", t=10.0, offset=7, index=1, outputs={0: (0.8, None, None)})
>>> entry.joined |= 1 << 0
>>> data = codec.encode(entry)
>>> len(data) < 80
True
>>> codec.decode(data) == entry
True
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = ["EarlyLabel", "EntryCodec", "JoinEntry", "Output"]

Output = tuple[Any, Any, Any]
"""One head's ``(y_pred, group, probs)``."""

_HEADER = struct.Struct("<BddqIQQQ")  # flags, t, tau, offset, index, joined, expired, late
_HAS_PREDICTION = 1


@dataclass(slots=True)
class EarlyLabel:
    """A label that came before its prediction, waiting until ``deadline``."""

    code: int
    label: Any
    t: float
    offset: int
    index: int
    deadline: float
    tau: float = float("-inf")  # the label stream's time when it came (streams.outcome_order)


@dataclass(slots=True)
class JoinEntry:
    """Everything the join holds for one prediction id.

    ``version`` is ``None`` while only early labels are held (no prediction yet).
    ``stored``: whether the entry is in the store (a new one that leaves before a checkpoint
    is never written).
    """

    version: str | None = None
    t: float = 0.0
    tau: float = float("-inf")  # the prediction stream's time when it came
    offset: int = 0
    index: int = 0
    joined: int = 0
    expired: int = 0
    late: int = 0
    outputs: dict[int, Output] = field(default_factory=dict)
    entity_id: str | None = None
    segments: dict[str, str] | None = None
    features: dict[str, Any] | None = None
    early: list[EarlyLabel] = field(default_factory=list)
    stored: bool = field(default=False, compare=False, repr=False)

    @property
    def has_prediction(self) -> bool:
        return self.version is not None


class EntryCodec:
    """Encodes and decodes :class:`JoinEntry` values.

    Parameters
    ----------
    keep_entity, keep_segments, keep_features
        Whether the entity id, the segments and the features are stored (a sink or a slice
        reads them); otherwise they are dropped when the entry is encoded.
    """

    def __init__(
        self, keep_entity: bool = True, keep_segments: bool = True, keep_features: bool = True
    ) -> None:
        self.keep_entity = keep_entity
        self.keep_segments = keep_segments
        self.keep_features = keep_features

    def encode(self, entry: JoinEntry) -> bytes:
        flags = _HAS_PREDICTION if entry.version is not None else 0
        header = _HEADER.pack(
            flags,
            entry.t,
            entry.tau,
            entry.offset,
            entry.index,
            entry.joined,
            entry.expired,
            entry.late,
        )
        outputs: list[Any] = []
        for code, (y_pred, group, probs) in entry.outputs.items():
            outputs.append(code)
            outputs.append(y_pred if group is None and probs is None else [y_pred, group, probs])
        tail: list[Any] = [
            entry.version,
            outputs,
            entry.entity_id if self.keep_entity else None,
            entry.segments or None if self.keep_segments else None,
            entry.features or None if self.keep_features else None,
            [[e.code, e.label, e.t, e.offset, e.index, e.deadline, e.tau] for e in entry.early]
            or None,
        ]
        while tail and tail[-1] is None:
            tail.pop()
        return header + orjson.dumps(tail)

    @staticmethod
    def has_prediction(data: bytes) -> bool:
        """Whether an encoded entry holds its prediction (its header's flag; no decode).

        >>> EntryCodec.has_prediction(EntryCodec().encode(JoinEntry(version="1")))
        True
        """
        return bool(data[0] & _HAS_PREDICTION)

    @staticmethod
    def decode(data: bytes) -> JoinEntry:
        flags, t, tau, offset, index, joined, expired, late = _HEADER.unpack_from(data)
        tail = orjson.loads(data[_HEADER.size :])
        tail += [None] * (6 - len(tail))
        version, flat, entity_id, segments, features, early = tail
        outputs: dict[int, Output] = {}
        for n in range(0, len(flat or ()), 2):
            value = flat[n + 1]
            outputs[flat[n]] = (*value,) if type(value) is list else (value, None, None)
        return JoinEntry(
            version if flags & _HAS_PREDICTION else None,
            t,
            tau,
            offset,
            index,
            joined,
            expired,
            late,
            outputs,
            entity_id,
            segments,
            features,
            [EarlyLabel(*item) for item in early or ()],
            stored=True,
        )
