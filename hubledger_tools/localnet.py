"""``hubledger localnet``: one node process per hub on 127.0.0.1, with merged, hub-labelled logs.

Generates the network first if the directory is new. Ctrl-C (or SIGTERM)
stops every node cleanly. A hub that dies (say, killed with ``kill -9`` to
watch the others change view) is started again after a pause, as a container
with ``restart: unless-stopped`` would be; a hub that refuses its
configuration (exit status 2) stops the whole network, since restarting
cannot help. With ``--observer`` (``make run OBSERVER=1``) the regulator's
observer netgen configured runs beside them, its API on 127.0.0.1:8100.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from hubledger_tools.netgen import OBSERVER_NAME, describe_tls, generate_network, observer_config_name
from ledger.genesis import Genesis

STOP_GRACE_S = 10
RESTART_DELAY_S = 2
CONFIG_ERROR_STATUS = 2


def run_localnet(hubs: list[str], directory: Path, *, observer: bool = False) -> int:
    if not (directory / "genesis.json").exists():
        generate_network(hubs, directory)
        print(f"generated a {len(hubs)}-hub network in {directory}", flush=True)
        print(describe_tls(directory), flush=True)
    mismatch = describe_hub_mismatch(hubs, directory)
    if mismatch:
        print(f"error: {mismatch}", file=sys.stderr)
        return CONFIG_ERROR_STATUS
    configs = {hub: directory / f"{hub}.toml" for hub in hubs}
    if observer:
        configs["observer"] = directory / observer_config_name(OBSERVER_NAME)
        if not configs["observer"].exists():
            print(
                f"error: {directory} has no {configs['observer'].name} (generated before observers): "
                "remove the directory to generate the network again, or run without --observer",
                file=sys.stderr,
            )
            return CONFIG_ERROR_STATUS
    return asyncio.run(_supervise(configs))


def describe_hub_mismatch(hubs: list[str], directory: Path) -> str | None:
    """One sentence when ``hubs`` are not the validators of the network in ``directory``.

    Fewer hubs than validators would run a network that never reaches a quorum
    and times every transfer out in silence, so the mismatch is refused up front.
    """
    validators = [validator.name for validator in Genesis.load(directory / "genesis.json").validators]
    if sorted(validators) == sorted(hubs):
        missing = [hub for hub in hubs if not (directory / f"{hub}.toml").exists()]
        return f"{directory} has no config for {', '.join(missing)}" if missing else None
    return (
        f"{directory} holds a {len(validators)}-hub network ({','.join(validators)}), "
        f"but {len(hubs)} hub(s) were asked for ({','.join(hubs)}): "
        f"run with HUBS={','.join(validators)} (or --hubs), or remove {directory} to generate a new network"
    )


async def _supervise(configs: dict[str, Path]) -> int:
    """Run a node process for every config, labelled by its key."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(f"localnet: {', '.join(configs)} running; Ctrl-C stops them", flush=True)
    codes = await asyncio.gather(*(_keep_running(name, config, stop) for name, config in configs.items()))
    return 1 if any(code == CONFIG_ERROR_STATUS for code in codes) else 0


async def _keep_running(hub: str, config: Path, stop: asyncio.Event) -> int:
    """Run one node until ``stop``; restart it when it dies; its last exit status."""
    while True:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "hubledger_tools.cli",
            "node",
            "--config",
            str(config),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=_child_env(),
        )
        pump = asyncio.create_task(_pump(hub, process))
        stopping = asyncio.create_task(stop.wait())
        exited = asyncio.create_task(process.wait())
        await asyncio.wait([stopping, exited], return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if stop.is_set():
            await _stop(process)
            await pump
            return 0
        await pump
        code = exited.result()
        if code == CONFIG_ERROR_STATUS:
            print(
                f"localnet: {hub} refused its configuration; stopping the network",
                file=sys.stderr,
                flush=True,
            )
            stop.set()
            return code
        print(f"localnet: {hub} exited with status {code}; restarting in {RESTART_DELAY_S} s", flush=True)
        try:
            await asyncio.wait_for(stop.wait(), RESTART_DELAY_S)
            return code
        except TimeoutError:
            continue


async def _pump(hub: str, process: asyncio.subprocess.Process) -> None:
    if process.stdout is None:
        raise RuntimeError("node process was started without a stdout pipe")
    label = f"{hub:<10}|"
    async for line in process.stdout:
        sys.stdout.write(f"{label} {line.decode(errors='replace')}")
        sys.stdout.flush()


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), STOP_GRACE_S)
    except TimeoutError:
        process.kill()
        await process.wait()


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    if sys.stdout.isatty():  # a person is watching: readable lines rather than JSON
        env.setdefault("HUBLEDGER_LOG_FORMAT", "console")
    return env
