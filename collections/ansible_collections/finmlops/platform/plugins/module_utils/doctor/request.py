"""The platform-team request document for findings that need cluster-admin."""

from __future__ import annotations

from ansible_collections.finmlops.platform.plugins.module_utils.doctor.finding import Finding, sort_findings

# Why a finding family needs the platform team, keyed by finding-id prefix.
ADMIN_REASONS = {
    "network-policy-": (
        "NetworkPolicies of the platform namespaces are owned by the platform team (tenancy role); "
        "namespace users cannot change them."
    ),
    "calico-node-": "calico-node runs in calico-system on the node; repairing it needs cluster-admin.",
    "seldon-serverconfig-": "ServerConfigs are installed with the SeldonRuntime by the platform team.",
    "namespace-stuck-": "Removing finalizers and repairing APIServices needs cluster-admin rights.",
    "loadbalancer-": "MetalLB pools and IP reservations are cluster-wide settings of the platform inventory.",
}
DEFAULT_REASON = "The change touches cluster-scoped or platform-owned objects that tenants cannot modify."


def admin_reason(finding: Finding) -> str:
    for prefix, reason in ADMIN_REASONS.items():
        if finding.id.startswith(prefix):
            return reason
    return DEFAULT_REASON


def render_request(
    findings: list[Finding], cluster: str, requester: str, captured_at: str, source: str
) -> str:
    """Markdown: one section per finding with what, why, evidence and the exact change."""
    wanted = [f for f in sort_findings(findings) if f.needs_cluster_admin]
    lines = [
        f"# Platform change request: {cluster}",
        "",
        f"- Requested by: {requester}",
        f"- Evidence captured at: {captured_at or 'unknown'} from {source or 'unknown'}",
        f"- Changes requested: {len(wanted)}",
        "",
    ]
    if not wanted:
        lines.append(
            "The cluster doctor found nothing that needs cluster-admin rights; no request is needed."
        )
        return "\n".join(lines) + "\n"
    lines.append(
        "Each change below was found by `playbooks/day2/doctor.yml`; the evidence is copied from the "
        "cluster state so it can be checked before the change is made."
    )
    for number, item in enumerate(wanted, start=1):
        lines += [
            "",
            f"## {number}. {item.title}",
            "",
            f"**What:** {item.title} (doctor finding `{item.id}`, severity {item.severity}).",
            "",
            f"**Why it needs you:** {admin_reason(item)}",
            "",
            f"**Objects:** {', '.join(item.objects) or 'see the evidence'}",
            "",
            "**Evidence:**",
            "",
            *[f"- {fact}" for fact in item.evidence],
            "",
            "**Exact change:**",
            "",
            "```",
            item.fix,
            "```",
        ]
    return "\n".join(lines) + "\n"
