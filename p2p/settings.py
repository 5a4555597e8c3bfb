"""Limits and timings of the peer links, built once by the node and handed in."""

from __future__ import annotations

from dataclasses import dataclass

from p2p.errors import SettingsInvalid


@dataclass(frozen=True)
class P2PSettings:
    message_bytes_max: int = 64 * 1024 * 1024  # a NEW-VIEW carries a quorum of VIEW-CHANGEs with their blocks
    send_queue_max: int = 10_000  # per peer; when full the oldest one-way payload is dropped and counted
    send_age_max_ms: int = 5_000  # a one-way payload still queued after this is dropped (expired) and counted
    faults_max: int = 10  # faults from one peer tolerated; one more closes its link ...
    fault_ban_ms: int = 30_000  # ... and refuses it for this long
    reconnect_initial_ms: int = 100
    reconnect_max_ms: int = 5_000
    handshake_timeout_ms: int = 5_000
    handshake_bytes_max: int = 4 * 1024  # all a peer may send before its handshake proved it (guard.py)
    handshakes_pending_max: int = 32  # connections in their handshake at once ...
    handshakes_per_address_max: int = 8  # ... and from one address
    request_timeout_ms: int = 5_000
    requests_inbound_max: int = 16  # per peer, requests being answered at once
    requests_pending_max: int = 256  # per peer, our requests awaiting an answer
    # A link pings its peer this often, and closes once the peer has sent nothing (not even a pong)
    # for silence_max_ms: a dead host or a frozen process sends no reset, silence is all its peers
    # see (link.py). An inbound delay rule longer than silence_max_ms holds pongs back that long.
    heartbeat_ms: int = 300
    silence_max_ms: int = 1_200

    def __post_init__(self) -> None:
        validate_settings(self)


def validate_settings(settings: P2PSettings) -> None:
    """Raise SettingsInvalid when a value or a relation between values is impossible."""
    positive = (
        "message_bytes_max",
        "send_queue_max",
        "send_age_max_ms",
        "reconnect_initial_ms",
        "reconnect_max_ms",
        "handshake_timeout_ms",
        "handshake_bytes_max",
        "handshakes_pending_max",
        "handshakes_per_address_max",
        "request_timeout_ms",
        "requests_inbound_max",
        "requests_pending_max",
        "heartbeat_ms",
        "silence_max_ms",
    )
    for name in positive:
        value = getattr(settings, name)
        if not isinstance(value, int) or value <= 0:
            raise SettingsInvalid(f"p2p setting {name} must be a positive integer, not {value!r}")
    for name in ("faults_max", "fault_ban_ms"):
        value = getattr(settings, name)
        if not isinstance(value, int) or value < 0:
            raise SettingsInvalid(f"p2p setting {name} must be a non-negative integer, not {value!r}")
    if settings.handshakes_per_address_max > settings.handshakes_pending_max:
        raise SettingsInvalid("p2p setting handshakes_per_address_max must be at most handshakes_pending_max")
    if settings.silence_max_ms < 2 * settings.heartbeat_ms:
        raise SettingsInvalid("p2p setting silence_max_ms must be at least twice heartbeat_ms")
    if settings.reconnect_max_ms < settings.reconnect_initial_ms:
        raise SettingsInvalid("p2p setting reconnect_max_ms must be at least reconnect_initial_ms")
