"""Round trips between the four hub cities, and the consensus timeouts that suit them.

The figures are typical measured pings between data centres of these cities,
as published in city-to-city ping tables (WonderNetwork's global ping
statistics, wondernetwork.com/pings, which lists Beijing, Shanghai, Shenzhen
and Hangzhou) and in the ranges issue 17 gives: 25 to 50 ms between Beijing
and the southern hubs, under 10 ms between Shanghai and Hangzhou (about 170 km
apart). Great-circle distances for comparison, with the floor light in fibre
sets on the round trip (2 x distance / 200 km per ms):

    Beijing-Shanghai   1,070 km  >= 10.7 ms   used 28 ms
    Beijing-Hangzhou   1,130 km  >= 11.3 ms   used 30 ms
    Beijing-Shenzhen   1,940 km  >= 19.4 ms   used 45 ms
    Shanghai-Shenzhen  1,210 km  >= 12.1 ms   used 32 ms
    Hangzhou-Shenzhen  1,050 km  >= 10.5 ms   used 30 ms
    Shanghai-Hangzhou    165 km  >=  1.7 ms   used  8 ms

Each direction of a link carries half the round trip, plus or minus the jitter.
"""

from __future__ import annotations

from node.errors import ConfigError

CITIES = ("beijing", "shanghai", "shenzhen", "hangzhou")
ROUND_TRIPS_MS: dict[frozenset[str], int] = {
    frozenset({"beijing", "shanghai"}): 28,
    frozenset({"beijing", "hangzhou"}): 30,
    frozenset({"beijing", "shenzhen"}): 45,
    frozenset({"shanghai", "shenzhen"}): 32,
    frozenset({"hangzhou", "shenzhen"}): 30,
    frozenset({"shanghai", "hangzhou"}): 8,
}
JITTER_MS = 2  # each chunk's one-way delay varies by up to this much either way

# The consensus timeouts of a WAN network (written into every hub's config by netgen).
# A commit takes three one-way trips (pre-prepare, prepare, commit), 70 ms at the
# slowest pair, and a loaded block adds its checks; the loopback defaults (2 s, 4 s)
# leave room for that already, so they are raised only by the longest round trip's
# share of a view change (new-view and its votes, a few hundred ms at most): the
# view-change time a killed primary costs stays close to loopback's.
WAN_CONSENSUS = {
    "batch_delay_ms": 20,
    "view_timeout_ms": 3000,
    "request_timeout_ms": 6000,
}


def get_round_trip_ms(first: str, second: str) -> int:
    """The round trip between two hub cities; ConfigError for a city the table lacks."""
    try:
        return ROUND_TRIPS_MS[frozenset({first, second})]
    except KeyError:
        raise ConfigError(
            f"no inter-city round trip is known between {first} and {second}; "
            f"the WAN layout knows {', '.join(CITIES)}"
        ) from None


def validate_cities(hubs: list[str]) -> None:
    """Raise ConfigError unless every hub is one of the cities the delay table covers."""
    unknown = [hub for hub in hubs if hub not in CITIES]
    if unknown or len(hubs) < 2:
        raise ConfigError(
            f"the WAN layout runs two to four of {', '.join(CITIES)}; "
            f"not {', '.join(unknown) or 'fewer than two hubs'}"
        )


def describe_round_trips(hubs: list[str]) -> dict[str, int]:
    """``{"beijing-shanghai": 28, ...}`` for every pair of ``hubs``, as a result file records them."""
    return {
        f"{first}-{second}": get_round_trip_ms(first, second)
        for position, first in enumerate(hubs)
        for second in hubs[position + 1 :]
    }
