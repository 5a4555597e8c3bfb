"""The named contracts and their methods: the only code a transaction can call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contracts import accounts, cbdc, dvp, escrow, netting, securities
from contracts.method import Method

CONTRACTS: Mapping[str, Mapping[str, Method[Any]]] = {
    "accounts": accounts.METHODS,
    "cbdc": cbdc.METHODS,
    "securities": securities.METHODS,
    "dvp": dvp.METHODS,
    "escrow": escrow.METHODS,
    "netting": netting.METHODS,
}
