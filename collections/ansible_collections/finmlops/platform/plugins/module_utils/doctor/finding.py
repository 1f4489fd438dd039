"""The result type of every diagnosis: a finding an operator can act on."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# Ordered from worst to mildest; the doctor's exit policy keys on "error".
SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class Finding:
    """One diagnosed problem.

    ``evidence`` lists concrete facts read from the snapshot (object refs and
    field values) so the operator can check the reasoning; ``fix`` is the exact
    command or manifest change. ``needs_cluster_admin`` marks fixes a namespace
    owner cannot apply (platform-request.yml turns those into a request).
    """

    id: str
    severity: str
    title: str
    evidence: list[str]
    fix: str
    needs_cluster_admin: bool = False
    objects: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"finding {self.id}: severity {self.severity!r} is not one of {SEVERITIES}")
        if not self.evidence:
            raise ValueError(f"finding {self.id}: a finding without evidence cannot be checked by anyone")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Worst first, then by id, so reports are stable across runs."""
    return sorted(findings, key=lambda f: (SEVERITIES.index(f.severity), f.id, f.title))


def count_by_severity(findings: list[Finding]) -> dict[str, int]:
    counts = dict.fromkeys(SEVERITIES, 0)
    for item in findings:
        counts[item.severity] += 1
    return counts


def format_report(findings: list[Finding]) -> list[str]:
    """Plain-text lines for the operator (Ansible prints lists line by line)."""
    if not findings:
        return ["No problems found in the snapshot."]
    counts = count_by_severity(findings)
    lines = [
        "Findings: " + ", ".join(f"{counts[s]} {s}" for s in SEVERITIES),
    ]
    for number, item in enumerate(sort_findings(findings), start=1):
        admin = " [needs cluster-admin]" if item.needs_cluster_admin else ""
        lines.append("")
        lines.append(f"{number}. [{item.severity.upper()}] {item.id}: {item.title}{admin}")
        lines.append("   Evidence:")
        lines.extend(f"     - {fact}" for fact in item.evidence)
        lines.append("   Fix:")
        lines.extend(f"     {fix_line}" for fix_line in item.fix.splitlines())
    return lines
