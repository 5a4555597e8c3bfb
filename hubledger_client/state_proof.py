"""State proofs of one account: built by a node, checked offline by anyone with genesis.

A node builds the document (node/state_proofs.py; ``Client.get_account_proof`` fetches it):
the account's record and balance as the contracts store them, each with its
bucket and the 16 sibling hashes up to a state root, the header carrying that
root and the header's commit certificate. Checking it trusts no hub: 2f + 1
genesis validators must have signed COMMIT for the header (the check
hubledger_client.proof makes for transactions), each record must lead to the
header's ``state_root``, and the keys must be this account's (ledger/account_state.py).

The document must be exactly what a node writes: lowercase hex, entries in
key-hash order, the header and certificate as a node renders them. Any other
byte is refused, so a document that verifies is the one the hub signed nothing
for and the validators certified.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from hubledger_client.encoding import parse_header
from hubledger_client.proof import ProofInvalid, verify_certificate
from ledger import cbor
from ledger.account_state import AccountRecord, decode_int, get_account_key, get_balance_key
from ledger.block import BlockHeader
from ledger.certificate import CommitCertificate
from ledger.errors import DecodeError
from ledger.genesis import Genesis
from ledger.state_tree import BUCKET_BITS, StateProof, StateProofError, verify_state_proof
from ledger.types import ADDRESS_BYTES, HASH_BYTES, Address, Hash

STATE_PROOF_FORMAT = "hubledger-state-proof"
STATE_PROOF_VERSION = 1
ENTRIES_MAX = 4096  # a bucket holds about 15 entries at a million keys, 150 at ten million
VALUE_BYTES_MAX = 4096
_FIELDS = (
    "format",
    "version",
    "chain_id",
    "address",
    "height",
    "records",
    "header",
    "block_hash",
    "certificate",
)
_RECORD_FIELDS = ("key", "value", "entries", "siblings")


@dataclass(frozen=True)
class AccountStateReport:
    """What a verified proof shows: the account's facts at ``height``, certified by ``signers``."""

    chain_id: str
    address: Address
    height: int
    block_hash: Hash
    state_root: Hash
    exists: bool  # False: the state holds no record of this address (balance 0)
    balance_fen: int
    record: AccountRecord | None
    signers: tuple[str, ...]
    validators: int

    @property
    def frozen(self) -> bool:
        return self.record is not None and self.record.frozen


def verify_account_proof(document: Any, genesis: Genesis) -> AccountStateReport:
    """Check a state proof against ``genesis``; raises ProofInvalid naming the check that failed."""
    fields = _expect(lambda: cbor.expect_map(document, _FIELDS, "state proof"))
    if fields["format"] != STATE_PROOF_FORMAT or not _is_int(fields["version"], STATE_PROOF_VERSION):
        raise ProofInvalid("this is not a HubLedger state proof (version 1)", code="NOT_A_PROOF")
    address = Address(_hex(fields["address"], "address", size=ADDRESS_BYTES))
    header = _canonical_header(fields["header"])
    if not _is_int(fields["height"], header.height) or (fields["chain_id"], fields["block_hash"]) != (
        header.chain_id,
        header.hash.hex(),
    ):
        raise ProofInvalid(
            "the proof's chain, height or block hash is not the header's", code="HEADER_MISMATCH"
        )
    _expect_canonical_certificate(fields["certificate"])
    signers = verify_certificate(header, fields["certificate"], genesis)
    keys = (get_account_key(address), get_balance_key(address))
    records = _expect(lambda: cbor.expect_list(fields["records"], "records", count_max=len(keys)))
    if len(records) != len(keys):
        raise ProofInvalid(
            f"a state proof holds {len(keys)} records: the account and its balance", code="MALFORMED"
        )
    account, balance = (
        _verified_value(item, key, header.state_root) for item, key in zip(records, keys, strict=True)
    )
    record = None if account is None else _expect(lambda: AccountRecord.decode(account))
    return AccountStateReport(
        chain_id=header.chain_id,
        address=address,
        height=header.height,
        block_hash=header.hash,
        state_root=header.state_root,
        exists=record is not None,
        balance_fen=0 if balance is None else _expect(lambda: decode_int(balance, "balance")),
        record=record,
        signers=signers,
        validators=len(genesis.validators),
    )


def _verified_value(item: Any, key: bytes, state_root: Hash) -> bytes | None:
    """The value a record of the document proves under ``state_root``, which must be of ``key``."""
    fields = _expect(lambda: cbor.expect_map(item, _RECORD_FIELDS, "record"))
    if _hex(fields["key"], "key", size_max=VALUE_BYTES_MAX) != key:
        raise ProofInvalid(
            f"the document proves key {fields['key']}, not {key.hex()} of this account", code="WRONG_KEY"
        )
    value = None if fields["value"] is None else _hex(fields["value"], "value", size_max=VALUE_BYTES_MAX)
    entries = _expect(lambda: cbor.expect_list(fields["entries"], "entries", count_max=ENTRIES_MAX))
    pairs = [_entry(entry) for entry in entries]
    if any(earlier[0] >= later[0] for earlier, later in pairwise(pairs)):
        raise ProofInvalid("bucket entries are listed once each, in key-hash order", code="MALFORMED")
    siblings = _expect(lambda: cbor.expect_list(fields["siblings"], "siblings", count_max=BUCKET_BITS))
    proof = StateProof(
        key=key,
        value=value,
        entries=dict(pairs),
        siblings=tuple(Hash(_hex(sibling, "sibling", size=HASH_BYTES)) for sibling in siblings),
    )
    try:
        verify_state_proof(state_root, proof)
    except StateProofError as error:
        raise ProofInvalid(f"record {key.hex()}: {error}", code="STATE_PROOF") from None
    return value


def _entry(entry: Any) -> tuple[bytes, bytes]:
    pair = _expect(lambda: cbor.expect_list(entry, "bucket entry", count_max=2))
    if len(pair) != 2:
        raise ProofInvalid("a bucket entry is [key hash, value hash]", code="MALFORMED")
    return _hex(pair[0], "entry key hash", size=HASH_BYTES), _hex(
        pair[1], "entry value hash", size=HASH_BYTES
    )


def _canonical_header(value: Any) -> BlockHeader:
    header: BlockHeader = _expect(lambda: parse_header(value))
    if header.to_json() != value:
        raise ProofInvalid("the header is not written as a node writes it", code="MALFORMED")
    return header


def _expect_canonical_certificate(value: Any) -> None:
    if _expect(lambda: CommitCertificate.from_json(value)).to_json() != value:
        raise ProofInvalid("the certificate is not written as a node writes it", code="MALFORMED")


def _hex(value: Any, what: str, *, size: int | None = None, size_max: int = HASH_BYTES) -> bytes:
    """Bytes from lowercase hex, the only spelling a node writes (so no byte changes unseen)."""
    limit = size if size is not None else size_max
    if isinstance(value, str) and len(value) <= 2 * limit:
        try:
            data = bytes.fromhex(value)
        except ValueError:
            data = None
        if data is not None and data.hex() == value and (size is None or len(data) == size):
            return data
    spelled = f"{2 * size} lowercase hex characters" if size is not None else "lowercase hex"
    raise ProofInvalid(f"{what} must be {spelled}", code="MALFORMED")


def _is_int(value: Any, expected: int) -> bool:
    """``value`` is the integer ``expected`` (JSON's true is not 1 here, whatever Python says)."""
    return type(value) is int and value == expected


def _expect(parse: Any) -> Any:
    try:
        return parse()
    except (DecodeError, ValueError) as error:
        raise ProofInvalid(getattr(error, "message", str(error)), code="MALFORMED") from None
