"""The key-value contract, run against LevelDB and the in-memory store alike."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.errors import StorageError
from storage.kv import KeyValueStore, LevelDBStore, MemoryStore, WriteBatch


def write(kv: KeyValueStore, puts: dict[bytes, bytes] | None = None, deletes: tuple[bytes, ...] = ()) -> None:
    batch = WriteBatch()
    for key, value in (puts or {}).items():
        batch.put(key, value)
    for key in deletes:
        batch.delete(key)
    kv.write(batch)


def keys(kv: KeyValueStore, **options: object) -> list[bytes]:
    return [key for key, _ in kv.iterate(**options)]  # type: ignore[arg-type]


def test_a_written_value_is_read_back_and_a_missing_key_is_none(store: KeyValueStore) -> None:
    write(store, {b"a": b"1", b"empty": b""})
    assert store.get(b"a") == b"1"
    assert store.get(b"empty") == b""  # an empty value is a value, not an absence
    assert store.get(b"missing") is None


def test_overwrite_and_delete(store: KeyValueStore) -> None:
    write(store, {b"a": b"1", b"b": b"2"})
    write(store, {b"a": b"3"}, deletes=(b"b", b"never-written"))
    assert store.get(b"a") == b"3"
    assert store.get(b"b") is None
    assert list(store.iterate()) == [(b"a", b"3")]


def test_operations_in_a_batch_apply_in_order(store: KeyValueStore) -> None:
    batch = WriteBatch()
    batch.put(b"put-then-delete", b"x")
    batch.delete(b"put-then-delete")
    batch.delete(b"delete-then-put")
    batch.put(b"delete-then-put", b"y")
    batch.put(b"twice", b"first")
    batch.put(b"twice", b"second")
    store.write(batch, sync=False)
    assert store.get(b"put-then-delete") is None
    assert store.get(b"delete-then-put") == b"y"
    assert store.get(b"twice") == b"second"


def test_an_empty_batch_changes_nothing(store: KeyValueStore) -> None:
    write(store, {b"a": b"1"})
    store.write(WriteBatch())
    assert list(store.iterate()) == [(b"a", b"1")]


def test_iteration_is_in_byte_order_and_reversible(store: KeyValueStore) -> None:
    write(store, {b"b": b"2", b"a\xff": b"3", b"a": b"1", b"\x00": b"0", b"\xff\xff": b"4"})
    assert keys(store) == [b"\x00", b"a", b"a\xff", b"b", b"\xff\xff"]
    assert keys(store, reverse=True) == [b"\xff\xff", b"b", b"a\xff", b"a", b"\x00"]


def test_prefix_start_and_stop_bound_the_iteration(store: KeyValueStore) -> None:
    write(store, {key: b"" for key in (b"p", b"p\x00", b"p1", b"p2", b"p3", b"p\xff", b"q", b"o\xff")})
    assert keys(store, prefix=b"p") == [b"p", b"p\x00", b"p1", b"p2", b"p3", b"p\xff"]
    assert keys(store, start=b"p1", stop=b"p3") == [b"p1", b"p2"]  # stop is exclusive
    assert keys(store, prefix=b"p", start=b"p2") == [b"p2", b"p3", b"p\xff"]
    assert keys(store, prefix=b"p", stop=b"p2") == [b"p", b"p\x00", b"p1"]
    assert keys(store, prefix=b"p", start=b"a", stop=b"z") == [b"p", b"p\x00", b"p1", b"p2", b"p3", b"p\xff"]
    assert keys(store, prefix=b"p", start=b"p1", stop=b"p3", reverse=True) == [b"p2", b"p1"]
    assert keys(store, start=b"p3", stop=b"p1") == []
    assert keys(store, prefix=b"r") == []


def test_a_prefix_of_ff_bytes_reaches_the_end_of_the_key_space(store: KeyValueStore) -> None:
    write(store, {b"\xfe": b"", b"\xff": b"", b"\xff\xff": b"", b"\xff\xff\x01": b""})
    assert keys(store, prefix=b"\xff\xff") == [b"\xff\xff", b"\xff\xff\x01"]
    assert keys(store, prefix=b"\xff") == [b"\xff", b"\xff\xff", b"\xff\xff\x01"]


def test_iteration_sees_the_store_as_it_was_when_it_began(store: KeyValueStore) -> None:
    write(store, {b"a": b"1", b"b": b"2", b"c": b"3"})
    forwards = store.iterate()
    backwards = store.iterate(reverse=True)
    assert next(forwards) == (b"a", b"1")
    write(store, {b"b": b"changed", b"bb": b"new"}, deletes=(b"c",))
    assert list(forwards) == [(b"b", b"2"), (b"c", b"3")]
    assert list(backwards) == [(b"c", b"3"), (b"b", b"2"), (b"a", b"1")]


def test_reverse_iteration_reaches_the_first_key_of_a_range(store: KeyValueStore) -> None:
    # plyvel's reverse iterator returned nothing here; the contract suite found it.
    write(store, {b"\x00": b"first", b"\x05": b"second"})
    assert list(store.iterate(prefix=b"\x00", reverse=True)) == [(b"\x00", b"first")]
    assert keys(store, start=b"\x00", stop=b"\x05", reverse=True) == [b"\x00"]
    assert keys(store, start=b"\x00", stop=b"\x06", reverse=True) == [b"\x05", b"\x00"]


def test_a_closed_store_refuses_to_be_used(store: KeyValueStore) -> None:
    store.close()
    with pytest.raises(StorageError) as raised:
        store.get(b"a")
    assert raised.value.code == "STORE_CLOSED"
    with pytest.raises(StorageError):
        write(store, {b"a": b"1"})
    store.close()  # closing twice is harmless


def test_a_batch_holds_only_bytes() -> None:
    batch = WriteBatch()
    with pytest.raises(TypeError):
        batch.put("text", b"value")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        batch.delete(7)  # type: ignore[arg-type]
    assert len(batch) == 0


KEY = st.binary(max_size=3)
OPERATION = st.one_of(
    st.tuples(st.just("put"), KEY, st.binary(max_size=2)), st.tuples(st.just("delete"), KEY)
)


@settings(max_examples=60, deadline=None)
@given(
    batches=st.lists(st.lists(OPERATION, max_size=6), max_size=5),
    prefix=st.binary(max_size=1),
    start=st.none() | KEY,
    stop=st.none() | KEY,
    reverse=st.booleans(),
)
def test_both_stores_agree_with_a_sorted_dictionary(
    tmp_path_factory: pytest.TempPathFactory,
    batches: list[list[tuple[str, bytes] | tuple[str, bytes, bytes]]],
    prefix: bytes,
    start: bytes | None,
    stop: bytes | None,
    reverse: bool,
) -> None:
    model: dict[bytes, bytes] = {}
    stores: list[KeyValueStore] = [MemoryStore(), LevelDBStore.open(tmp_path_factory.mktemp("db"))]
    for operations in batches:
        batch = WriteBatch()
        for operation in operations:
            if len(operation) == 3:
                batch.put(operation[1], operation[2])
                model[operation[1]] = operation[2]
            else:
                batch.delete(operation[1])
                model.pop(operation[1], None)
        for kv in stores:
            kv.write(batch, sync=False)
    expected = sorted(
        (key, value)
        for key, value in model.items()
        if key.startswith(prefix) and (start is None or key >= start) and (stop is None or key < stop)
    )
    if reverse:
        expected.reverse()
    for kv in stores:
        assert list(kv.iterate(prefix=prefix, start=start, stop=stop, reverse=reverse)) == expected
        kv.close()


def test_leveldb_keeps_what_was_written_across_a_reopen(tmp_path: Path) -> None:
    kv = LevelDBStore.open(tmp_path / "nested" / "db")  # missing parents are created
    write(kv, {b"a": b"1", b"b": b"2"}, deletes=(b"b",))
    kv.close()
    reopened = LevelDBStore.open(tmp_path / "nested" / "db")
    assert list(reopened.iterate()) == [(b"a", b"1")]
    reopened.close()


def test_leveldb_refuses_a_database_that_is_already_open(tmp_path: Path) -> None:
    kv = LevelDBStore.open(tmp_path / "db")
    with pytest.raises(StorageError) as raised:
        LevelDBStore.open(tmp_path / "db")
    assert raised.value.code == "DATABASE_LOCKED"
    assert str(tmp_path / "db") in raised.value.message
    kv.close()


def test_leveldb_explains_a_path_it_cannot_use(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a database directory")
    with pytest.raises(StorageError) as raised:
        LevelDBStore.open(tmp_path / "file")
    assert raised.value.code == "DATABASE_UNAVAILABLE"
    assert "file" in raised.value.message
