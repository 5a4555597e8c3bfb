"""A user-space TCP relay that puts inter-city delays on the wire and can cut a link.

Theory of operation. Where the kernel has no ``netem`` queueing discipline,
the delay between hubs is added here. The relay listens on one address per
destination hub (the root side of that hub's veth pair, in the root namespace)
and forwards each accepted connection to the hub's own address. Which hub
dialled is known from the connection's source address (each hub has its own),
so a connection belongs to one link, a pair of hubs.

Each direction of a connection is a pipe: a reader stamps every chunk it
reads with a due time, now + the one-way delay + a jitter drawn uniformly in
[-jitter, +jitter], and one writer sends the chunks in the order they were
read, each at its due time or, when the chunk before it was due later, right
after that one: bytes keep their order, as on a TCP stream. The
queue between them is bounded, so a slow receiver slows the sender through
TCP, as a real link would. TLS passes through untouched: the relay never
looks at the bytes. The TCP handshake is not delayed (the relay accepts at
once); everything after it is.

Cutting a link closes every connection of the pair (both ends see the link
drop) and refuses new ones until the link is healed: a partition that the
nodes notice at once, as they would a link that was reset.

Run as a process (``python -m hubledger_tools.wan.relay SPEC.json``), it
prints ``ready`` once listening, then reads commands on stdin, one a line,
and answers ``ok`` or ``error: <why>``: ``cut A B``, ``heal A B``, ``heal``
(every link).
"""

from __future__ import annotations

import asyncio
import functools
import json
import random
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

CHUNK_BYTES_MAX = 65_536
QUEUE_CHUNKS_MAX = 256  # ~16 MiB in flight per direction at most


@dataclass(frozen=True)
class Listener:
    """Connections to ``listen`` go on to the hub ``hub`` at ``target``."""

    hub: str
    listen: tuple[str, int]
    target: tuple[str, int]


@dataclass(frozen=True)
class RelaySpec:
    listeners: tuple[Listener, ...]
    sources: dict[str, str]  # source address -> the hub that dials from it
    one_way_ms: dict[str, int]  # "a>b" -> one-way delay from a to b (0 where netem adds it)
    jitter_ms: int
    seed: int
    # hub -> the relay's address for it: a connection from that hub goes on from there, so its
    # packets name their sender to the hub they reach (and to netem's filters, netem.py)
    dial_from: dict[str, str] = field(default_factory=dict)

    def get_one_way_s(self, source: str, destination: str) -> float:
        return self.one_way_ms[f"{source}>{destination}"] / 1000

    def to_json(self) -> str:
        return json.dumps(
            {
                "listeners": [
                    {"hub": item.hub, "listen": list(item.listen), "target": list(item.target)}
                    for item in self.listeners
                ],
                "sources": self.sources,
                "one_way_ms": self.one_way_ms,
                "jitter_ms": self.jitter_ms,
                "seed": self.seed,
                "dial_from": self.dial_from,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> RelaySpec:
        document = json.loads(text)
        listeners = tuple(
            Listener(item["hub"], _address(item["listen"]), _address(item["target"]))
            for item in document["listeners"]
        )
        return cls(
            listeners,
            dict(document["sources"]),
            dict(document["one_way_ms"]),
            int(document["jitter_ms"]),
            int(document["seed"]),
            dict(document.get("dial_from", {})),
        )


def _address(pair: list[object]) -> tuple[str, int]:
    return str(pair[0]), int(str(pair[1]))


@dataclass
class Relay:
    """Every listener of ``spec``, with the links that are cut and the connections open per link."""

    spec: RelaySpec
    cut: set[frozenset[str]] = field(default_factory=set)
    open_tasks: dict[frozenset[str], set[asyncio.Task[None]]] = field(default_factory=dict)
    servers: list[asyncio.Server] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.spec.seed)

    async def start(self) -> None:
        for listener in self.spec.listeners:
            host, port = listener.listen
            server = await asyncio.start_server(functools.partial(self._on_connection, listener), host, port)
            self.servers.append(server)

    async def close(self) -> None:
        for server in self.servers:
            server.close()
        tasks = [task for link_tasks in self.open_tasks.values() for task in link_tasks]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for server in self.servers:
            await server.wait_closed()

    def cut_link(self, first: str, second: str) -> None:
        link = frozenset({first, second})
        self.cut.add(link)
        for task in self.open_tasks.pop(link, set()):
            task.cancel()

    def heal_link(self, first: str, second: str) -> None:
        self.cut.discard(frozenset({first, second}))

    def heal_all(self) -> None:
        self.cut.clear()

    def _on_connection(
        self, listener: Listener, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        source = self.spec.sources.get(writer.get_extra_info("peername")[0])
        if source is None or frozenset({source, listener.hub}) in self.cut:
            writer.transport.abort()  # a stranger, or a link that is cut
            return
        link = frozenset({source, listener.hub})
        task = asyncio.ensure_future(self._carry(source, listener, reader, writer))
        self.open_tasks.setdefault(link, set()).add(task)
        task.add_done_callback(lambda done: self.open_tasks.get(link, set()).discard(done))

    async def _carry(
        self, source: str, listener: Listener, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            local = self.spec.dial_from.get(source)
            far_reader, far_writer = await asyncio.open_connection(
                *listener.target, local_addr=(local, 0) if local else None
            )
        except OSError:
            writer.transport.abort()
            return
        forward = self.spec.get_one_way_s(source, listener.hub)
        backward = self.spec.get_one_way_s(listener.hub, source)
        pipes = [
            asyncio.ensure_future(self._pipe(reader, far_writer, forward)),
            asyncio.ensure_future(self._pipe(far_reader, writer, backward)),
        ]
        try:
            await asyncio.gather(*pipes)
        except OSError:
            pass  # one end reset or vanished: the other end is reset too, below
        finally:
            for pipe in pipes:
                pipe.cancel()
            for end in (writer, far_writer):
                end.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay_s: float) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(QUEUE_CHUNKS_MAX)
        jitter_s = self.spec.jitter_ms / 1000

        async def read() -> None:
            due_s = 0.0
            try:
                while chunk := await reader.read(CHUNK_BYTES_MAX):
                    due_s = loop.time() + delay_s + self.rng.uniform(-jitter_s, jitter_s)
                    await queue.put((due_s, chunk))
            except OSError:
                pass  # a reset reads as the end of the stream: the writer ends the other side
            await queue.put((due_s, b""))  # the sender closed its side

        reading = asyncio.ensure_future(read())
        try:
            while True:
                due_s, chunk = await queue.get()
                await asyncio.sleep(max(0.0, due_s - loop.time()))
                if not chunk:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                writer.write(chunk)
                await writer.drain()
        finally:
            reading.cancel()


async def serve(spec: RelaySpec, commands: asyncio.StreamReader) -> None:
    """Run the relay until stdin closes, answering each command line."""
    relay = Relay(spec)
    await relay.start()
    _say("ready")
    try:
        while line := await commands.readline():
            _say(apply_command(relay, line.decode().split()))
    finally:
        await relay.close()


def apply_command(relay: Relay, words: Iterable[str]) -> str:
    """One control command (``cut A B``, ``heal A B``, ``heal``); its answer line."""
    words = list(words)
    hubs = {listener.hub for listener in relay.spec.listeners} | set(relay.spec.sources.values())
    if words[:1] == ["heal"] and len(words) == 1:
        relay.heal_all()
        return "ok"
    if len(words) != 3 or words[0] not in ("cut", "heal") or not set(words[1:]) <= hubs:
        return f"error: expected 'cut A B', 'heal A B' or 'heal' with hubs of {sorted(hubs)}"
    if words[0] == "cut":
        relay.cut_link(words[1], words[2])
    else:
        relay.heal_link(words[1], words[2])
    return "ok"


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def _main(spec_path: Path) -> None:
    loop = asyncio.get_running_loop()
    commands = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), sys.stdin)
    await serve(RelaySpec.from_json(spec_path.read_text()), commands)


if __name__ == "__main__":
    asyncio.run(_main(Path(sys.argv[1])))
