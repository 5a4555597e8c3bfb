"""A whole TLS handshake between two ``ssl.SSLContext``s in memory, with no socket: what the
tests of certificates and of their reloading check contexts with."""

from __future__ import annotations

import ssl

from cryptography import x509

ROUNDS_MAX = 20


def handshake(
    server: ssl.SSLContext, client: ssl.SSLContext, server_name: str | None = None
) -> x509.Certificate:
    """Runs the handshake to the end; the certificate the client saw. Raises ssl.SSLError where
    either side refuses."""
    server_in, server_out, client_in, client_out = (ssl.MemoryBIO() for _ in range(4))
    server_side = server.wrap_bio(server_in, server_out, server_side=True)
    client_side = client.wrap_bio(client_in, client_out, server_hostname=server_name)
    done = {"server": False, "client": False}
    for _ in range(ROUNDS_MAX):
        for name, side, outgoing, peer_incoming in (
            ("client", client_side, client_out, server_in),
            ("server", server_side, server_out, client_in),
        ):
            if not done[name]:
                try:
                    side.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
            peer_incoming.write(outgoing.read())
        if all(done.values()):
            server_side.write(b"x")  # TLS 1.3 sends the server's verdict on the client certificate late
            client_in.write(server_out.read())
            client_side.read(1)
            der = client_side.getpeercert(binary_form=True)
            assert der is not None
            return x509.load_der_x509_certificate(der)
    raise AssertionError("the handshake did not finish")
