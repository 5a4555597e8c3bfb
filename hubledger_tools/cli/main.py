"""The ``hubledger`` command: run and generate networks, submit transactions, read the chain.

Every subcommand checks its arguments and exits with status 2 and one clear
sentence on bad input, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from hubledger_client.client import ClientError
from hubledger_tools.cli.audit import add_audit_commands
from hubledger_tools.cli.bench import add_bench_command
from hubledger_tools.cli.cert import add_cert_command
from hubledger_tools.cli.chaos import add_chaos_command
from hubledger_tools.cli.network import add_network_commands
from hubledger_tools.cli.reads import add_reader_commands, add_status_command
from hubledger_tools.cli.settlement import add_settlement_commands
from hubledger_tools.cli.simulate import add_simulate_command
from hubledger_tools.cli.submit import add_submit_command
from ledger.errors import LedgerError


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    try:
        return int(arguments.handler(arguments) or 0)
    except (LedgerError, ClientError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (OSError, TimeoutError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hubledger", description=__doc__.splitlines()[0] if __doc__ else "")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    add_network_commands(commands)
    add_cert_command(commands)
    add_submit_command(commands)
    add_reader_commands(commands)
    add_settlement_commands(commands)
    add_simulate_command(commands)
    add_chaos_command(commands)
    add_bench_command(commands)
    add_audit_commands(commands)
    add_status_command(commands)
    return parser


if __name__ == "__main__":
    sys.exit(main())
