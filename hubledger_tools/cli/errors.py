"""How ``hubledger`` fails: its exit statuses and the parser that reports bad arguments in one line.

Exit statuses (docs/api.md, "Exit statuses of the hubledger command"):

- 0: done (a transaction committed and succeeded; without ``--wait``, accepted);
- 1: the operation failed: a transaction committed with a failed receipt or was
  rejected, a check found the chain or a proof invalid;
- 2: bad arguments, a file named in them missing or unreadable, or a node refused
  the request with an error code (printed); nothing was sent, or the node kept nothing;
  a CA or client certificate (--ca, HUBLEDGER_CA, --cert) that cannot be used is one too;
- 3: ``hubledger node`` only: its database is corrupt (DATABASE_CORRUPT, docs/operators.md);
- 4: no hub given could be reached, what answered is not a HubLedger client API, or its
  TLS certificate is not from the CA given (the line says to give --ca); nothing was done;
- 5: ``--wait`` ran out (or ``hubledger tx`` found it pending): the transaction is still
  pending and may yet commit; the safe retry is the same signed transaction, never a new nonce;
- 6: ``hubledger tx``: the transaction is unknown to every hub asked;
- 7: ``hubledger verify-receipt``: the proof holds, and proves the transaction committed
  with a FAILED receipt (its code printed); 1 there means the proof itself does not hold,
  and ``--finality-only`` answers 0 for a final transaction whatever its outcome;
- 70: a bug in hubledger itself (``python -X dev -m hubledger_tools.cli ...`` shows where);
- 130: interrupted with Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
from enum import IntEnum
from typing import NoReturn

from ledger.errors import LedgerError


class ExitStatus(IntEnum):
    OK = 0
    FAILED = 1
    BAD_ARGUMENTS = 2
    REFUSED = 2  # the node's own refusal: like a bad argument, nothing was kept
    DATABASE_CORRUPT = 3  # hubledger node, node/runner.py
    UNREACHABLE = 4
    PENDING = 5
    UNKNOWN = 6
    TRANSACTION_FAILED = 7  # verify-receipt: proven final, and proven FAILED
    BUG = 70  # EX_SOFTWARE of sysexits.h
    INTERRUPTED = 130


class UsageError(LedgerError):
    """Raised when an argument is wrong in a way only seen after parsing (a file's content)."""

    code = "BAD_ARGUMENTS"


def print_error(message: str) -> None:
    """One line on stderr, whatever the message holds."""
    print(f"error: {' '.join(message.split())}", file=sys.stderr)


class CommandParser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line, as every other error, then exit status 2.

    argparse's own prints the usage block before the error; a script reading stderr
    wants one sentence, and ``--help`` shows the usage to a person who asks.
    """

    def error(self, message: str) -> NoReturn:
        text = " ".join(message.split())
        print(f"error: {text} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(ExitStatus.BAD_ARGUMENTS)
