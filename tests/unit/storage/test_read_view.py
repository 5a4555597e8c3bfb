"""A read view sees the store as it was when taken, whatever is written after, until closed."""

from __future__ import annotations

import pytest

from storage.errors import StorageError
from storage.kv import KeyValueStore, LevelDBStore, MemoryStore, WriteBatch


def put(store: KeyValueStore, *pairs: tuple[bytes, bytes | None]) -> None:
    batch = WriteBatch()
    for key, value in pairs:
        if value is None:
            batch.delete(key)
        else:
            batch.put(key, value)
    store.write(batch)


def test_a_view_does_not_see_later_writes(store: KeyValueStore) -> None:
    assert isinstance(store, LevelDBStore | MemoryStore)
    put(store, (b"a1", b"old"), (b"a2", b"kept"))
    view = store.read_view()
    put(store, (b"a1", b"new"), (b"a2", None), (b"a3", b"added"))
    assert view.get(b"a1") == b"old" and view.get(b"a3") is None
    assert list(view.iterate(prefix=b"a")) == [(b"a1", b"old"), (b"a2", b"kept")]
    assert list(view.iterate(prefix=b"a", start=b"a2")) == [(b"a2", b"kept")]
    assert list(store.iterate(prefix=b"a")) == [(b"a1", b"new"), (b"a3", b"added")]
    view.close()
    with pytest.raises(StorageError) as caught:
        view.get(b"a1")
    assert caught.value.code == "STORE_CLOSED"
