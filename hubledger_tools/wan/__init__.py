"""Four hubs in four Linux network namespaces with inter-city delays on the wire between them.

``delays`` holds the round trips between the cities, ``namespaces`` makes and
removes the namespaces and their veth pairs, ``relay`` is the user-space TCP
relay that delays (and can cut) each link, ``network`` puts them together
with a network from ``netgen``. Used by tests/integration/wan and by
``hubledger bench --layout wan``; see docs/testers.md and docs/benchmarks.md.
"""
