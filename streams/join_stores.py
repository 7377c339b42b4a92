"""The join stores of the input partitions a worker holds: loaded, checkpointed, closed.

Loading a partition (:meth:`JoinStores.load`, blocking: the app runs it in a thread) opens its
changelog writer first, which fences the partition's previous writer and aborts a transaction it
left open, then opens the local store and replays the changelog records it does not reflect
yet: a few after a restart on the same disk, all of them on a new disk (a takeover by a worker
with no store of this partition, ``monitor.store: memory``, a wiped state directory). A local
store older than ``max_age`` or behind what the changelog still holds is rebuilt from the
changelog; one ahead of it (the changelog topic was deleted) is refused.

A checkpoint of a partition (:meth:`JoinStores.commit`) commits its changelog records in one
transaction, then writes the local batch with the offset it reflects.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from driftline.config.models import DriftlineConfig
from streams.errors import RESET_STATE, StateRefusedError
from streams.join import entry_codec
from streams.join_changelog import (
    ChangelogWriter,
    JoinChangelog,
    Records,
    StaleStoreError,
    StoreAheadError,
)
from streams.join_store import JoinStore

__all__ = ["JoinStores"]

log = logging.getLogger("driftline.monitor")

MAX_AGE = 12 * 3600.0
"""A local store last written longer ago than this is rebuilt from the changelog: the changelog
keeps a removed entry's tombstone for ``delete.retention.ms`` (one day), and a store older than
that could miss one."""


class JoinStores:
    """Join stores and changelog writers by input partition.

    Parameters
    ----------
    config
        The loaded ``driftline.yaml``.
    directory
        Where the partitions' RocksDB stores live (``None``: in memory).
    changelog
        The changelog topic.
    """

    def __init__(
        self,
        config: DriftlineConfig,
        directory: Path | None,
        changelog: JoinChangelog,
        max_age: float = MAX_AGE,
    ) -> None:
        self.config = config
        self.directory = directory
        self.changelog = changelog
        self.max_age = max_age
        self._delays = {name: task.label_delay for name, task in config.tasks.items()}
        self._codec = entry_codec(config)
        self._stores: dict[int, JoinStore] = {}
        self._writers: dict[int, ChangelogWriter] = {}
        self.restored_records = 0

    def load(self, partition: int) -> JoinStore:
        """Open the partition's store, caught up with its changelog (blocking)."""
        started = time.monotonic()
        writer = self.changelog.writer(partition)
        store = self._open(partition)
        if store.meta.written_at and time.time() - store.meta.written_at > self.max_age:
            log.info(
                "join partition %d: local store older than %.0f s, rebuilt", partition, self.max_age
            )
            store = self._rebuild(partition, store)
        try:
            read = self._catch_up(partition, store)
        except StaleStoreError:
            store = self._rebuild(partition, store)
            read = self._catch_up(partition, store)
        self._stores[partition], self._writers[partition] = store, writer
        self.restored_records += read
        log.info(
            "join partition %d loaded: %d pending, %d changelog records replayed in %.1f s",
            partition,
            store.meta.pending,
            read,
            time.monotonic() - started,
        )
        return store

    def opened(self, partition: int) -> JoinStore:
        """The store :meth:`load` opened (``JoinStage``'s ``open_store``)."""
        return self._stores.pop(partition)

    def commit(self, partition: int, records: Records) -> int:
        """Commit a checkpoint's changelog records (one transaction); their last offset."""
        return self._writers[partition].commit(records)

    def release(self) -> None:
        """Forget the writers (a rebalance or the end; the stores are closed by their joins)."""
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
        for store in self._stores.values():
            store.close()
        self._stores.clear()

    def _open(self, partition: int) -> JoinStore:
        path = self.directory / f"p{partition}" if self.directory is not None else None
        cache = self.config.monitor.join_cache_bytes
        return JoinStore(path, self._delays, self._codec, cache)

    def _rebuild(self, partition: int, store: JoinStore) -> JoinStore:
        store.close()
        if store.path is not None:
            JoinStore.destroy(store.path)
        return self._open(partition)

    def _catch_up(self, partition: int, store: JoinStore) -> int:
        start = store.meta.changelog_offset + 1
        last_report = [time.monotonic()]

        def progress(done: int, end: int) -> None:
            if time.monotonic() - last_report[0] > 5.0:
                last_report[0] = time.monotonic()
                log.info(
                    "join partition %d: restoring, changelog offset %d of %d", partition, done, end
                )

        try:
            return self.changelog.read(partition, start, store.apply_changelog, progress)
        except StoreAheadError as exc:
            raise StateRefusedError(
                f"the local join store of partition {partition} reflects changelog offset "
                f"{start - 1}, but {exc}: the changelog topic was deleted or recreated; "
                f"{RESET_STATE}"
            ) from exc
