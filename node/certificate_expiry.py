"""How long each certificate the node serves with has left: a gauge, and a warning 30 days ahead.

``hubledger_certificate_expiry_seconds{certificate=...}`` has one series per
certificate: ``p2p`` (what the peer listener and peer dials present), ``api``
(what the client API presents; the same hub certificate today, named apart
so an alert says which listener it hurts) and ``ca`` (the network CA, whose
expiry ends every certificate). The value is read from the wall clock at
each scrape; monitoring/alerts.yml alerts on it.

The node logs ``certificate_expires_soon`` (a warning) at start, after each
reload, and once a day while any certificate has EXPIRY_WARNING_S or less
left, so a hub that is not scraped still says so in its log.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Iterator, Mapping
from pathlib import Path

import structlog
from cryptography import x509
from prometheus_client.core import GaugeMetricFamily, Metric

from p2p.tls import TlsFiles

log = structlog.get_logger("tls")

EXPIRY_WARNING_S = 30 * 86_400
WARNING_INTERVAL_S = 86_400


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def read_expiries(files: TlsFiles) -> dict[str, datetime.datetime]:
    """certificate label -> not-valid-after, for the files the node serves with (checked at load)."""
    own = _read_not_after(files.certificate_file)
    return {"api": own, "p2p": own, "ca": _read_not_after(files.ca_file)}


def _read_not_after(path: Path) -> datetime.datetime:
    return x509.load_pem_x509_certificate(path.read_bytes()).not_valid_after_utc


class CertificateExpiry:
    """The node's certificates' expiry dates, as a Prometheus collector and as warnings."""

    def __init__(self, files: TlsFiles, *, api_served: bool = True) -> None:
        self._files = files
        self._api_served = api_served
        self.not_after: Mapping[str, datetime.datetime] = {}
        self.update()

    def update(self) -> None:
        """Read the files again (after a reload) and warn about any close to expiry."""
        expiries = read_expiries(self._files)
        if not self._api_served:
            del expiries["api"]
        self.not_after = expiries
        self.warn_if_expiring()

    def get_seconds_left(self, now: datetime.datetime | None = None) -> dict[str, int]:
        now = now or utc_now()
        return {label: int((end - now).total_seconds()) for label, end in self.not_after.items()}

    def warn_if_expiring(self, now: datetime.datetime | None = None) -> list[str]:
        """Log a warning for each certificate within EXPIRY_WARNING_S of expiry; returns their labels."""
        left_s = self.get_seconds_left(now)
        close = {label: left for label, left in left_s.items() if left <= EXPIRY_WARNING_S}
        for label, left in sorted(close.items()):
            log.warning(
                "certificate_expires_soon",
                certificate=label,
                expires=self.not_after[label].isoformat(),
                days_left=left // 86_400,
                remedy="hubledger cert renew, copy the files to this host, then SIGHUP the node",
            )
        return sorted(close)

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "hubledger_certificate_expiry_seconds",
            "Seconds until each certificate this node serves with expires (negative: expired).",
            labels=["certificate"],
        )
        for label, left in sorted(self.get_seconds_left().items()):
            family.add_metric([label], left)
        yield family

    async def warn_daily(self) -> None:
        """Repeat the warning once a day; runs until cancelled."""
        while True:
            await asyncio.sleep(WARNING_INTERVAL_S)
            self.warn_if_expiring()
