"""What a contract method is: an argument parser and a pure state transition."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from contracts.context import BlockContext
from contracts.state import Overlay
from ledger.receipt import Event
from ledger.types import Address

ArgsT = TypeVar("ArgsT")


@dataclass(frozen=True)
class Method(Generic[ArgsT]):
    """``parse`` raises TransactionRejected(BAD_ARGUMENTS); ``process`` raises ContractError."""

    parse: Callable[[Mapping[str, Any]], ArgsT]
    process: Callable[[Overlay, Address, ArgsT, BlockContext], list[Event]]
