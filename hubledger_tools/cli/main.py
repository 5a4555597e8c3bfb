"""The ``hubledger`` command: run and generate networks, submit transactions, read the chain.

Every subcommand checks its arguments before it sends anything, and every
failure is one line on stderr with the exit status of cli/errors.py (0 done,
1 the operation failed, 2 bad arguments or refused, 4 no hub answers, 5 still
pending, 6 unknown), never a traceback.
"""

from __future__ import annotations

import argparse
import functools
import sys
import traceback
from collections.abc import Sequence

from hubledger_client.errors import ClientError, NodeUnreachable
from hubledger_client.pending import TransactionPending
from hubledger_client.tls import TlsSetupError
from hubledger_tools.cli.audit import add_audit_commands
from hubledger_tools.cli.backup import add_backup_commands
from hubledger_tools.cli.balance_proof import add_balance_proof_commands
from hubledger_tools.cli.bench import add_bench_command
from hubledger_tools.cli.cert import add_cert_command
from hubledger_tools.cli.chaos import add_chaos_command
from hubledger_tools.cli.contracts import add_contracts_command
from hubledger_tools.cli.errors import CommandParser, ExitStatus, print_error
from hubledger_tools.cli.fate import add_tx_command
from hubledger_tools.cli.keygen import add_keygen_command
from hubledger_tools.cli.network import add_network_commands
from hubledger_tools.cli.reads import add_reader_commands, add_status_command
from hubledger_tools.cli.settlement import add_settlement_commands
from hubledger_tools.cli.simulate import add_simulate_command
from hubledger_tools.cli.submit import add_submit_command
from ledger.errors import LedgerError

SHOW_TRACEBACK_HOW = "python -X dev -m hubledger_tools.cli ..."


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        arguments = parser.parse_args(argv)
        return int(arguments.handler(arguments) or 0)
    except SystemExit as done:  # argparse: --help (0) or a bad argument (2, already printed)
        return done.code if isinstance(done.code, int) else ExitStatus.BAD_ARGUMENTS
    except NodeUnreachable as error:
        print_error(error.message)
        return ExitStatus.UNREACHABLE
    except TransactionPending as pending:  # before TimeoutError, which it is
        print_error(str(pending))
        return ExitStatus.PENDING
    except ClientError as error:
        print_error(f"the node{f' at {error.hub}' if error.hub else ''} refused: {error}")
        return ExitStatus.REFUSED
    except LedgerError as error:
        print_error(error.message)
        return ExitStatus.BAD_ARGUMENTS
    except TlsSetupError as error:  # a CA or client certificate named by --ca, --cert or HUBLEDGER_CA
        print_error(str(error))
        return ExitStatus.BAD_ARGUMENTS
    except (OSError, TimeoutError) as error:
        print_error(str(error) or type(error).__name__)
        return ExitStatus.FAILED
    except KeyboardInterrupt:
        return ExitStatus.INTERRUPTED
    except Exception as error:  # a bug: still one line, unless asked for the traceback
        if sys.flags.dev_mode:
            traceback.print_exc()
        print_error(
            f"internal error, a bug in hubledger ({type(error).__name__}: {error}); "
            f"{SHOW_TRACEBACK_HOW} shows where"
        )
        return ExitStatus.BUG


@functools.cache  # parsing does not change a parser; many calls of main() in one process share one
def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="hubledger",
        description="Run and generate HubLedger networks, submit transactions, read the chain.",
        epilog="exit status: 0 done, 1 the operation failed, 2 bad arguments or refused, "
        "3 (node) its database is corrupt, 4 no hub answers (or none with a certificate of the CA given), "
        "5 still pending (--wait ran out), "
        "6 (tx) unknown on every hub asked, "
        "7 (verify-receipt) the proof holds and the transaction FAILED; see docs/api.md",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    add_network_commands(commands)
    add_keygen_command(commands)
    add_contracts_command(commands)
    add_cert_command(commands)
    add_submit_command(commands)
    add_reader_commands(commands)
    add_settlement_commands(commands)
    add_simulate_command(commands)
    add_chaos_command(commands)
    add_bench_command(commands)
    add_audit_commands(commands)
    add_balance_proof_commands(commands)
    add_backup_commands(commands)
    add_status_command(commands)
    add_tx_command(commands)
    return parser


if __name__ == "__main__":
    sys.exit(main())
