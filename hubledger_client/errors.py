"""How a request to a hub fails: the hub's own error code, or no hub that answers at all, each
with one sentence a person can read."""

from __future__ import annotations

import errno
import socket
from collections.abc import Sequence

import aiohttp


class ClientError(Exception):
    """Raised when the node answers with an error; carries its stable code."""

    def __init__(self, status: int, code: str, message: str, *, hub: str = "") -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.hub = hub  # the URL of the hub that answered


class NodeUnreachable(ClientError):
    """Raised when no hub given answers as a HubLedger client API: no connection, a timeout,
    or an answer that is not its JSON (a peer port, another service). Nothing was done.
    For one hub it is also the signal to ask the next (``Client.request``)."""

    def __init__(self, code: str, message: str, *, hub: str = "", problem: str = "") -> None:
        super().__init__(0, code, message, hub=hub)
        self.problem = problem or message

    @classmethod
    def at(cls, url: str, code: str, problem: str) -> NodeUnreachable:
        """What answers at ``url`` is no client API, for the reason ``problem``."""
        return cls(code, f"cannot use the node at {url}: {problem}", hub=url, problem=problem)

    @classmethod
    def of_every(cls, errors: Sequence[NodeUnreachable]) -> NodeUnreachable:
        """One error for a request no hub answered: the only hub's own, or every hub's reason."""
        if len(errors) == 1:
            return errors[0]
        codes = {error.code for error in errors}
        reasons = "; ".join(f"{error.hub}: {error.problem}" for error in errors)
        code = codes.pop() if len(codes) == 1 else "UNREACHABLE"
        return cls(code, f"none of the {len(errors)} hubs given answers: {reasons}", problem=reasons)


def describe_connection_error(error: BaseException) -> str:
    """One sentence for a failed connection, without aiohttp's class names."""
    if isinstance(error, TimeoutError):
        return "no answer in time"
    if isinstance(error, aiohttp.InvalidURL):
        return "not a valid URL"
    if isinstance(error, aiohttp.ClientConnectorCertificateError):
        return (
            f"its TLS certificate is not one this client trusts ({describe_certificate_error(error)}); "
            "give the network's CA certificate with --ca FILE or HUBLEDGER_CA"
        )
    if isinstance(error, aiohttp.ClientConnectorSSLError):
        return "the TLS handshake failed; does it serve https (or only http)?"
    if isinstance(error, aiohttp.ClientConnectorError):
        where = f"{error.host}:{error.port}"
        if isinstance(error.os_error, ConnectionRefusedError):
            return f"nothing listens on {where} (connection refused); is the hub running?"
        if isinstance(error.os_error, socket.gaierror):
            return f"the host {error.host} is unknown"
        return f"cannot connect to {where} ({error.os_error.strerror or 'connection failed'})"
    if _closed_without_answer(error):
        return (
            "the connection was closed without an HTTP answer; is this a hub's client API port, "
            "with the scheme it serves (https unless [tls] api_plaintext)?"
        )
    if isinstance(error, aiohttp.ClientResponseError):
        return (
            f"it does not speak HTTP as a client API does ({error.message}); is this a hub's client API port?"
        )
    return " ".join(str(error).split()) or type(error).__name__


def _closed_without_answer(error: BaseException) -> bool:
    """The far end hung up or reset before any HTTP: a peer port over TLS does either, by timing."""
    if isinstance(error, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return True
    reset = (errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED)
    return isinstance(error, ConnectionError) or (isinstance(error, OSError) and error.errno in reset)


def describe_certificate_error(error: aiohttp.ClientConnectorCertificateError) -> str:
    """OpenSSL's reason, without the class names around it."""
    reason = getattr(error.certificate_error, "verify_message", "") or str(error.certificate_error)
    return " ".join(str(reason).split())
