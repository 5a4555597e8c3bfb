"""Unit-carrying names for the integers and byte strings of the data model."""

from typing import NewType

Height = NewType("Height", int)
View = NewType("View", int)
Nonce = NewType("Nonce", int)
Amount = NewType("Amount", int)  # minor units (fen); never a float
TimestampMs = NewType("TimestampMs", int)
ValidatorIndex = NewType("ValidatorIndex", int)
Hash = NewType("Hash", bytes)  # 32-byte SHA-256 digest
Address = NewType("Address", bytes)  # 20 bytes derived from a public key

UINT63_MAX = 2**63 - 1  # bound for heights, views, nonces and amounts
HASH_BYTES = 32
ADDRESS_BYTES = 20
