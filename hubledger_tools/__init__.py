"""The people's tools around a HubLedger network: the ``hubledger`` command and what it runs.

Network generation (netgen), local networks (localnet), load benchmarks
(bench), fault injection (chaos), the seeded simulator (simulate) and the
offline audit (audit). They drive nodes through the client and the node's
public entry points (node.runner, node.config, node.errors, and
node.application, which the simulator runs over in-memory storage) only.
"""
