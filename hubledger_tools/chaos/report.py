"""The chaos report: a JSON document and a summary a person reads, with a timeline."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hubledger_tools.chaos.checks import Check


@dataclass
class Report:
    scenario: str
    description: str
    hubs: list[str]
    honest_hubs: list[str]
    byzantine: dict[str, str]
    timeline: list[dict[str, Any]] = field(default_factory=list)  # {"t_s", "event", "detail"}
    samples: list[dict[str, Any]] = field(default_factory=list)  # {"t_s", "heights": {hub: h}}
    checks: list[Check] = field(default_factory=list)
    load: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0

    @property
    def is_ok(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        document["verdict"] = "pass" if self.is_ok else "fail"
        return document

    def write(self, directory: Path) -> tuple[Path, Path]:
        directory.mkdir(parents=True, exist_ok=True)
        json_path = directory / f"{self.scenario}.json"
        text_path = directory / f"{self.scenario}.txt"
        json_path.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        text_path.write_text(format_summary(self) + "\n")
        return json_path, text_path


def format_summary(report: Report) -> str:
    lines = [f"scenario {report.scenario}: {'PASS' if report.is_ok else 'FAIL'} in {report.elapsed_s:.1f} s"]
    if report.description:
        lines.append(f"  {report.description}")
    byzantine = ", ".join(f"{hub}={name}" for hub, name in report.byzantine.items()) or "none"
    lines.append(f"  hubs {', '.join(report.hubs)}; Byzantine: {byzantine}")
    lines.append(f"  load: {report.load}")
    lines.append("timeline:")
    events = [(item["t_s"], f"{item['event']:<12} {item['detail']}") for item in report.timeline]
    heights = _height_changes(report.samples)
    for t_s, text in sorted(events + heights, key=lambda pair: pair[0]):
        lines.append(f"  {t_s:6.1f} s  {text}")
    lines.append("checks:")
    for check in report.checks:
        lines.append(f"  [{'ok' if check.ok else 'FAIL'}] {check.name:<13} {check.detail}")
    return "\n".join(lines)


def _height_changes(samples: list[dict[str, Any]]) -> list[tuple[float, str]]:
    """One line per sample in which some height changed, so the timeline stays short."""
    lines = []
    previous: dict[str, Any] = {}
    for sample in samples:
        if sample["heights"] != previous:
            shown = " ".join(f"{hub}={height}" for hub, height in sample["heights"].items())
            lines.append((sample["t_s"], f"{'heights':<12} {shown}"))
            previous = sample["heights"]
    return lines
