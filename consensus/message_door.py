"""The one door through which peer messages enter: decode, and verify every signature.

``decode_message`` turns a peer's bytes into a ``SignedMessage`` only if it is
well formed, within bounds, for this chain, from a validator, and signed by it.
Messages nested in VIEW-CHANGE and NEW-VIEW are carried as their own signed
encodings and pass through the same door, so a replica only ever sees messages
whose every signature was checked. ``parse_message`` reads the same structure
without checking signatures, for what this node stored itself.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from consensus.errors import PeerFault
from consensus.messages import (
    Body,
    Checkpoint,
    Commit,
    NewView,
    Prepare,
    PreparedCertificate,
    PrePrepare,
    RequestBatch,
    SignedMessage,
    ViewChange,
    is_signed_by,
)
from ledger import cbor
from ledger.block import Block
from ledger.errors import DecodeError, TooLarge
from ledger.keys import SIGNATURE_BYTES
from ledger.limits import BLOCK_BYTES_MAX, BLOCK_TRANSACTIONS_MAX, TEXT_MAX, VALIDATORS_MAX
from ledger.transaction import Transaction
from ledger.types import HASH_BYTES, Hash, Height, ValidatorIndex, View

# A NEW-VIEW carries a quorum of VIEW-CHANGEs, each with the prepared blocks of a
# window; the bound admits a few full windows of full blocks.
MESSAGE_BYTES_MAX = 4 * BLOCK_BYTES_MAX
PREPARED_MAX = 1024  # prepared certificates in one VIEW-CHANGE (window_max is at most 1024)
NESTING_MAX = 2  # NEW-VIEW > VIEW-CHANGE > PRE-PREPARE
# A view change needs the messages of the blocks still in flight (two windows at most); kept
# longer, they are memory: decoded, a block weighs five to eight times its encoding, and at
# 4,096 entries and 16 MiB this cache held 600 to 1,200 decoded blocks, 100 MB of a backup.
VERIFIED_ENTRIES_MAX = 1024
VERIFIED_BYTES_MAX = 4 * 1024 * 1024  # sixteen blocks of 500 transfers


class VerifiedMessages:
    """Messages that already passed the door, by their exact bytes, most recent last.

    A VIEW-CHANGE carries the PRE-PREPAREs (whole blocks) and PREPAREs its sender
    saw, and a NEW-VIEW carries a quorum of VIEW-CHANGEs: without this, every
    replica decoded and verified each block again for every VIEW-CHANGE and
    NEW-VIEW naming it, seconds of work per view change under load, long enough
    for the next view's timer to fire. Identical bytes decode, for one chain and
    one validator set, to the identical message, so a hit is exact. Bounded by
    count and by bytes; the oldest go first.
    """

    def __init__(
        self, *, entries_max: int = VERIFIED_ENTRIES_MAX, bytes_max: int = VERIFIED_BYTES_MAX
    ) -> None:
        self._entries_max = entries_max
        self._bytes_max = bytes_max
        self._messages: OrderedDict[bytes, SignedMessage] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._messages)

    def get(self, data: bytes) -> SignedMessage | None:
        message = self._messages.get(data)
        if message is not None:
            self._messages.move_to_end(data)
        return message

    def add(self, data: bytes, message: SignedMessage) -> None:
        if len(data) > self._bytes_max or data in self._messages:
            return
        self._messages[data] = message
        self._bytes += len(data)
        while len(self._messages) > self._entries_max or self._bytes > self._bytes_max:
            oldest, _ = self._messages.popitem(last=False)
            self._bytes -= len(oldest)


def decode_message(
    data: bytes,
    *,
    chain_id: str,
    validator_keys: Sequence[bytes],
    verified: VerifiedMessages | None = None,
) -> SignedMessage:
    """Decode and verify a peer's message and every message nested in it.

    ``verified`` remembers what passed, for this chain and validator set only, so
    that a message seen again (nested in a VIEW-CHANGE, say) is not decoded twice.
    Raises PeerFault with reason ``too_large``, ``malformed``, ``other_chain``,
    ``non_member`` or ``bad_signature``.
    """
    return _Decoder(chain_id, validator_keys, verify=True, verified=verified).decode(data, depth=0)


def parse_message(data: bytes, *, chain_id: str | None = None) -> SignedMessage:
    """Decode a message's structure without checking signatures (stored evidence, own log)."""
    return _Decoder(chain_id, (), verify=False).decode(data, depth=0)


def is_from_link_peer(message: SignedMessage, peer: int) -> bool:
    """Whether ``message`` may arrive over the link of ``peer``: its own, or a NEW-VIEW it
    relays as its primary signed it (to a peer that missed it; the primary may have restarted)."""
    return message.sender == peer or isinstance(message.body, NewView)


class _Decoder:
    def __init__(
        self,
        chain_id: str | None,
        validator_keys: Sequence[bytes],
        *,
        verify: bool,
        verified: VerifiedMessages | None = None,
    ) -> None:
        self.chain_id = chain_id
        self.validator_keys = validator_keys
        self.verify = verify
        self.verified = verified if verify else None
        self.body_decoders: dict[str, Callable[[Any, int], Body]] = {
            "pre_prepare": self._pre_prepare,
            "prepare": lambda value, depth: Prepare(*_vote_fields(value, "prepare")),
            "commit": lambda value, depth: Commit(*_vote_fields(value, "commit")),
            "checkpoint": self._checkpoint,
            "view_change": self._view_change,
            "new_view": self._new_view,
            "request_batch": self._request_batch,
        }

    def decode(self, data: bytes, *, depth: int) -> SignedMessage:
        if self.verified is not None:
            known = self.verified.get(data)
            if known is not None:
                return known
        message = self._decode_new(data, depth=depth)
        if self.verified is not None:
            self.verified.add(bytes(data), message)
        return message

    def _decode_new(self, data: bytes, *, depth: int) -> SignedMessage:
        try:
            value = cbor.decode(data, bytes_max=MESSAGE_BYTES_MAX)
            fields = cbor.expect_map(value, ("chain_id", "kind", "sender", "body", "signature"), "message")
            chain_id = cbor.expect_text(fields["chain_id"], "chain_id", size_max=TEXT_MAX)
            if self.chain_id is not None and chain_id != self.chain_id:
                raise PeerFault("other_chain", f"message is for chain {chain_id!r}")
            kind = cbor.expect_text(fields["kind"], "kind", size_max=32)
            sender = ValidatorIndex(cbor.expect_int(fields["sender"], "sender", high=VALIDATORS_MAX))
            signature = cbor.expect_bytes(fields["signature"], "signature", size=SIGNATURE_BYTES)
            decode_body = self.body_decoders.get(kind)
            if decode_body is None:
                raise PeerFault("malformed", f"unknown message kind {kind!r}")
            body = decode_body(fields["body"], depth)
        except TooLarge as error:
            raise PeerFault("too_large", error.message) from None
        except DecodeError as error:
            raise PeerFault("malformed", error.message) from None
        message = SignedMessage(chain_id, sender, body, signature)
        message.__dict__["encoded"] = bytes(data)  # canonical, so identical to re-encoding
        if self.verify:
            if sender >= len(self.validator_keys):
                raise PeerFault("non_member", f"sender {sender} is not a validator")
            if not is_signed_by(message, self.validator_keys):
                raise PeerFault("bad_signature", f"the {kind} of validator {sender} does not verify")
        return message

    def _nested(self, value: Any, depth: int, *kinds: str) -> SignedMessage:
        if depth >= NESTING_MAX:
            raise PeerFault("malformed", "messages are nested too deeply")
        expected = " or ".join(kinds)
        data = cbor.expect_bytes(value, f"nested {expected}", size_max=MESSAGE_BYTES_MAX)
        message = self.decode(data, depth=depth + 1)
        if message.kind not in kinds:
            raise PeerFault("malformed", f"expected a nested {expected}, found a {message.kind}")
        return message

    def _pre_prepare(self, value: Any, depth: int) -> PrePrepare:
        fields = cbor.expect_map(value, ("view", "height", "block"), "pre_prepare")
        block = Block.decode(cbor.expect_bytes(fields["block"], "block", size_max=BLOCK_BYTES_MAX))
        height = Height(cbor.expect_int(fields["height"], "height"))
        if block.height != height:
            raise PeerFault("malformed", "pre-prepare height differs from its block's height")
        if self.chain_id is not None and block.header.chain_id != self.chain_id:
            raise PeerFault("other_chain", f"block is for chain {block.header.chain_id!r}")
        return PrePrepare(View(cbor.expect_int(fields["view"], "view")), height, block)

    def _checkpoint(self, value: Any, depth: int) -> Checkpoint:
        fields = cbor.expect_map(value, ("height", "block_hash"), "checkpoint")
        return Checkpoint(
            Height(cbor.expect_int(fields["height"], "height")),
            Hash(cbor.expect_bytes(fields["block_hash"], "block_hash", size=HASH_BYTES)),
        )

    def _view_change(self, value: Any, depth: int) -> ViewChange:
        names = ("view", "checkpoint_height", "checkpoint_hash", "checkpoint_proof", "prepared")
        fields = cbor.expect_map(value, names, "view_change")
        proof = cbor.expect_list(fields["checkpoint_proof"], "checkpoint_proof", count_max=VALIDATORS_MAX)
        prepared = []
        for item in cbor.expect_list(fields["prepared"], "prepared", count_max=PREPARED_MAX):
            pair = cbor.expect_list(item, "prepared certificate", count_max=2)
            if len(pair) != 2:
                raise PeerFault("malformed", "a prepared certificate is [pre-prepare, prepares]")
            prepares = cbor.expect_list(pair[1], "prepares", count_max=VALIDATORS_MAX)
            prepared.append(
                PreparedCertificate(
                    self._nested(pair[0], depth, "pre_prepare"),
                    tuple(self._nested(prepare, depth, "prepare") for prepare in prepares),
                )
            )
        return ViewChange(
            View(cbor.expect_int(fields["view"], "view")),
            Height(cbor.expect_int(fields["checkpoint_height"], "checkpoint_height")),
            Hash(cbor.expect_bytes(fields["checkpoint_hash"], "checkpoint_hash", size=HASH_BYTES)),
            tuple(self._nested(item, depth, "checkpoint", "commit") for item in proof),
            tuple(prepared),
        )

    def _new_view(self, value: Any, depth: int) -> NewView:
        fields = cbor.expect_map(value, ("view", "view_changes", "pre_prepares"), "new_view")
        changes = cbor.expect_list(fields["view_changes"], "view_changes", count_max=VALIDATORS_MAX)
        proposals = cbor.expect_list(fields["pre_prepares"], "pre_prepares", count_max=PREPARED_MAX)
        return NewView(
            View(cbor.expect_int(fields["view"], "view")),
            tuple(self._nested(item, depth, "view_change") for item in changes),
            tuple(self._nested(item, depth, "pre_prepare") for item in proposals),
        )

    def _request_batch(self, value: Any, depth: int) -> RequestBatch:
        fields = cbor.expect_map(value, ("transactions",), "request_batch")
        items = cbor.expect_list(fields["transactions"], "transactions", count_max=BLOCK_TRANSACTIONS_MAX)
        transactions = tuple(Transaction.decode(cbor.expect_bytes(item, "transaction")) for item in items)
        if self.verify and not all(tx.has_valid_signature() for tx in transactions):  # its node checked them
            raise PeerFault("bad_signature", "a forwarded transaction's signature does not verify")
        return RequestBatch(transactions)


def _vote_fields(value: Any, what: str) -> tuple[View, Height, Hash]:
    fields = cbor.expect_map(value, ("view", "height", "block_hash"), what)
    return (
        View(cbor.expect_int(fields["view"], "view")),
        Height(cbor.expect_int(fields["height"], "height")),
        Hash(cbor.expect_bytes(fields["block_hash"], "block_hash", size=HASH_BYTES)),
    )
