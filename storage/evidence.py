"""Evidence of Byzantine behaviour: two conflicting signed messages from one validator.

Records are opaque bytes (the consensus layer encodes them), deduplicated by
their evidence id and kept in the order they were recorded, so operators see
the newest first. A record, its id index and the new count go in one batch.
"""

from storage import schema
from storage.errors import StorageError
from storage.kv import KeyValueStore, WriteBatch

LIST_LIMIT_MAX = 10_000


class EvidenceStore:
    def __init__(self, kv: KeyValueStore) -> None:
        self._kv = kv

    def add(self, evidence_id: bytes, record: bytes) -> bool:
        """Store ``record`` under ``evidence_id``; False (and nothing written) if that id is stored."""
        if self._kv.get(schema.evidence_id_key(evidence_id)) is not None:
            return False
        sequence = self.count()
        batch = WriteBatch()
        batch.put(schema.evidence_record_key(sequence), record)
        batch.put(schema.evidence_id_key(evidence_id), schema.encode_height(sequence))
        batch.put(schema.EVIDENCE_COUNT_KEY, schema.encode_height(sequence + 1))
        self._kv.write(batch, sync=True)
        return True

    def list(self, limit: int = 100) -> list[bytes]:
        """The ``limit`` most recently recorded records, newest first."""
        if not 0 <= limit <= LIST_LIMIT_MAX:
            raise StorageError(f"limit must be between 0 and {LIST_LIMIT_MAX}", code="BAD_LIMIT")
        records: list[bytes] = []
        for _, record in self._kv.iterate(prefix=schema.EVIDENCE_RECORD_PREFIX, reverse=True):
            if len(records) >= limit:
                break
            records.append(record)
        return records

    def count(self) -> int:
        return schema.read_height(self._kv, schema.EVIDENCE_COUNT_KEY) or 0
