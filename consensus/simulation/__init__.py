"""The deterministic simulator: whole networks of replicas in one process, on a virtual clock.

Everything here is a function of the seed the caller passes in (as a random
source it built itself: the consensus core never imports ``random``). The
same seed and the same code give the same run, event for event, so a failing
seed is a bug report anyone can replay.
"""
