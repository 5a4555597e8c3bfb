"""``hubledger bench``: offer a fixed or ramping load of CBDC transfers and measure what commits.

The pieces, in the order a run uses them: ``settings`` (what to run),
``cluster`` (start local nodes or find running ones), ``workload`` (register
and fund senders, pre-sign every transfer in several processes), ``offer``
(open-loop submission), ``follow`` (commit times from the blocks), ``procfs``
(node CPU and memory), ``machine`` (cores, memory, the signature ceiling),
``summary`` (percentiles and rates) and ``report`` (table, JSON, comparison).
``run`` ties them together.
"""
