"""The ``hubledger`` command, one module per group of subcommands."""
