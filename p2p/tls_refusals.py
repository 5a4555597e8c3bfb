"""Count, by reason, every connection a TLS listener refuses at the handshake.

aiohttp hands TLS to the event loop (asyncio's or uvloop's SSL protocol),
which drops a failed handshake with at most a debug log line: nobody would
see a plaintext client, a certificate from another CA or a revoked one
knocking. Both loops drive the handshake through the context's
``sslobject_class``, so a subclass that watches ``do_handshake`` sees every
failure, labels it (``tls.get_refusal_reason``) and reports it, and the
loop then closes that one connection as before: the node keeps serving.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable

import structlog

from p2p.tls import get_refusal_reason

log = structlog.get_logger("tls")


def count_refusals(context: ssl.SSLContext, listener: str, on_refused: Callable[[str], None]) -> None:
    """Make every handshake ``context`` refuses call ``on_refused(reason)`` and log one line."""

    class RefusalCountingObject(ssl.SSLObject):
        def do_handshake(self) -> None:
            try:
                super().do_handshake()
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                raise  # the handshake is waiting for bytes, not failing
            except ssl.SSLError as error:
                reason = get_refusal_reason(error)
                on_refused(reason)
                log.info("tls_refused", listener=listener, reason=reason, detail=str(error))
                raise

    context.sslobject_class = RefusalCountingObject
