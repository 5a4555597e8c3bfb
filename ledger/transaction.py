"""The signed transaction: who calls which contract method with which arguments.

A transaction names its chain, its sender's public key, the sender's next
nonce, a contract, a method and the method's arguments. The sender signs the
canonical CBOR of all of that; the id is the hash of the signed encoding, so a
resubmitted transaction has the same id and can be deduplicated.
Arguments hold only JSON-representable values (no bytes), so the JSON and CBOR
forms of a transaction describe exactly the same signed bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ledger import cbor
from ledger.errors import DecodeError, SignatureInvalid
from ledger.hashing import Domain, compute_hash
from ledger.keys import PUBLIC_KEY_BYTES, SIGNATURE_BYTES, PrivateKey, compute_address, verify_signature
from ledger.limits import ARGS_ITEMS_MAX, TEXT_MAX, TRANSACTION_BYTES_MAX
from ledger.types import Address, Hash, Nonce

SIGNING_PREFIX = b"hubledger/transaction-signature\n"
_SIGNATURE_ENTRY_HEAD = cbor.encode("signature") + cbor.encode_head(2, SIGNATURE_BYTES)
_FIELDS = ("chain_id", "sender", "nonce", "contract", "method", "args", "signature")


@dataclass(frozen=True)
class Transaction:
    chain_id: str
    sender: bytes  # compressed P-256 public key of the signer
    nonce: Nonce
    contract: str
    method: str
    args: Mapping[str, Any]
    signature: bytes = field(default=b"", repr=False)

    @classmethod
    def create(
        cls,
        key: PrivateKey,
        *,
        chain_id: str,
        nonce: int,
        contract: str,
        method: str,
        args: Mapping[str, Any],
    ) -> Transaction:
        unsigned = cls(chain_id, key.public_key.data, Nonce(nonce), contract, method, dict(args))
        validate_args(unsigned.args)
        return unsigned.with_signature(key.sign(unsigned.signing_bytes()))

    def with_signature(self, signature: bytes) -> Transaction:
        return Transaction(
            self.chain_id, self.sender, self.nonce, self.contract, self.method, self.args, signature
        )

    def signing_bytes(self) -> bytes:
        if len(self.signature) == SIGNATURE_BYTES:
            # "signature" is the longest key, so it sorts last: the signed body is the
            # transaction's own encoding without its last entry, one key fewer in the head.
            encoded = self.encoded
            tail = _SIGNATURE_ENTRY_HEAD + self.signature
            if encoded[0] == 0xA7 and encoded.endswith(tail):
                return SIGNING_PREFIX + b"\xa6" + encoded[1 : -len(tail)]
        body = self.to_cbor_map()
        del body["signature"]
        return SIGNING_PREFIX + cbor.encode(body)

    def to_cbor_map(self) -> dict[str, Any]:
        return {  # in canonical key order
            "args": dict(self.args),
            "nonce": self.nonce,
            "method": self.method,
            "sender": self.sender,
            "chain_id": self.chain_id,
            "contract": self.contract,
            "signature": self.signature,
        }

    @cached_property
    def encoded(self) -> bytes:
        return cbor.encode(self.to_cbor_map())

    @cached_property
    def id(self) -> Hash:
        return compute_hash(Domain.TRANSACTION, self.encoded)

    @cached_property
    def sender_address(self) -> Address:
        return compute_address(self.sender)

    def has_valid_signature(self) -> bool:
        return verify_signature(self.sender, self.signing_bytes(), self.signature)

    def validate_signature(self) -> None:
        if not self.has_valid_signature():
            raise SignatureInvalid("the transaction's signature does not verify against its sender key")

    @classmethod
    def decode(cls, data: bytes) -> Transaction:
        transaction = cls.from_cbor_map(cbor.decode(data, bytes_max=TRANSACTION_BYTES_MAX))
        transaction.__dict__["encoded"] = bytes(data)  # canonical, so identical to re-encoding
        return transaction

    @classmethod
    def from_cbor_map(cls, value: Any) -> Transaction:
        fields = cbor.expect_map(value, _FIELDS, "transaction")
        args = fields["args"]
        if not isinstance(args, dict):
            raise DecodeError("transaction args must be a map")
        validate_args(args)
        return cls(
            chain_id=cbor.expect_text(fields["chain_id"], "chain_id", size_max=TEXT_MAX),
            sender=cbor.expect_bytes(fields["sender"], "sender", size=PUBLIC_KEY_BYTES),
            nonce=Nonce(cbor.expect_int(fields["nonce"], "nonce")),
            contract=cbor.expect_text(fields["contract"], "contract", size_max=64),
            method=cbor.expect_text(fields["method"], "method", size_max=64),
            args=args,
            signature=cbor.expect_bytes(fields["signature"], "signature", size=SIGNATURE_BYTES),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "sender": self.sender.hex(),
            "nonce": self.nonce,
            "contract": self.contract,
            "method": self.method,
            "args": dict(self.args),
            "signature": self.signature.hex(),
        }

    @classmethod
    def from_json(cls, value: Any) -> Transaction:
        fields = cbor.expect_map(value, _FIELDS, "transaction")
        converted = dict(fields)
        for name in ("sender", "signature"):
            text = cbor.expect_text(fields[name], name, size_max=256)
            try:
                converted[name] = bytes.fromhex(text)
            except ValueError:
                raise DecodeError(f"{name} must be a hex string") from None
        return cls.from_cbor_map(converted)


def validate_args(args: Mapping[str, Any]) -> None:
    """Arguments are JSON-like: text keys; int, text, bool, null, arrays and maps; no bytes."""
    if len(args) > ARGS_ITEMS_MAX:
        raise DecodeError(f"transaction args have more than {ARGS_ITEMS_MAX} entries")
    cbor.validate_value(dict(args), depth=0)
    _reject_bytes(dict(args), depth=0)


def _reject_bytes(value: Any, *, depth: int) -> None:
    if depth > 8:
        raise DecodeError("transaction args are nested deeper than 8 levels")
    if isinstance(value, bytes):
        raise DecodeError("transaction args may not hold byte strings; use hex text")
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for item in children:
        _reject_bytes(item, depth=depth + 1)
