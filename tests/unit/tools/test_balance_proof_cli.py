"""``balance-proof`` saves only an answer to the question it asked: a hub that answers with
another account's proof, or another height's, gets nothing saved for an auditor to trust."""

from __future__ import annotations

from hubledger_tools.cli.balance_proof import _describe_mismatch

ADDRESS = "ab" * 20


def test_the_asked_account_and_height_are_saved() -> None:
    assert _describe_mismatch({"address": ADDRESS, "height": 7}, ADDRESS.upper(), 7) is None
    assert _describe_mismatch({"address": ADDRESS, "height": 9}, ADDRESS, None) is None  # the latest


def test_another_account_another_height_or_no_document_is_refused() -> None:
    assert "not of" in (_describe_mismatch({"address": "cd" * 20, "height": 7}, ADDRESS, 7) or "")
    assert "not at 7" in (_describe_mismatch({"address": ADDRESS, "height": 8}, ADDRESS, 7) or "")
    assert "not a proof" in (_describe_mismatch([], ADDRESS, None) or "")
