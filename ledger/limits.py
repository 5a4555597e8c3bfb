"""Protocol-wide size limits: every node enforces the same numbers, before decoding."""

TRANSACTION_BYTES_MAX = 64 * 1024
BLOCK_BYTES_MAX = 16 * 1024 * 1024
BLOCK_TRANSACTIONS_MAX = 10_000
TEXT_MAX = 256
ARGS_ITEMS_MAX = 1024
EVENTS_MAX = 4096
VALIDATORS_MAX = 100
FETCHED_BLOCKS_MAX = 256  # blocks in one answer to a state-transfer request
