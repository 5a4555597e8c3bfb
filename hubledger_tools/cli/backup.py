"""Operators' commands ``backup`` and ``restore``: an online copy of a hub's database, and its return.

``backup`` asks a running hub for ``GET /v1/admin/backup`` (one LevelDB
snapshot, streamed) and writes it to a file, which it checks whole before
keeping it. ``restore`` turns such a file into the data directory of a stopped
hub. Admin endpoints want the token and, over TLS, the hub's operator
certificate (``--cert``, ``tls/clients/operator-<hub>.crt`` of the network);
the hub is checked against the network's CA (``--ca``) as by every command.
Exit statuses as every command's (hubledger_tools.cli.errors): 0 done,
1 the file is not a whole backup, 2 bad arguments, a refused token or a data
directory in use, 4 no client API answers at ``--node``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp

from hubledger_client.errors import describe_connection_error
from hubledger_tools.admin_http import AdminRefused, open_admin_stream
from hubledger_tools.cli import arguments as types
from hubledger_tools.cli.arguments import DEFAULT_NODE_URL
from hubledger_tools.cli.common import (
    add_ca_argument,
    add_client_certificate_arguments,
    add_json_argument,
    make_tls_context,
    print_json,
)
from hubledger_tools.cli.errors import ExitStatus, print_error
from storage.backup import BackupInvalid, restore_backup, verify_backup
from storage.errors import StorageError

TOKEN_VARIABLE = "HUBLEDGER_ADMIN_TOKEN"
READ_BYTES = 1 << 20


def add_backup_commands(commands: Any) -> None:
    backup = commands.add_parser(
        "backup", help="copy a running hub's database to a file (consistent: one snapshot)"
    )
    backup.add_argument(
        "--node", type=types.node_url, default=DEFAULT_NODE_URL,
        help=f"client API URL of the hub (default {DEFAULT_NODE_URL})",
    )
    add_ca_argument(backup)
    add_client_certificate_arguments(backup, whose="the hub's operator's")
    backup.add_argument(
        "--admin-token", type=types.admin_token, default=os.environ.get(TOKEN_VARIABLE),
        required=TOKEN_VARIABLE not in os.environ,
        help=f"the hub's [admin] token (default: ${TOKEN_VARIABLE})",
    )
    backup.add_argument(
        "--out", type=types.new_file, required=True, help="the backup file to write (a new file)"
    )
    add_json_argument(backup)
    backup.set_defaults(handler=_backup)

    restore = commands.add_parser("restore", help="make a stopped hub's data directory from a backup file")
    restore.add_argument("file", type=types.existing_file, help="a file written by `hubledger backup`")
    restore.add_argument(
        "--data-dir", type=types.output_directory, required=True,
        help="the hub's data directory ([node] data_dir); must be absent or empty",
    )
    add_json_argument(restore)
    restore.set_defaults(handler=_restore)


def _backup(arguments: argparse.Namespace) -> int:
    partial = arguments.out.with_name(arguments.out.name + ".partial")
    try:
        context = make_tls_context(arguments)
        height = asyncio.run(_download(arguments.node, arguments.admin_token, partial, context))
        pairs = verify_backup(_read_chunks(partial))
    except (TimeoutError, aiohttp.ClientConnectionError) as error:
        partial.unlink(missing_ok=True)
        print_error(f"cannot use the node at {arguments.node}: {describe_connection_error(error)}")
        return ExitStatus.UNREACHABLE
    except (aiohttp.ClientError, BackupInvalid, ValueError) as error:
        partial.unlink(missing_ok=True)
        print_error(f"backup from {arguments.node} failed: {error}")
        return ExitStatus.FAILED
    except AdminRefused as error:
        partial.unlink(missing_ok=True)
        print_error(str(error))
        return ExitStatus.REFUSED
    partial.replace(arguments.out)
    size = arguments.out.stat().st_size
    if arguments.json:
        print_json({"file": str(arguments.out), "records": pairs, "height": height, "bytes": size})
    else:
        print(f"backed up {pairs} records at height {height} to {arguments.out} ({size} B)")
    return ExitStatus.OK


def _restore(arguments: argparse.Namespace) -> int:
    try:
        summary = restore_backup(_read_chunks(arguments.file), arguments.data_dir)
    except BackupInvalid as error:
        print_error(f"{arguments.file}: {error}")
        return ExitStatus.FAILED
    except StorageError as error:
        print_error(str(error))
        return ExitStatus.BAD_ARGUMENTS
    if arguments.json:
        print_json({"data_dir": str(arguments.data_dir), "records": summary.pairs, "height": summary.height})
    else:
        print(f"restored {summary.pairs} records (chain height {summary.height}) into {arguments.data_dir}")
    return ExitStatus.OK


async def _download(url: str, token: str, path: Path, context: ssl.SSLContext) -> str:
    """The hub's backup into ``path``; over TLS the request shows the operator's certificate,
    which admin endpoints want besides the token."""
    async with open_admin_stream(url, "/v1/admin/backup", token, context) as response:
        with path.open("wb") as file:
            async for chunk in response.content.iter_chunked(READ_BYTES):
                file.write(chunk)
            file.flush()
            os.fsync(file.fileno())
        return response.headers.get("X-Hubledger-Height", "?")


def _read_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as file:
        while chunk := file.read(READ_BYTES):
            yield chunk
