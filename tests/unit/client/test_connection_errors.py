"""Every way a connection fails reads as one sentence, without aiohttp's class names."""

from __future__ import annotations

import errno

import aiohttp
import pytest

from hubledger_client.errors import describe_connection_error


@pytest.mark.parametrize(
    "error",
    [
        ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"),
        aiohttp.ClientOSError(errno.ECONNRESET, "Connection reset by peer"),
        BrokenPipeError(errno.EPIPE, "Broken pipe"),
        aiohttp.ServerDisconnectedError(),
    ],
)
def test_a_connection_closed_before_any_http_asks_whether_this_is_the_api_port(error: Exception) -> None:
    # A peer port over TLS refuses a client without a peer certificate by closing or by
    # resetting, depending on timing; both must point the person at the port and scheme.
    sentence = describe_connection_error(error)
    assert "client API port" in sentence and "https" in sentence
    assert "Error" not in sentence  # no class names


def test_timeout_and_unknown_errors_keep_their_own_sentences() -> None:
    assert describe_connection_error(TimeoutError()) == "no answer in time"
    assert "client API port" not in describe_connection_error(OSError(errno.ENOSPC, "No space left"))
