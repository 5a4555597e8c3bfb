"""``hubledger localnet``: one node process per hub on 127.0.0.1, with merged, hub-labelled logs.

Generates the network first if the directory is new. Ctrl-C (or SIGTERM)
stops every node cleanly; if any node exits on its own, the rest are stopped
too and its exit status is reported.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from node.netgen import generate_network

STOP_GRACE_S = 10


def run_localnet(hubs: list[str], directory: Path) -> int:
    if not (directory / "genesis.json").exists():
        generate_network(hubs, directory)
        print(f"generated a {len(hubs)}-hub network in {directory}", flush=True)
    missing = [hub for hub in hubs if not (directory / f"{hub}.toml").exists()]
    if missing:
        print(f"error: {directory} has no config for {', '.join(missing)}", file=sys.stderr)
        return 2
    return asyncio.run(_supervise(hubs, directory))


async def _supervise(hubs: list[str], directory: Path) -> int:
    processes = {}
    for hub in hubs:
        processes[hub] = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "node.cli", "node", "--config", str(directory / f"{hub}.toml"),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=_child_env(),
        )
    pumps = [asyncio.create_task(_pump(hub, process)) for hub, process in processes.items()]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    exits = [asyncio.create_task(process.wait()) for process in processes.values()]
    stopper = asyncio.create_task(stop.wait())
    print(f"localnet: {len(hubs)} hubs running; Ctrl-C stops them", flush=True)
    await asyncio.wait([stopper, *exits], return_when=asyncio.FIRST_COMPLETED)
    failed = {hub: p.returncode for hub, p in processes.items() if p.returncode not in (None, 0)}
    await _stop_all(list(processes.values()))
    await asyncio.gather(*pumps, return_exceptions=True)
    stopper.cancel()
    for hub, code in failed.items():
        print(f"localnet: {hub} exited with status {code}", file=sys.stderr, flush=True)
    return 1 if failed else 0


async def _pump(hub: str, process: asyncio.subprocess.Process) -> None:
    if process.stdout is None:
        raise RuntimeError("node process was started without a stdout pipe")
    label = f"{hub:<10}|"
    async for line in process.stdout:
        sys.stdout.write(f"{label} {line.decode(errors='replace')}")
        sys.stdout.flush()


async def _stop_all(processes: list[asyncio.subprocess.Process]) -> None:
    for process in processes:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(asyncio.gather(*(p.wait() for p in processes)), STOP_GRACE_S)
    except TimeoutError:
        for process in processes:
            if process.returncode is None:
                process.kill()


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    if sys.stdout.isatty():  # a person is watching: readable lines rather than JSON
        env.setdefault("HUBLEDGER_LOG_FORMAT", "console")
    return env
