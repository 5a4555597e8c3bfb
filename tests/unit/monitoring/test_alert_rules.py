"""The alert rules shipped in monitoring/ load in Prometheus and fire when, and only when, they should.

``promtool test rules`` replays the series of monitoring/alerts-test.yml
through monitoring/alerts.yml. promtool comes with Debian's prometheus
package (`make promtool` installs it where apt-get can); where it is missing
the test is skipped and says why.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

MONITORING = Path(__file__).resolve().parents[3] / "monitoring"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool is not installed (Debian: apt-get install prometheus, or `make promtool`)",
)


def run_promtool(*arguments: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *arguments], capture_output=True, text=True, cwd=MONITORING, timeout=60, check=False
    )


@needs_promtool
def test_the_rules_and_the_scrape_configuration_are_valid() -> None:
    checked = run_promtool("check", "rules", "alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 8 rules found" in checked.stdout


@needs_promtool
def test_every_alert_fires_in_its_case_and_stays_quiet_in_the_others() -> None:
    tested = run_promtool("test", "rules", "alerts-test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_every_alert_has_a_test_case() -> None:
    rules = (MONITORING / "alerts.yml").read_text()
    cases = (MONITORING / "alerts-test.yml").read_text()
    lines = [line.strip() for line in rules.splitlines()]
    alerts = [line.removeprefix("- alert:").strip() for line in lines if line.startswith("- alert:")]
    assert len(alerts) == 8
    untested = [alert for alert in alerts if f"alertname: {alert}\n" not in cases]
    assert not untested, f"alerts with no case in alerts-test.yml: {untested}"
