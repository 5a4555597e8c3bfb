"""The replica's own log on disk: what it signed, written before it is sent.

A restarted replica reloads these entries so that it never signs two different
things for one slot. Keys and values are opaque bytes chosen by the consensus
layer; this store only keeps them under their own prefix and writes each call
in one synced batch.
"""

from collections.abc import Sequence

from storage import schema
from storage.kv import KeyValueStore, WriteBatch


class ConsensusLogStore:
    def __init__(self, kv: KeyValueStore) -> None:
        self._kv = kv

    def put(self, entries: Sequence[tuple[bytes, bytes]]) -> None:
        """Store every entry, durably, before returning (one synced batch)."""
        if not entries:
            return
        batch = WriteBatch()
        for key, value in entries:
            batch.put(schema.consensus_log_key(key), value)
        self._kv.write(batch, sync=True)

    def write(self, changes: Sequence[tuple[Sequence[tuple[bytes, bytes]], Sequence[bytes]]]) -> None:
        """Apply several (puts, deletes) in order, durably, in one synced batch: a later put
        or delete of a key overrides an earlier one, as if each had been written in turn."""
        batch = WriteBatch()
        for puts, deletes in changes:
            for key, value in puts:
                batch.put(schema.consensus_log_key(key), value)
            for key in deletes:
                batch.delete(schema.consensus_log_key(key))
        if batch.operations:
            self._kv.write(batch, sync=True)

    def load(self) -> list[tuple[bytes, bytes]]:
        """Every stored entry, in key order."""
        skip = len(schema.CONSENSUS_LOG_PREFIX)
        return [(key[skip:], value) for key, value in self._kv.iterate(prefix=schema.CONSENSUS_LOG_PREFIX)]

    def delete(self, keys: Sequence[bytes]) -> None:
        """Forget entries (for example below a stable checkpoint); unknown keys are ignored."""
        if not keys:
            return
        batch = WriteBatch()
        for key in keys:
            batch.delete(schema.consensus_log_key(key))
        self._kv.write(batch, sync=True)
