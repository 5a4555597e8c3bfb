"""The consensus log: the keys and values a replica persists, and reading them back.

A replica persists what it must never contradict after a restart: its view
(whether it is changing view, and the height the view's NEW-VIEW proved final,
below which nothing is ordered in that view: the floor), every PRE-PREPARE it proposed, every
PREPARE and COMMIT it signed (a COMMIT with the prepared certificate that
justified it, so a restarted replica can still report it in a VIEW-CHANGE),
every VIEW-CHANGE it sent and its last stable checkpoint with its proof.
Keys are built here only, under a version prefix; heights and views are
8-byte big-endian so a key range is a height range.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from consensus.errors import PeerFault
from consensus.message_door import parse_message
from consensus.messages import Checkpoint, PreparedCertificate, SignedMessage
from ledger import cbor
from ledger.errors import DecodeError
from ledger.limits import VALIDATORS_MAX
from ledger.types import HASH_BYTES, Hash, Height, View

PREFIX = b"c1/"
VIEW_KEY = PREFIX + b"view"
CHECKPOINT_KEY = PREFIX + b"checkpoint"
PRE_PREPARE = b"pre-prepare/"
PREPARE = b"prepare/"
COMMIT = b"commit/"
VIEW_CHANGE = b"view-change/"
VALUE_BYTES_MAX = 1 << 30
VIEW_FIELDS = ("view", "changing", "start")


class JournalCorrupt(DecodeError):
    """Raised when the persisted consensus log cannot be read back."""

    code = "JOURNAL_CORRUPT"


def compute_vote_key(kind: bytes, height: Height, view: View) -> bytes:
    return PREFIX + kind + height.to_bytes(8, "big") + view.to_bytes(8, "big")


def compute_view_change_key(view: View) -> bytes:
    return PREFIX + VIEW_CHANGE + view.to_bytes(8, "big")


def encode_view(view: View, *, changing: bool, start: Height) -> bytes:
    """The view record. ``start``: the height the view's NEW-VIEW proved final (its floor).
    Records written before it existed have no "start": for a view entered (not view 0, not
    changing) the floor is then unknown (``Restored.start_known``), never taken as 0."""
    return cbor.encode({"view": view, "changing": changing, "start": start})


def encode_commit(commit: SignedMessage, certificate: PreparedCertificate | None) -> bytes:
    prepared = certificate.to_cbor_list() if certificate is not None else None
    return cbor.encode({"commit": commit.encode(), "prepared": prepared})


@dataclass(frozen=True)
class StableCheckpoint:
    height: Height
    block_hash: Hash
    proof: tuple[SignedMessage, ...]  # a quorum of CHECKPOINTs; empty for the starting point

    def encode(self) -> bytes:
        proof = [message.encode() for message in self.proof]
        return cbor.encode({"height": self.height, "block_hash": self.block_hash, "proof": proof})


@dataclass
class Restored:
    """What a replica wrote before it stopped."""

    view: View = View(0)  # noqa: RUF009 - NewType of int is the int itself
    changing: bool = False
    view_start: Height = Height(0)  # noqa: RUF009 - the floor the view's NEW-VIEW proved
    start_known: bool = True  # False: a view entered under a record without "start"
    own_messages: list[SignedMessage] = field(default_factory=list)  # proposals, votes, view changes
    prepared: list[PreparedCertificate] = field(default_factory=list)
    checkpoint: StableCheckpoint | None = None
    keys: list[bytes] = field(default_factory=list)


def restore(entries: Sequence[tuple[bytes, bytes]]) -> Restored:
    """Read back a replica's log; raises JournalCorrupt if an entry cannot be decoded."""
    restored = Restored()
    for key, value in entries:
        try:
            _restore_entry(restored, key, value)
        except (DecodeError, PeerFault) as error:
            raise JournalCorrupt(f"consensus log entry {key!r}: {error.message}") from None
    return restored


def _restore_entry(restored: Restored, key: bytes, value: bytes) -> None:
    # An unknown key means the log was handed back under other keys than Persist gave:
    # ignoring it could let a restarted replica sign against its own past votes.
    if not key.startswith(PREFIX):
        raise DecodeError("the key was not written by this replica (keys must come back as persisted)")
    restored.keys.append(key)
    if key == VIEW_KEY:
        record = _decode(value)
        has_start = isinstance(record, dict) and "start" in record  # older records lack it
        fields = cbor.expect_map(record, VIEW_FIELDS if has_start else VIEW_FIELDS[:2], "view record")
        restored.view = View(cbor.expect_int(fields["view"], "view"))
        restored.changing = bool(fields["changing"])
        restored.view_start = Height(cbor.expect_int(fields["start"], "start") if has_start else 0)
        restored.start_known = has_start or restored.view == 0 or restored.changing
    elif key == CHECKPOINT_KEY:
        restored.checkpoint = _decode_checkpoint(_decode(value))
    elif not any(key.startswith(PREFIX + kind) for kind in (PRE_PREPARE, PREPARE, COMMIT, VIEW_CHANGE)):
        raise DecodeError("unknown consensus log key")
    elif key.startswith(PREFIX + COMMIT):
        fields = cbor.expect_map(_decode(value), ("commit", "prepared"), "commit record")
        restored.own_messages.append(parse_message(cbor.expect_bytes(fields["commit"], "commit")))
        if fields["prepared"] is not None:
            restored.prepared.append(_decode_prepared(fields["prepared"]))
    else:
        restored.own_messages.append(parse_message(value))


def _decode(value: bytes) -> Any:
    return cbor.decode(value, bytes_max=VALUE_BYTES_MAX)


def _decode_checkpoint(value: Any) -> StableCheckpoint:
    fields = cbor.expect_map(value, ("height", "block_hash", "proof"), "checkpoint record")
    proof = cbor.expect_list(fields["proof"], "proof", count_max=VALIDATORS_MAX)
    messages = tuple(parse_message(cbor.expect_bytes(item, "checkpoint")) for item in proof)
    if not all(isinstance(message.body, Checkpoint) for message in messages):
        raise DecodeError("a checkpoint proof holds CHECKPOINT messages only")
    return StableCheckpoint(
        Height(cbor.expect_int(fields["height"], "height")),
        Hash(cbor.expect_bytes(fields["block_hash"], "block_hash", size=HASH_BYTES)),
        messages,
    )


def _decode_prepared(value: Any) -> PreparedCertificate:
    pair = cbor.expect_list(value, "prepared certificate", count_max=2)
    if len(pair) != 2:
        raise DecodeError("a prepared certificate is [pre-prepare, prepares]")
    prepares = cbor.expect_list(pair[1], "prepares", count_max=VALIDATORS_MAX)
    return PreparedCertificate(
        parse_message(cbor.expect_bytes(pair[0], "pre_prepare")),
        tuple(parse_message(cbor.expect_bytes(item, "prepare")) for item in prepares),
    )


def get_key_height(key: bytes) -> Height | None:
    """The height of a proposal or vote key, None for other keys."""
    for kind in (PRE_PREPARE, PREPARE, COMMIT):
        if key.startswith(PREFIX + kind):
            return Height(int.from_bytes(key[len(PREFIX + kind) :][:8], "big"))
    return None
