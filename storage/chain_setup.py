"""Setting up a chain store: the genesis records on a new database, and the checks that an
existing one is of this chain and of this schema version."""

from __future__ import annotations

from collections.abc import Sequence

from ledger.state_tree import StateTreeOverlay
from ledger.types import Hash
from storage import schema
from storage.errors import ChainMismatch, CorruptRecord, StorageError
from storage.kv import KeyValueStore, WriteBatch
from storage.state_tree import CommittedStateTree


def write_genesis(
    kv: KeyValueStore,
    tree_base: CommittedStateTree,
    genesis_hash: Hash,
    state_changes: Sequence[tuple[bytes, bytes]],
) -> StateTreeOverlay | None:
    """Write the genesis record, state and state tree on a new database and return the tree
    to absorb; on an existing one, raise ChainMismatch unless it holds the same genesis."""
    stored = kv.get(schema.GENESIS_HASH_KEY)
    if stored is not None:
        if stored != genesis_hash:
            raise ChainMismatch(
                f"the database belongs to the chain with genesis {stored.hex()}, "
                f"not to the one with genesis {genesis_hash.hex()}"
            )
        _validate_schema_version(kv)
        return None
    _validate_no_foreign_keys(kv)
    batch = WriteBatch()
    batch.put(schema.GENESIS_HASH_KEY, genesis_hash)
    tree = StateTreeOverlay(tree_base)
    tree.apply(state_changes)
    batch.put(schema.GENESIS_STATE_ROOT_KEY, tree.root)
    batch.put(schema.SCHEMA_VERSION_KEY, bytes([schema.SCHEMA_VERSION]))
    batch.put(schema.LATEST_HEIGHT_KEY, schema.encode_height(0))
    for key, value in state_changes:
        batch.put(schema.state_key(key), value)
    tree_base.write(batch, tree, state_changes)
    kv.write(batch, sync=True)
    return tree


def _validate_schema_version(kv: KeyValueStore) -> None:
    data = kv.get(schema.SCHEMA_VERSION_KEY)
    if data != bytes([schema.SCHEMA_VERSION]):
        raise CorruptRecord(schema.SCHEMA_VERSION_KEY, f"expected schema version {schema.SCHEMA_VERSION}")


def _validate_no_foreign_keys(kv: KeyValueStore) -> None:
    # A database of another schema version (or another program) keeps keys outside our prefix.
    before = next(kv.iterate(stop=schema.VERSION_PREFIX), None)
    after = next(kv.iterate(start=bytes([schema.SCHEMA_VERSION + 1])), None)
    found = before if before is not None else after
    if found is not None:
        raise StorageError(
            f"the database holds records of schema version {found[0][0]}, and this HubLedger reads "
            f"version {schema.SCHEMA_VERSION} only (a new schema changes what blocks hold): keep "
            "the database with the HubLedger that wrote it, or start this hub on an empty data directory",
            code="SCHEMA_MISMATCH",
        )
