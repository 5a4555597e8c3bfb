"""What a contract method is: an argument parser, its stateless checks and a pure state transition."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from contracts.arguments import Fields
from contracts.context import BlockContext
from contracts.state import Overlay
from ledger.receipt import Event
from ledger.types import Address

ArgsT = TypeVar("ArgsT")
NO_FIELDS = Fields(())


def check_nothing(args: object) -> None:
    """The stateless checks of a method whose arguments have no range to check."""


@dataclass(frozen=True)
class Method(Generic[ArgsT]):
    """``parse`` raises TransactionRejected(BAD_ARGUMENTS); ``process`` raises ContractError.

    ``validate`` is the part of the contract's checks that reads nothing but the parsed
    arguments (an amount's range): it raises ContractError. ``process`` runs it as its
    first step, so a transaction that reaches a block gets the same code in its receipt;
    node admission runs it too, so a client is refused before any nonce is spent.
    """

    parse: Callable[[Mapping[str, Any]], ArgsT]
    process: Callable[[Overlay, Address, ArgsT, BlockContext], list[Event]]
    validate: Callable[[ArgsT], None] = check_nothing
    fields: Fields = NO_FIELDS  # what parse accepts, for people (hubledger contracts)
