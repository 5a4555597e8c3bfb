"""Authenticated WebSocket links between HubLedger validators (opaque payloads, no consensus types)."""

from p2p.errors import (
    HandshakeRefused,
    P2PError,
    PayloadTooLarge,
    PeerUnavailable,
    RequestFailed,
    RequestTimeout,
    SettingsInvalid,
)
from p2p.faults import Direction, LinkRule, LinkRules
from p2p.network import P2P_PATH, PeerNetwork
from p2p.settings import P2PSettings

__all__ = [
    "P2P_PATH",
    "Direction",
    "HandshakeRefused",
    "LinkRule",
    "LinkRules",
    "P2PError",
    "P2PSettings",
    "PayloadTooLarge",
    "PeerNetwork",
    "PeerUnavailable",
    "RequestFailed",
    "RequestTimeout",
    "SettingsInvalid",
]
