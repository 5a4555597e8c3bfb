"""Floods hubs with one batch of bad signatures: ``python -m tests.integration.node.bad_signature_flooder``.

Arguments: the batch body's file, the source address to send from, the number
of connections per hub, the network's CA certificate (the hubs speak TLS),
then the hubs' API ports. Every connection posts the
batch again as soon as it is answered (a flooder ignores Retry-After), and
connects again at once when a hub closes it. It prints ``flooding`` once every
connection has been answered once, runs until its standard input is closed, and
then prints, as one JSON line, how each port answered: ``{"port": {"status":
count, ...}, ...}`` and the Retry-After values it saw. It runs in a process of
its own so that its threads do not slow the test's honest clients.
"""

from __future__ import annotations

import http.client
import json
import ssl
import sys
import threading
from collections import Counter
from pathlib import Path


def flood(
    port: int,
    body: bytes,
    source: str,
    context: ssl.SSLContext,
    statuses: Counter[int],
    retry_after: set[str],
    stopping: threading.Event,
) -> None:
    connection: http.client.HTTPSConnection | None = None
    while not stopping.is_set():
        try:
            if connection is None:
                connection = http.client.HTTPSConnection(
                    "127.0.0.1", port, timeout=30, source_address=(source, 0), context=context
                )
            connection.request("POST", "/v1/transactions/batch", body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            statuses[response.status] += 1
            if response.status == 429:
                retry_after.add(response.headers.get("Retry-After", ""))
            if response.will_close:
                connection.close()
                connection = None
        except (OSError, http.client.HTTPException):  # told 429 and cut off mid-body: connect again
            statuses[0] += 1
            if connection is not None:
                connection.close()
            connection = None


def main() -> None:
    body = Path(sys.argv[1]).read_bytes()
    source = sys.argv[2]
    connections = int(sys.argv[3])
    context = ssl.create_default_context(cafile=sys.argv[4])
    ports = [int(port) for port in sys.argv[5:]]
    statuses = {port: Counter[int]() for port in ports}
    retry_after: dict[int, set[str]] = {port: set() for port in ports}
    stopping = threading.Event()
    threads = [
        threading.Thread(
            target=flood, args=(port, body, source, context, statuses[port], retry_after[port], stopping)
        )
        for port in ports
        for _ in range(connections)
    ]
    for thread in threads:
        thread.start()
    print("flooding", flush=True)
    sys.stdin.read()
    stopping.set()
    for thread in threads:
        thread.join()
    answers = {str(port): dict(statuses[port]) for port in ports}
    print(
        json.dumps({"answers": answers, "retry_after": {str(p): sorted(v) for p, v in retry_after.items()}})
    )


if __name__ == "__main__":
    main()
