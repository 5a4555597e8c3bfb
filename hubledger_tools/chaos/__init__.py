"""``hubledger chaos``: fault scenarios against a local network of real node processes."""
