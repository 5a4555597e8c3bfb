"""Properties over random sequences of transactions from random accounts.

Hypothesis draws operations (transfers, issues, freezes, securities, DvPs,
escrows, netting batches...) from a small pool of accounts so that they
collide often: overdrafts, expired deals, frozen parties, reused ids. Each
sequence runs twice, once transaction by transaction over a dict-backed
state and once block by block over a stack of overlays, and must produce the
same state digest chain. After every block money and securities are conserved
and nothing is negative; every failed transaction changed only its nonce, and
every settled DvP or netting batch moved exactly its legs.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import event as note_event
from hypothesis import strategies as st

from contracts import accessors, keys
from contracts.context import BlockContext
from contracts.errors import TransactionRejected
from contracts.execution import execute_block, execute_transaction, get_next_nonce
from contracts.records import DvpRecord, EscrowRecord, SecurityRecord, decode_int
from contracts.state import DictState, Overlay, StateReader
from ledger.receipt import Receipt
from ledger.state_tree import StateTree
from ledger.transaction import Transaction
from ledger.types import Address, Hash, Height, Nonce, TimestampMs

CENTRAL_BANK, REGULATOR = 1, 2
BANKS = (3, 4, 5, 6)
INSTITUTIONS = (7, 8)
EVERYONE = (CENTRAL_BANK, REGULATOR, *BANKS, *INSTITUTIONS, 9)  # 9 is never registered
SECURITIES = ("S0", "S1")
DEAL_IDS = ("X0", "X1", "X2")
BLOCK_TRANSACTIONS_MAX = 4

small = st.integers(1, 3_000)
amounts = st.one_of(
    small,
    small,
    small,
    small,
    small,
    small,
    st.integers(-2, 0),
    st.integers(900_000, 1_100_000),
    st.just(2**63),
)
accounts = st.one_of(st.sampled_from(BANKS), st.sampled_from(BANKS), st.sampled_from(EVERYONE))
operation = st.tuples(
    st.sampled_from(
        (
            "transfer", "issue", "redeem", "register", "freeze", "unfreeze", "set_limit",
            "create", "give", "propose", "accept", "cancel", "expire", "lock", "release",
            "reclaim", "settle", "propose", "accept", "lock", "release", "settle", "transfer", "give",
            "propose", "propose", "lock", "accept", "release",
        )
    ),
    accounts,
    accounts,
    accounts,
    amounts,
    st.integers(0, 2),
    st.integers(0, 6),
)  # fmt: skip
operations = st.lists(operation, min_size=10, max_size=36)
# Securities and institutions exist from the start, so deals and limits have something to work on.
PRELUDE = [
    ("create", BANKS[0], BANKS[0], BANKS[0], 500, 0, 0),
    ("create", BANKS[1], BANKS[1], BANKS[1], 500, 1, 0),
    ("register", BANKS[0], INSTITUTIONS[0], BANKS[0], 0, 0, 0),
    ("register", BANKS[1], INSTITUTIONS[1], BANKS[1], 0, 0, 0),
    *[("give", BANKS[0], bank, bank, 100, 0, 0) for bank in BANKS[1:]],
    *[("give", BANKS[1], bank, bank, 100, 1, 0) for bank in BANKS[2:] + BANKS[:1]],
]


def build_call(chain: Any, op: tuple[Any, ...]) -> tuple[int, str, str, dict[str, Any]]:
    """(sender, contract, method, args) for one drawn operation."""
    kind, sender, a, b, amount, index, offset = op
    to, other = chain.address_of(a), chain.address_of(b)
    deal, security = DEAL_IDS[index], SECURITIES[index % 2]
    if offset % 2 == 0:  # half the deal calls come from the deal's usual second party
        to = chain.address_of(BANKS[(index + 1) % len(BANKS)])
        second = BANKS[(index + 1) % len(BANKS)]
    else:
        second = sender
    expiry = chain.height + 1 + offset
    calls: dict[str, tuple[int, str, str, dict[str, Any]]] = {
        "transfer": (sender, "cbdc", "transfer", {"to": to, "amount": amount}),
        "issue": (CENTRAL_BANK, "cbdc", "issue", {"to": to, "amount": amount}),
        "redeem": (sender, "cbdc", "redeem", {"amount": amount}),
        "register": (sender, "accounts", "register_institution", {"public_key": chain.public_key_of(a)}),
        "freeze": (REGULATOR, "accounts", "freeze", {"account": to}),
        "unfreeze": (REGULATOR, "accounts", "unfreeze", {"account": to}),
        "set_limit": (sender, "accounts", "set_limit", {"account": to, "transfer_max": amount}),
        "create": (sender, "securities", "create", {"security_id": security, "name": "s", "supply": amount}),
        "give": (sender, "securities", "transfer", {
            "security_id": security, "to": to, "quantity": amount % 50,
        }),
        "propose": (sender, "dvp", "propose", {
            "dvp_id": deal, "counterparty": to, "security_id": security, "quantity": 1 + amount % 20,
            "amount": amount, "expiry_height": expiry,
        }),
        "accept": (second, "dvp", "accept", {"dvp_id": deal}),
        "cancel": (sender, "dvp", "cancel", {"dvp_id": deal}),
        "expire": (sender, "dvp", "expire", {"dvp_id": deal}),
        "lock": (sender, "escrow", "lock", {
            "escrow_id": deal, "payee": to, "arbiter": other, "amount": amount, "expiry_height": expiry,
        }),
        "release": (second, "escrow", "release", {"escrow_id": deal}),
        "reclaim": (sender, "escrow", "reclaim", {"escrow_id": deal}),
        "settle": (sender if index else CENTRAL_BANK, "netting", "settle", {"obligations": [
            {"from": to, "to": other, "amount": amount},
            {"from": other, "to": chain.address_of(sender), "amount": 700},
        ]}),
    }  # fmt: skip
    return calls[kind]


def sum_prefix(state: DictState, prefix: bytes) -> int:
    return sum(decode_int(value, "quantity") for _, value in state.iterate(prefix))


def check_conservation(state: DictState) -> None:
    open_escrows = [EscrowRecord.decode(v) for _, v in state.iterate(keys.ESCROW_PREFIX)]
    locked = sum(e.amount for e in open_escrows if e.status == "open")
    assert accessors.get_locked_in_escrow(state) == locked
    assert accessors.get_total_supply(state) == sum_prefix(state, keys.BALANCE_PREFIX) + locked
    dvps = [DvpRecord.decode(v) for _, v in state.iterate(keys.DVP_PREFIX)]
    for key, value in state.iterate(keys.SECURITY_PREFIX):
        security_id = keys.get_id_from_key(key, keys.SECURITY_PREFIX)
        held = sum(
            decode_int(v, "holding")
            for k, v in state.iterate(keys.HOLDING_PREFIX)
            if k[len(keys.HOLDING_PREFIX) + 20 :] == security_id.encode()
        )
        in_deals = sum(d.quantity for d in dvps if d.status == "open" and d.security_id == security_id)
        assert SecurityRecord.decode(value).supply == held + in_deals
    for prefix in (keys.BALANCE_PREFIX, keys.HOLDING_PREFIX, keys.NONCE_PREFIX):
        assert all(decode_int(v, "stored quantity") > 0 for _, v in state.iterate(prefix))


def snapshot_values(state: StateReader, keys_of_interest: list[bytes]) -> list[bytes | None]:
    return [state.get(key) for key in keys_of_interest]


def check_receipt(
    before: dict[bytes, bytes | None], overlay: Overlay, tx: Transaction, receipt: Receipt
) -> None:
    note_event(f"{tx.contract}.{tx.method}: {receipt.code or 'ok'}")  # shown by --hypothesis-show-statistics
    after = dict(overlay.changes())
    changed = {k for k in before.keys() | after.keys() if before.get(k, b"?") != after.get(k, b"?")}
    if not receipt.success:
        assert changed == {keys.get_nonce_key(tx.sender_address)}
        return
    for event in receipt.events:
        if event.name == "DvpSettled":
            attrs = event.attributes
            buyer = Address(bytes.fromhex(attrs["counterparty"]))
            assert keys.get_holding_key(buyer, attrs["security_id"]) in changed
            assert keys.get_balance_key(Address(bytes.fromhex(attrs["proposer"]))) in changed
        if event.name == "NetPosition" and event.attributes["net"] != 0:
            assert keys.get_balance_key(Address(bytes.fromhex(event.attributes["account"]))) in changed


def run_transaction_by_transaction(chain: Any, ops: list[tuple[Any, ...]]) -> tuple[list[Any], list[Hash]]:
    """Drive ``chain`` (dict-backed); return the blocks actually built and the digest chain."""
    blocks: list[tuple[BlockContext, list[Transaction]]] = []
    tree = StateTree()  # both replays root the same changes over the same (empty) tree
    digests = [tree.root]
    for start in range(0, len(ops), BLOCK_TRANSACTIONS_MAX):
        context = chain.context()
        overlay = Overlay(chain.state)
        nonces: dict[Address, int] = {}
        included = []
        for op in ops[start : start + BLOCK_TRANSACTIONS_MAX]:
            sender, contract, method, args = build_call(chain, op)
            key = chain.get_key(sender).public_key
            nonce = nonces.get(key.address, get_next_nonce(overlay, key.address))
            tx = Transaction(chain.CHAIN_ID, key.data, Nonce(nonce), contract, method, args)
            before = dict(overlay.changes())
            try:
                receipt = execute_transaction(overlay, tx, context)
            except TransactionRejected:
                assert overlay.changes() == list(before.items())
                continue
            nonces[key.address] = nonce + 1
            check_receipt(before, overlay, tx, receipt)
            included.append(tx)
        chain.state.apply_changes(overlay.changes())
        chain.height += 1
        digests.append(tree.apply(overlay.changes()))
        blocks.append((context, included))
        check_conservation(chain.state)
    return blocks, digests


def replay_on_overlay_stack(genesis: DictState, blocks: list[Any]) -> list[Hash]:
    tree = StateTree()  # both replays root the same changes over the same (empty) tree
    digests = [tree.root]
    parent: StateReader = genesis
    for context, transactions in blocks:
        result = execute_block(parent, transactions, context, skip_inadmissible=False)
        assert result.transactions == tuple(transactions)
        digests.append(tree.apply(result.changes))
        parent = result.overlay
    return digests


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=operations)
def test_random_sequences_conserve_and_replay_identically(
    chain_class: Any, ops: list[tuple[Any, ...]]
) -> None:
    chain = chain_class()
    genesis = DictState(chain.state.iterate(b""))
    blocks, digests = run_transaction_by_transaction(chain, PRELUDE + ops)
    assert replay_on_overlay_stack(genesis, blocks) == digests


def test_block_context_heights_follow_the_driver(chain_class: Any) -> None:
    chain = chain_class()
    assert chain.context() == BlockContext(chain.CHAIN_ID, Height(1), TimestampMs(1000))
