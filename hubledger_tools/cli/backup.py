"""Operators' commands ``backup`` and ``restore``: an online copy of a hub's database, and its return.

``backup`` asks a running hub for ``GET /v1/admin/backup`` (one LevelDB
snapshot, streamed) and writes it to a file, which it checks whole before
keeping it. ``restore`` turns such a file into the data directory of a stopped
hub. Exit status: 0 done, 1 the hub or the file could not be read, 2 bad
arguments, a refused token or a data directory in use.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp

from hubledger_tools.cli.common import DEFAULT_NODE_URL
from storage.backup import BackupInvalid, restore_backup, verify_backup
from storage.errors import StorageError

TOKEN_VARIABLE = "HUBLEDGER_ADMIN_TOKEN"
READ_BYTES = 1 << 20


def add_backup_commands(commands: Any) -> None:
    backup = commands.add_parser(
        "backup", help="copy a running hub's database to a file (consistent: one snapshot)"
    )
    backup.add_argument(
        "--node", default=DEFAULT_NODE_URL, help=f"client API URL of the hub (default {DEFAULT_NODE_URL})"
    )
    backup.add_argument(
        "--admin-token", default=os.environ.get(TOKEN_VARIABLE),
        help=f"the hub's [admin] token (default: ${TOKEN_VARIABLE})",
    )
    backup.add_argument("--out", type=Path, required=True, help="the backup file to write")
    backup.set_defaults(handler=_backup)

    restore = commands.add_parser("restore", help="make a stopped hub's data directory from a backup file")
    restore.add_argument("file", type=Path, help="a file written by `hubledger backup`")
    restore.add_argument(
        "--data-dir", type=Path, required=True,
        help="the hub's data directory ([node] data_dir); must be absent or empty",
    )
    restore.set_defaults(handler=_restore)


def _backup(arguments: argparse.Namespace) -> int:
    if not arguments.admin_token:
        print(f"error: --admin-token (or ${TOKEN_VARIABLE}) is required: backups are an operator endpoint",
              file=sys.stderr)
        return 2
    partial = arguments.out.with_name(arguments.out.name + ".partial")
    try:
        height = asyncio.run(_download(arguments.node, arguments.admin_token, partial))
        pairs = verify_backup(_read_chunks(partial))
    except (aiohttp.ClientError, BackupInvalid, ValueError) as error:
        partial.unlink(missing_ok=True)
        print(f"error: backup from {arguments.node} failed: {error}", file=sys.stderr)
        return 1
    except _Refused as error:
        partial.unlink(missing_ok=True)
        print(f"error: {error}", file=sys.stderr)
        return 2
    partial.replace(arguments.out)
    size = arguments.out.stat().st_size
    print(f"backed up {pairs} records at height {height} to {arguments.out} ({size} B)")
    return 0


def _restore(arguments: argparse.Namespace) -> int:
    try:
        summary = restore_backup(_read_chunks(arguments.file), arguments.data_dir)
    except BackupInvalid as error:
        print(f"error: {arguments.file}: {error}", file=sys.stderr)
        return 1
    except StorageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"restored {summary.pairs} records (chain height {summary.height}) into {arguments.data_dir}")
    return 0


class _Refused(Exception):
    """The hub answered, and refused: a bad token, closed admin endpoints."""


async def _download(url: str, token: str, path: Path) -> str:
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=60)
    async with aiohttp.ClientSession(timeout=timeout) as session, session.get(
        url.rstrip("/") + "/v1/admin/backup", headers={"Authorization": f"Bearer {token}"}
    ) as response:
        if response.status != 200:
            raise _Refused(await _describe_refusal(response))
        with path.open("wb") as file:
            async for chunk in response.content.iter_chunked(READ_BYTES):
                file.write(chunk)
            file.flush()
            os.fsync(file.fileno())
        return response.headers.get("X-Hubledger-Height", "?")


async def _describe_refusal(response: aiohttp.ClientResponse) -> str:
    try:
        error = (await response.json())["error"]
        return f"the hub refused the backup ({response.status} {error['code']}): {error['message']}"
    except (ValueError, KeyError, TypeError, aiohttp.ContentTypeError):
        return f"the hub answered {response.status} to GET /v1/admin/backup: is --node its client API?"


def _read_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as file:
        while chunk := file.read(READ_BYTES):
            yield chunk
