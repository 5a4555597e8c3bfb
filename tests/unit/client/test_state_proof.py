"""A state proof of an account, built from a real chain store, verifies offline with genesis
alone; every value of the document, changed, is refused with the check that caught it."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contracts.queries import get_account
from hubledger_client.proof import ProofInvalid
from hubledger_client.state_proof import verify_account_proof
from hubledger_tools.netgen import generate_network
from ledger.types import Address
from node.application import ChainStateReader
from node.state_proofs import AccountProver
from storage.chain import ChainStore
from storage.kv import MemoryStore
from tests.unit.node.audit_chain import HUBS, AuditChain, build_audit_chain

Path_ = tuple[str | int, ...]
HISTORY = 1000  # [storage] state_history_blocks


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory) -> AuditChain:
    return build_audit_chain(tmp_path_factory.mktemp("state") / "net", block_count=2, transfers_per_block=3)


def build_account_proof(
    audit: AuditChain, address: Address, height: int | None = None
) -> dict[str, Any] | None:
    return asyncio.run(AccountProver(audit.chain, audit.kv, history_blocks=HISTORY).prove(address, height))


def address_of(audit: AuditChain, name: str) -> Address:
    return audit.account_key(name).public_key.address


@pytest.fixture(scope="module")
def proof(audit: AuditChain) -> dict[str, Any]:
    document = build_account_proof(audit, address_of(audit, "bank-beijing"))
    assert document is not None
    return document


def refused(document: Any, audit: AuditChain) -> ProofInvalid:
    with pytest.raises(ProofInvalid) as caught:
        verify_account_proof(document, audit.genesis)
    return caught.value


def test_an_accounts_proof_shows_what_reading_the_account_shows(
    audit: AuditChain, proof: dict[str, Any]
) -> None:
    for name in ("bank-beijing", "bank-shanghai", "central-bank"):
        address = address_of(audit, name)
        document = build_account_proof(audit, address)
        report = verify_account_proof(document, audit.genesis)
        shown = get_account(ChainStateReader(audit.chain), address)
        assert shown is not None and report.record is not None
        assert (report.address, report.height, report.exists) == (address, 2, True)
        assert report.balance_fen == shown["balance"]
        assert (report.record.role, report.record.hub, report.frozen) == (
            shown["role"],
            shown["hub"],
            shown["frozen"],
        )
        assert report.record.transfer_max == shown["limits"]["transfer_max"]
        assert report.block_hash == audit.blocks[1][0].hash
        assert (report.signers, report.validators) == (("beijing", "shanghai", "shenzhen"), 4)
    assert verify_account_proof(proof, audit.genesis).balance_fen < 10**18


def test_an_unknown_address_has_a_proof_of_absence(audit: AuditChain) -> None:
    document = build_account_proof(audit, Address(b"\x42" * 20))
    report = verify_account_proof(document, audit.genesis)
    assert (report.exists, report.record, report.balance_fen, report.height) == (False, None, 0, 2)
    assert document is not None and [record["value"] for record in document["records"]] == [None, None]


def leaves(value: Any, path: Path_ = ()) -> Iterator[Path_]:
    if isinstance(value, dict):
        for name, item in value.items():
            yield from leaves(item, (*path, name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, (*path, index))
    else:
        yield path


def changed(value: Any, position: int) -> Any:
    """``value`` with one character (at ``position`` of a string) or its number or flag changed."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if value is None:
        return "00"
    index = position % len(value)
    character = "1" if value[index] == "0" else "0"
    return value[:index] + character + value[index + 1 :]


def at(document: Any, path: Path_) -> tuple[Any, str | int]:
    for step in path[:-1]:
        document = document[step]
    return document, path[-1]


@pytest.mark.parametrize("position", [0, -1])
def test_every_value_changed_anywhere_in_the_document_is_refused(
    audit: AuditChain, proof: dict[str, Any], position: int
) -> None:
    """Each sibling, entry, key, value, header field, certificate vote: the first and last character."""
    paths = list(leaves(proof))
    assert len(paths) > 2 * 16 + 9  # siblings of both records, the header's fields, and more
    codes = {}
    for path in paths:
        forged = copy.deepcopy(proof)
        parent, name = at(forged, path)
        parent[name] = changed(parent[name], position)
        codes[path] = refused(forged, audit).code
    assert codes[("records", 0, "siblings", 7)] == "STATE_PROOF"
    assert codes[("records", 1, "value")] == "STATE_PROOF"
    assert codes[("records", 0, "key")] == "WRONG_KEY"
    assert codes[("address",)] == "WRONG_KEY"
    assert codes[("header", "state_root")] == "HEADER_MISMATCH"
    assert codes[("certificate", "votes", 1, "signature")] in ("BAD_CERTIFICATE", "MALFORMED")
    assert codes[("version",)] == "NOT_A_PROOF"


def test_a_proof_of_absence_changed_anywhere_is_refused(audit: AuditChain) -> None:
    document = build_account_proof(audit, Address(b"\x42" * 20))
    for path in leaves(document):
        forged = copy.deepcopy(document)
        parent, name = at(forged, path)
        parent[name] = changed(parent[name], -1)
        refused(forged, audit)


def test_every_byte_of_the_saved_file_changed_is_refused(audit: AuditChain, proof: dict[str, Any]) -> None:
    """The file as an auditor receives it (compact JSON): each byte replaced by another, the file
    is no longer JSON or no longer verifies."""
    text = json.dumps(proof, separators=(",", ":"))
    for index, character in enumerate(text):
        other = "0" if character != "0" else "1"
        try:
            forged = json.loads(text[:index] + other + text[index + 1 :])
        except ValueError:
            continue
        with pytest.raises(ProofInvalid):
            verify_account_proof(forged, audit.genesis)


def test_an_entry_removed_added_or_reordered_is_refused(audit: AuditChain, proof: dict[str, Any]) -> None:
    entries = proof["records"][0]["entries"]
    forged = copy.deepcopy(proof)
    forged["records"][0]["entries"] = [*entries, entries[-1]]
    assert refused(forged, audit).code == "MALFORMED"
    forged["records"][0]["entries"] = entries[:-1]
    assert refused(forged, audit).code == "STATE_PROOF"
    other = copy.deepcopy(proof)
    other["records"][0]["siblings"] = other["records"][0]["siblings"][:-1]
    assert refused(other, audit).code == "STATE_PROOF"


def test_a_present_record_claimed_absent_is_refused(audit: AuditChain, proof: dict[str, Any]) -> None:
    forged = copy.deepcopy(proof)
    forged["records"][1]["value"] = None
    error = refused(forged, audit)
    assert error.code == "STATE_PROOF"
    assert "claims it is absent" in error.message


def test_another_accounts_records_do_not_prove_this_account(audit: AuditChain, proof: dict[str, Any]) -> None:
    other = build_account_proof(audit, address_of(audit, "bank-shanghai"))
    assert other is not None
    forged = copy.deepcopy(proof)
    forged["records"][1] = other["records"][1]
    assert refused(forged, audit).code == "WRONG_KEY"


def test_uppercase_hex_and_extra_fields_are_refused(audit: AuditChain, proof: dict[str, Any]) -> None:
    forged = copy.deepcopy(proof)
    forged["records"][0]["siblings"][0] = forged["records"][0]["siblings"][0].upper()
    assert refused(forged, audit).code == "MALFORMED"
    forged = copy.deepcopy(proof)
    forged["header"]["state_root"] = forged["header"]["state_root"].upper()
    assert refused(forged, audit).code == "MALFORMED"
    assert refused({**proof, "note": "trust me"}, audit).code == "MALFORMED"
    assert refused([], audit).code == "MALFORMED"


def test_a_number_spelled_as_a_flag_or_a_fraction_is_refused(
    audit: AuditChain, proof: dict[str, Any]
) -> None:
    """JSON's true and 2.0 equal 1 and 2 in Python; in a proof they are other bytes."""
    assert refused({**proof, "version": True}, audit).code == "NOT_A_PROOF"
    assert refused({**proof, "height": float(proof["height"])}, audit).code == "HEADER_MISMATCH"
    assert refused({**proof, "header": {**proof["header"], "view": False}}, audit).code == "MALFORMED"
    votes = [{**vote, "validator": float(vote["validator"])} for vote in proof["certificate"]["votes"]]
    assert (
        refused({**proof, "certificate": {**proof["certificate"], "votes": votes}}, audit).code == "MALFORMED"
    )


def test_a_certificate_short_of_a_quorum_is_refused(audit: AuditChain, proof: dict[str, Any]) -> None:
    forged = copy.deepcopy(proof)
    forged["certificate"]["votes"] = forged["certificate"]["votes"][:2]
    error = refused(forged, audit)
    assert (error.code, error.message) == ("BAD_CERTIFICATE", "certificate has 2 votes, a quorum is 3")


def test_another_networks_genesis_does_not_accept_the_proof(
    audit: AuditChain, proof: dict[str, Any], tmp_path: Path
) -> None:
    other = generate_network(HUBS, tmp_path / "other", chain_id="another-chain")
    with pytest.raises(ProofInvalid) as caught:
        verify_account_proof(proof, other)
    assert caught.value.code == "WRONG_CHAIN"


def test_before_the_first_block_there_is_no_certified_header_to_prove_against(audit: AuditChain) -> None:
    from contracts.genesis import compute_genesis_changes

    kv = MemoryStore()
    chain = ChainStore(kv)
    chain.initialize(audit.genesis.hash, compute_genesis_changes(audit.genesis))
    prover = AccountProver(chain, kv, history_blocks=HISTORY)
    assert asyncio.run(prover.prove(address_of(audit, "bank-beijing"))) is None
