"""Which hub to ask next: the client library's list of hubs and when to move on.

Every hub serves the same API, so a request a hub cannot serve now is sent to
the next one. A hub answers 503 with a code that says so and keeps nothing
(``NO_QUORUM``: it cannot reach a quorum; ``BEHIND``: it is catching up, or
below the height the request asked for; ``BUSY``: it is overloaded;
``DATABASE_CORRUPT``: its own store is damaged), or it cannot be reached at
all (connection refused or reset, no answer in time, or what answers is not a
hub's client API: ``NodeUnreachable``). Both are safe to send
elsewhere: reads change nothing, and a submission is the same signed bytes,
whose id makes it idempotent, never a new nonce.

One round asks every hub once, starting with the one that answered last.
When every hub refused with a 503, the round is tried again after a pause
that doubles (0.1, 0.2, 0.4, 0.8, 1.6 s), so clients back off together; when
every hub was unreachable there is nothing to wait for and NodeUnreachable,
naming each hub's reason, is raised at once.
"""

from __future__ import annotations

from collections.abc import Sequence

REFUSALS_TO_RETRY = frozenset({"NO_QUORUM", "BEHIND", "BUSY", "DATABASE_CORRUPT"})
ROUNDS_DEFAULT = 6  # the first, then after 0.1, 0.2, 0.4, 0.8 and 1.6 s
DELAY_FIRST_S = 0.1
DELAY_MAX_S = 1.6


def get_retry_delay_s(attempt: int) -> float:
    """The pause before another round, after ``attempt`` earlier rounds were all refused."""
    return min(DELAY_MAX_S, DELAY_FIRST_S * 2.0 ** min(attempt, 16))


def parse_hub_urls(urls: str | Sequence[str]) -> list[str]:
    """One URL, several separated by commas, or a list of them; each without a trailing '/'."""
    items = urls.split(",") if isinstance(urls, str) else list(urls)
    parsed = [item.strip().rstrip("/") for item in items if item.strip()]
    if not parsed:
        raise ValueError("no hub URL given")
    return parsed


class HubRing:
    """The hubs a client may ask, in order, remembering the one that answered last."""

    def __init__(self, urls: Sequence[str]) -> None:
        self.urls = list(urls)
        self._current = 0

    @property
    def current(self) -> str:
        return self.urls[self._current]

    def get_round(self) -> list[str]:
        """Every hub once, the one that answered last first."""
        return self.urls[self._current :] + self.urls[: self._current]

    def settle(self, url: str) -> None:
        """``url`` answered: ask it first from now on."""
        self._current = self.urls.index(url)
