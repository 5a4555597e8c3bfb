"""The HubLedger client: what a bank's developer installs next to their own code.

Build, sign and submit transactions, follow them, read the chain with signed
reads, and check finality proofs and account state proofs offline. It imports ledger/ and its own
libraries (aiohttp, cryptography, cbor2, ecdsa) only: no LevelDB, no uvloop,
nothing of the node.
"""

from hubledger_client.client import Client
from hubledger_client.errors import ClientError, NodeUnreachable
from hubledger_client.pending import TransactionPending
from hubledger_client.proof import ProofInvalid, ProofReport, verify_proof
from hubledger_client.state_proof import AccountStateReport, verify_account_proof
from hubledger_client.sync import SyncClient

__all__ = [
    "AccountStateReport",
    "Client",
    "ClientError",
    "NodeUnreachable",
    "ProofInvalid",
    "ProofReport",
    "SyncClient",
    "TransactionPending",
    "verify_account_proof",
    "verify_proof",
]
