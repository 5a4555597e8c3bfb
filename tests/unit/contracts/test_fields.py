"""Every method declares the argument names its parse accepts, so `hubledger contracts` lists them truly."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.errors import TransactionRejected
from contracts.method import Method
from contracts.registry import CONTRACTS

METHODS = [
    (contract, name, method) for contract, methods in CONTRACTS.items() for name, method in methods.items()
]


@pytest.mark.parametrize(("contract", "name", "method"), METHODS, ids=[f"{c}.{n}" for c, n, _ in METHODS])
def test_declared_fields_are_what_parse_accepts(contract: str, name: str, method: Method[Any]) -> None:
    fields = method.fields
    assert fields.required, f"{contract}.{name} declares no arguments"
    with pytest.raises(TransactionRejected) as missing:
        method.parse({})
    assert str(missing.value) == f"missing argument(s): {', '.join(fields.required)}"

    every = {field: None for field in (*fields.required, *fields.optional)}
    with pytest.raises(TransactionRejected) as unknown:
        method.parse({**every, "not_an_argument": 1})
    assert str(unknown.value) == "unknown argument(s): not_an_argument"

    with pytest.raises(TransactionRejected) as typed:  # every name known: only the values are wrong
        method.parse(every)
    assert "missing" not in str(typed.value) and "unknown" not in str(typed.value)
