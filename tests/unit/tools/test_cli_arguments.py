"""The argument types refuse what the issue saw slip through, in the user's terms."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from hubledger_tools.cli import arguments as types
from hubledger_tools.cli.main import main
from ledger.keys import PrivateKey


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("127.0.0.1:8101", "starting with http:// or https://"),
        ("http://[::1", "Invalid IPv6 URL"),
        ("http://127.0.0.1:99999", "Port out of range"),
        ("http://127.0.0.1:8101/v1", "only a hub's scheme, host and port"),
    ],
)
def test_a_node_url_that_cannot_work_is_refused(text: str, problem: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=problem):
        types.node_url(text)


@pytest.mark.parametrize("text", ["http://127.0.0.1:8101", "https://hub.example:443/", "http://[::1]:8101"])
def test_http_and_https_urls_are_taken(text: str) -> None:
    assert types.node_url(text) == text.rstrip("/")


def test_several_node_urls_are_each_checked_and_none_at_all_is_refused() -> None:
    assert types.node_urls("http://127.0.0.1:8101, https://hub.example:443/") == (
        "http://127.0.0.1:8101",
        "https://hub.example:443",
    )
    with pytest.raises(argparse.ArgumentTypeError, match=r"'127\.0\.0\.1:8102' is not a URL starting"):
        types.node_urls("http://127.0.0.1:8101,127.0.0.1:8102")
    for text in ("", ",", " , "):
        with pytest.raises(argparse.ArgumentTypeError, match="names no URL"):
            types.node_urls(text)


def test_an_empty_node_list_is_one_line_and_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--node", ","]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("error: argument --node: ',' names no URL")


@pytest.mark.parametrize("text", ["0", "-5", str(2**63), "1.5", "", "9" * 400])
def test_amounts_outside_one_to_two_to_the_63_are_refused_in_fen(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="is not an amount in fen: a whole number from 1 to"):
        types.amount_fen(text)


def test_the_largest_amount_and_no_limit_are_taken() -> None:
    assert types.amount_fen(str(2**63 - 1)) == 2**63 - 1
    assert types.limit_fen("none") is None and types.limit_fen("700") == 700


def test_a_key_file_that_is_not_pem_is_one_sentence_without_a_url(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    path.write_text("hello\n")
    with pytest.raises(argparse.ArgumentTypeError) as refused:
        types.key_file(str(path))
    assert str(refused.value) == f"{path} is not a PEM private key (make one with hubledger keygen)"


def test_an_address_may_be_a_key_file(tmp_path: Path) -> None:
    key = PrivateKey.from_secret(7)
    path = tmp_path / "key.pem"
    key.save(path)
    assert types.address(f"@{path}") == key.public_key.address.hex()
    assert types.address("0x" + "AB" * 20) == "ab" * 20


def test_a_key_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    path.write_text("x")
    with pytest.raises(argparse.ArgumentTypeError, match="already exists"):
        types.new_file(str(path))
