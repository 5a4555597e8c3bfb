"""``python -m hubledger_tools.cli``: the ``hubledger`` command without the console script."""

import sys

from hubledger_tools.cli.main import main

sys.exit(main())
