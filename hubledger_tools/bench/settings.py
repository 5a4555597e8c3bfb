"""What a bench run does, parsed once from the command line and passed in."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hubledger_tools.netgen import parse_hubs
from hubledger_tools.wan.delays import CITIES
from node.errors import ConfigError

HUB_NAMES = (
    "beijing",
    "shanghai",
    "shenzhen",
    "hangzhou",
    "guangzhou",
    "chengdu",
    "wuhan",
    "nanjing",
    "tianjin",
    "chongqing",
    "xian",
    "suzhou",
)
RAMP_RATES_DEFAULT = (250, 500, 1000, 1500, 2000, 3000, 4000)
RATE_MAX = 100_000
LAYOUTS = ("loopback", "wan")
SENDERS_MAX = 10_000


@dataclass(frozen=True)
class BenchSettings:
    hubs: tuple[str, ...]  # empty when targeting running nodes
    node_urls: tuple[str, ...]  # empty when the bench starts its own network
    network_dir: Path | None  # keys of a running network, or where to keep a started one
    rate_per_s: int
    duration_s: float
    ramp_rates: tuple[int, ...]  # empty: one fixed rate
    step_duration_s: float
    warmup_s: float
    drain_s: float
    senders: int
    tick_ms: int
    sign_processes: int
    observe_hub: str | None  # the hub whose blocks give commit times; default: the last loaded
    out: Path | None
    compare: Path | None
    cprofile_hub: str | None  # run this hub under cProfile; the profile is kept with the network
    keep: bool  # keep the generated network directory
    quiet: bool
    catch_up: bool = False  # the last hub misses the load, then is timed replaying it
    layout: str = "loopback"  # or "wan": each hub in a namespace, inter-city delays between them

    @property
    def is_ramp(self) -> bool:
        return bool(self.ramp_rates)

    def count_transactions(self) -> int:
        """How many transfers the run may offer at most (the pre-signed workload)."""
        if self.is_ramp:
            return int(sum(rate * self.step_duration_s for rate in self.ramp_rates)) + 1
        return int(self.rate_per_s * self.duration_s) + 1


def parse_hub_argument(text: str) -> tuple[str, ...]:
    """``--hubs 7`` names seven hubs from HUB_NAMES (then hub13, ...); a list is taken as given."""
    if text.strip().isdigit():
        count = int(text)
        if not 1 <= count <= 64:
            raise ConfigError("--hubs as a number must be between 1 and 64")
        extra = [f"hub{index + 1}" for index in range(len(HUB_NAMES), count)]
        return tuple(list(HUB_NAMES[:count]) + extra)
    return tuple(parse_hubs(text))


def parse_rates(text: str) -> tuple[int, ...]:
    try:
        rates = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ConfigError(f"--ramp-rates must be comma-separated whole numbers, not {text!r}") from None
    if not rates or any(not 1 <= rate <= RATE_MAX for rate in rates):
        raise ConfigError(f"--ramp-rates must name rates between 1 and {RATE_MAX} tx/s")
    return rates


def validate_settings(settings: BenchSettings) -> None:
    """Raise ConfigError with one sentence for the first setting that cannot work."""
    checks = [
        (1 <= settings.rate_per_s <= RATE_MAX, f"--rate must be between 1 and {RATE_MAX} tx/s"),
        (settings.duration_s > 0, "--duration must be positive"),
        (settings.step_duration_s > 0, "--step-duration must be positive"),
        (
            0 <= settings.warmup_s < settings.duration_s or settings.is_ramp,
            "--warmup must be below --duration",
        ),
        (settings.drain_s >= 0, "--drain must not be negative"),
        (1 <= settings.senders <= SENDERS_MAX, f"--senders must be between 1 and {SENDERS_MAX}"),
        (5 <= settings.tick_ms <= 1000, "--tick-ms must be between 5 and 1000"),
        (settings.sign_processes >= 1, "--sign-processes must be at least 1"),
        (bool(settings.hubs) != bool(settings.node_urls), "give --hubs or --nodes, not both"),
        (
            not settings.node_urls or settings.network_dir is not None,
            "--nodes needs --network DIR (the network's accounts/ keys)",
        ),
        (
            settings.cprofile_hub is None or settings.cprofile_hub in settings.hubs,
            "--cprofile names a hub that this run does not start",
        ),
        (
            settings.observe_hub is None or not settings.hubs or settings.observe_hub in settings.hubs,
            "--observe names a hub that this run does not start",
        ),
        (
            not settings.catch_up or len(settings.hubs) >= 4,
            "--catch-up needs a network this run starts, of 4 hubs or more",
        ),
        (
            not settings.catch_up or settings.hubs[-1:] != (settings.observe_hub,),
            "--catch-up stops the last hub for the load: --observe another",
        ),
        (settings.layout in LAYOUTS, f"--layout must be one of {', '.join(LAYOUTS)}"),
        (
            settings.layout == "loopback" or not settings.node_urls,
            "--layout wan starts its own network in namespaces: give --hubs, not --nodes",
        ),
        (
            settings.layout != "wan" or (set(settings.hubs) <= set(CITIES) and len(settings.hubs) >= 2),
            f"--layout wan starts two to four of {', '.join(CITIES)} (the cities whose round trips it knows)",
        ),
    ]
    for is_ok, sentence in checks:
        if not is_ok:
            raise ConfigError(sentence)
