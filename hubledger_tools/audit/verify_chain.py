"""``hubledger verify-chain``: check an exported chain offline against genesis, block by block.

Theory of operation. Starting from genesis (its hash is the parent of block 1,
its accounts the opening state), every block is checked in the order a forger
would have to defeat the checks, and the first failure is reported with the
block's height, the line of the file and a stable code:

1. ``MALFORMED``: the line is not a block in the export format.
2. ``HEIGHT_GAP``: heights go 1, 2, 3, ... with none missing or repeated.
3. ``WRONG_CHAIN``: the header names the chain of this genesis.
4. ``BROKEN_LINK``: previous_hash is the hash of the block before.
5. ``TRANSACTION_COUNT``, ``MERKLE_ROOT``: the transactions are the ones the header commits to.
6. ``BAD_TRANSACTION_SIGNATURE``: every transaction is signed by its sender.
7. ``BAD_CERTIFICATE``: 2f + 1 distinct genesis validators signed COMMIT for this header.
8. ``INADMISSIBLE_TRANSACTION``, ``RECEIPTS_ROOT``, ``STATE_ROOT``: re-executing the
   transactions over the state so far gives exactly the receipts the header's receipts_root
   commits to, and the header's state root (so even a quorum of colluding validators
   cannot certify an outcome or a state the transactions do not produce).

The file's first line must describe an export of this chain starting at
height 1 (re-execution needs every block). An export of a pruning hub (version 2,
``first_block_height`` P > 1) gives blocks below P as header and certificate only,
checked by 2-4 and 7, then the state after block P-1, which must give that block's
certified state root (``STATE_ROOT``), and re-execution starts from it at P; ``TRUNCATED`` when it holds fewer
blocks than that line promises, ``UNEXPECTED_BLOCK`` when more.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts.context import BlockContext
from contracts.errors import TransactionRejected
from contracts.execution import execute_block
from contracts.genesis import compute_genesis_changes
from contracts.queries import get_total_supply
from contracts.state import DictState
from hubledger_client.encoding import parse_header, parse_transactions
from hubledger_tools.audit.errors import ChainInvalid
from hubledger_tools.audit.export import EXPORT_FORMAT, EXPORT_VERSION
from hubledger_tools.audit.progress import Progress
from ledger.block import BlockHeader, compute_transactions_root
from ledger.certificate import CommitCertificate, validate_block_certificate
from ledger.errors import CertificateInvalid, DecodeError
from ledger.genesis import Genesis
from ledger.limits import BLOCK_TRANSACTIONS_MAX
from ledger.receipt import Receipt, compute_receipts_root
from ledger.state_tree import StateTree
from ledger.transaction import Transaction
from ledger.types import Hash

LINE_CHARS_MAX = 64 * 1024 * 1024
BLOCK_FIELDS = ("certificate", "header", "height", "transactions")
PRUNED_FIELDS = ("certificate", "header", "height")


@dataclass(frozen=True)
class ChainReport:
    chain_id: str
    blocks: int
    transactions: int
    last_height: int
    last_block_hash: Hash
    state_root: Hash
    total_supply_fen: int
    first_block_height: int = 1  # below it, headers and certificates only (a pruning hub's export)


@dataclass
class _Tip:
    """The verified chain so far: what the next block must extend."""

    height: int
    block_hash: Hash
    state: DictState
    tree: StateTree
    state_root: Hash  # what the latest header says; a pruned block's is checked once the state comes
    restored: list[tuple[bytes, bytes]] | None = None  # the state lines of a pruning hub's export


def verify_chain(path: Path, genesis: Genesis, *, show_progress: bool = True) -> ChainReport:
    """Check every block of the export at ``path``; raises ChainInvalid at the first wrong one."""
    changes = compute_genesis_changes(genesis)
    tree = StateTree(changes)
    tip = _Tip(0, genesis.hash, DictState(changes), tree, tree.root)
    transactions = 0
    with path.open("r", encoding="utf-8") as stream:
        lines = _iterate_lines(stream)
        promised, first_full = _read_export_header(next(lines, (1, "")), genesis)
        progress = Progress(promised, "blocks verified") if show_progress else None
        for number, text in lines:
            value = _load_line(text, tip.height + 1, number)
            if isinstance(value, dict) and "state" in value:
                _collect_state(value, tip, first_full, number)
                continue
            if tip.height >= promised:
                raise ChainInvalid(
                    tip.height + 1,
                    "UNEXPECTED_BLOCK",
                    f"its header promises blocks up to {promised} only",
                    line=number,
                )
            if tip.height + 1 < first_full:
                _verify_pruned(_parse_pruned(value, tip.height + 1, number), genesis, tip, number)
            else:
                if first_full > 1 and tip.height + 1 == first_full:
                    _install_state(tip, number)
                transactions += _verify_block(
                    _parse_line(value, tip.height + 1, number), genesis, tip, number
                )
            if progress is not None:
                progress.advance()
        if progress is not None:
            progress.finish()
        if tip.restored is not None:  # every block was pruned: the state is still checked
            _install_state(tip, 0)
    if tip.height < promised:
        raise ChainInvalid(
            tip.height + 1,
            "TRUNCATED",
            f"the file ends after block {tip.height}; its header promises {promised}",
        )
    return ChainReport(
        genesis.chain_id,
        tip.height,
        transactions,
        tip.height,
        tip.block_hash,
        tip.tree.root,
        get_total_supply(tip.state),
        first_full,
    )


def _iterate_lines(stream: Any) -> Iterator[tuple[int, str]]:
    number = 0
    try:
        for number, text in enumerate(stream, start=1):
            if len(text) > LINE_CHARS_MAX:
                too_long = f"line {number} is longer than {LINE_CHARS_MAX} characters"
                raise ChainInvalid(0, "MALFORMED", too_long)
            if text.strip():
                yield number, text
    except UnicodeDecodeError:
        raise ChainInvalid(0, "MALFORMED", f"line {number + 1} is not UTF-8 text") from None


def _read_export_header(first: tuple[int, str], genesis: Genesis) -> tuple[int, int]:
    """The number of blocks the export promises and the first whole one, after checking it is
    an export of this chain from 1."""
    try:
        header = json.loads(first[1])
    except (ValueError, RecursionError):
        header = None
    if not isinstance(header, dict) or header.get("format") != EXPORT_FORMAT:
        raise ChainInvalid(
            0, "NOT_AN_EXPORT", "the first line is not a HubLedger chain export header", line=1
        )
    if header.get("version") != EXPORT_VERSION:
        raise ChainInvalid(
            0, "NOT_AN_EXPORT", f"export version {header.get('version')!r} is not {EXPORT_VERSION}"
        )
    if header.get("chain_id") != genesis.chain_id:
        raise ChainInvalid(
            0,
            "WRONG_CHAIN",
            f"the export is of chain {header.get('chain_id')!r}; genesis is {genesis.chain_id!r}",
        )
    first_height, last_height = header.get("from_height"), header.get("to_height")
    if first_height != 1:
        raise ChainInvalid(
            0,
            "PARTIAL_EXPORT",
            f"the export starts at height {first_height}; "
            "re-executing needs every block from 1 (export --from 1)",
        )
    if not isinstance(last_height, int) or last_height < 1:
        raise ChainInvalid(0, "NOT_AN_EXPORT", "to_height in the header is not a height")
    first_full = header.get("first_block_height", 1)
    if not isinstance(first_full, int) or not 1 <= first_full <= last_height + 1:
        raise ChainInvalid(
            0, "NOT_AN_EXPORT", "first_block_height in the header is not a height of the export"
        )
    return last_height, first_full


def _load_line(text: str, expected: int, number: int) -> Any:
    try:
        return json.loads(text, parse_float=_refuse_float)
    except ValueError as error:
        raise ChainInvalid(expected, "MALFORMED", f"not JSON: {error}", line=number) from None
    except RecursionError:
        raise ChainInvalid(expected, "MALFORMED", "not JSON: nested too deeply", line=number) from None


def _parse_pruned(value: Any, expected: int, number: int) -> tuple[BlockHeader, Any]:
    if not isinstance(value, dict) or sorted(value) != list(PRUNED_FIELDS):
        reason = f"a line below first_block_height has exactly the fields {', '.join(PRUNED_FIELDS)}"
        raise ChainInvalid(expected, "MALFORMED", reason, line=number)
    header = _parse_header(value, expected, number)
    return header, value["certificate"]


def _verify_pruned(parsed: tuple[BlockHeader, Any], genesis: Genesis, tip: _Tip, number: int) -> None:
    """A block whose body the hub pruned: its place in the chain and its certificate."""
    header, certificate_json = parsed

    def fail(code: str, message: str) -> ChainInvalid:
        return ChainInvalid(header.height, code, message, line=number)

    _verify_link(header, genesis, tip, fail)
    _verify_certificate(certificate_json, header, genesis, fail)
    tip.height, tip.block_hash, tip.state_root = header.height, header.hash, header.state_root


def _collect_state(value: dict[str, Any], tip: _Tip, first_full: int, number: int) -> None:
    if tip.height != first_full - 1 or first_full == 1 or sorted(value) != ["state"]:
        reason = "a state line belongs only between the last pruned block and the first whole one"
        raise ChainInvalid(tip.height + 1, "MALFORMED", reason, line=number)
    pairs = value["state"]
    try:
        parsed = [(bytes.fromhex(key), bytes.fromhex(item)) for key, item in pairs]
    except (TypeError, ValueError):
        raise ChainInvalid(
            tip.height + 1, "MALFORMED", "a state line lists [key hex, value hex] pairs", line=number
        ) from None
    tip.restored = [*(tip.restored or []), *parsed]


def _install_state(tip: _Tip, number: int) -> None:
    """Take the exported state after the last pruned block, once it gives that block's root."""
    pairs = tip.restored or []
    if len({key for key, _ in pairs}) != len(pairs):
        raise ChainInvalid(tip.height, "STATE_ROOT", "the exported state lists a key twice", line=number)
    tree = StateTree(pairs)
    if tree.root != tip.state_root:
        raise ChainInvalid(
            tip.height,
            "STATE_ROOT",
            f"the exported state after block {tip.height} has root {tree.root.hex()}; "
            f"its certified header says {tip.state_root.hex()}",
            line=number,
        )
    tip.state, tip.tree, tip.restored = DictState(pairs), tree, None


def _parse_header(value: dict[str, Any], expected: int, number: int) -> BlockHeader:
    try:
        header = parse_header(value["header"])
    except DecodeError as error:
        raise ChainInvalid(expected, "MALFORMED", f"header: {error.message}", line=number) from None
    if header.height != expected or value["height"] != header.height:
        found = header.height if value["height"] == header.height else f"{value['height']}/{header.height}"
        raise ChainInvalid(
            expected, "HEIGHT_GAP", f"expected block {expected}, found block {found}", line=number
        )
    return header


def _parse_line(value: Any, expected: int, number: int) -> tuple[BlockHeader, list[Transaction], Any]:
    def malformed(reason: str) -> ChainInvalid:
        return ChainInvalid(expected, "MALFORMED", reason, line=number)

    if not isinstance(value, dict) or sorted(value) != list(BLOCK_FIELDS):
        raise malformed(f"a block line has exactly the fields {', '.join(BLOCK_FIELDS)}")
    header = _parse_header(value, expected, number)
    try:
        transactions = parse_transactions(value["transactions"], BLOCK_TRANSACTIONS_MAX)
    except DecodeError as error:
        raise malformed(f"transactions: {error.message}") from None
    return header, transactions, value["certificate"]


def _verify_block(
    parsed: tuple[BlockHeader, list[Transaction], Any], genesis: Genesis, tip: _Tip, number: int
) -> int:
    """Check one block against the verified chain so far and extend the chain with it."""
    header, transactions, certificate_json = parsed
    height = header.height

    def fail(code: str, message: str) -> ChainInvalid:
        return ChainInvalid(height, code, message, line=number)

    _verify_link(header, genesis, tip, fail)
    if header.transaction_count != len(transactions):
        raise fail(
            "TRANSACTION_COUNT",
            f"the header counts {header.transaction_count} transactions, the block holds {len(transactions)}",
        )
    root = compute_transactions_root(tuple(transactions))
    if root != header.transactions_root:
        raise fail(
            "MERKLE_ROOT",
            f"the transactions hash to Merkle root {root.hex()}, "
            f"the header says {header.transactions_root.hex()}",
        )
    for index, transaction in enumerate(transactions):
        if not transaction.has_valid_signature():
            raise fail(
                "BAD_TRANSACTION_SIGNATURE",
                f"transaction {index} ({transaction.id.hex()}) is not signed by its sender",
            )
    _verify_certificate(certificate_json, header, genesis, fail)
    _execute(header, transactions, genesis, tip, fail)
    return len(transactions)


def _verify_link(header: BlockHeader, genesis: Genesis, tip: _Tip, fail: Any) -> None:
    if header.chain_id != genesis.chain_id:
        raise fail(
            "WRONG_CHAIN", f"the header names chain {header.chain_id!r}, genesis is {genesis.chain_id!r}"
        )
    if header.previous_hash != tip.block_hash:
        before = "the genesis" if tip.height == 0 else f"block {tip.height}"
        raise fail(
            "BROKEN_LINK",
            f"previous_hash is {header.previous_hash.hex()}, but {before} hashes to {tip.block_hash.hex()}",
        )


def _verify_certificate(certificate_json: Any, header: BlockHeader, genesis: Genesis, fail: Any) -> None:
    try:
        certificate = CommitCertificate.from_json(certificate_json)
        validate_block_certificate(
            certificate, header, chain_id=genesis.chain_id, validator_keys=genesis.validator_keys
        )
    except CertificateInvalid as error:
        raise fail("BAD_CERTIFICATE", error.message) from None
    except DecodeError as error:
        raise fail("BAD_CERTIFICATE", f"the certificate is malformed: {error.message}") from None


def _execute(
    header: BlockHeader, transactions: list[Transaction], genesis: Genesis, tip: _Tip, fail: Any
) -> None:
    context = BlockContext(genesis.chain_id, header.height, header.timestamp_ms)
    try:
        result = execute_block(tip.state, transactions, context, skip_inadmissible=False)
    except TransactionRejected as error:
        raise fail(
            "INADMISSIBLE_TRANSACTION", f"a transaction could never have been included: {error.message}"
        ) from None
    _verify_receipts_root(header, result.receipts, fail)
    root = tip.tree.preview(result.changes)
    if root != header.state_root:
        raise fail(
            "STATE_ROOT",
            f"re-executing the transactions gives state root {root.hex()}, "
            f"the header says {header.state_root.hex()}",
        )
    tip.state.apply_changes(result.changes)
    tip.tree.apply(result.changes)
    tip.height, tip.block_hash, tip.state_root = header.height, header.hash, header.state_root


def _verify_receipts_root(header: BlockHeader, receipts: Sequence[Receipt], fail: Any) -> None:
    root = compute_receipts_root(receipts)
    if root != header.receipts_root:
        raise fail(
            "RECEIPTS_ROOT",
            f"re-executing the transactions gives receipts with Merkle root {root.hex()}, "
            f"the header says {header.receipts_root.hex()}",
        )


def _refuse_float(text: str) -> Any:
    raise ValueError(f"{text} is not an integer")
