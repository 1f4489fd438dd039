"""Namespaces stuck in Terminating: which finalizers, which objects hold them.

The namespace controller deletes every object, then removes the
``kubernetes`` finalizer. It stops when objects keep finalizers whose
controller is gone (e.g. Seldon CRs after the operator was removed) or when an
aggregated API is unreachable (NamespaceDeletionDiscoveryFailure). Its status
conditions name the cause; the snapshot shows the remaining objects.
"""

from __future__ import annotations

from ansible_collections.finmlops.platform.plugins.module_utils.doctor.finding import Finding
from ansible_collections.finmlops.platform.plugins.module_utils.doctor.snapshot import (
    Snapshot,
    condition,
    name_of,
    namespace_of,
    ref,
)

_CAUSES = (
    "NamespaceDeletionDiscoveryFailure",
    "NamespaceDeletionContentFailure",
    "NamespaceContentRemaining",
    "NamespaceFinalizersRemaining",
)


def diagnose(snap: Snapshot) -> list[Finding]:
    findings = []
    for namespace in snap.of_kind("Namespace"):
        meta = namespace.get("metadata") or {}
        if (namespace.get("status") or {}).get("phase") != "Terminating":
            continue
        name = name_of(namespace)
        evidence = [
            f"{ref(namespace)} status.phase=Terminating since metadata.deletionTimestamp="
            f"{meta.get('deletionTimestamp', '?')}"
        ]
        for ctype in _CAUSES:
            cond = condition(namespace, ctype)
            if cond and str(cond.get("status")) == "True":
                evidence.append(f"{ref(namespace)} condition {ctype}: {cond.get('message', '')}")
        holders = [
            o for o in snap.objects if namespace_of(o) == name and (o.get("metadata") or {}).get("finalizers")
        ]
        others = [o for o in snap.objects if namespace_of(o) == name and o not in holders]
        evidence.extend(f"{ref(o)} metadata.finalizers={o['metadata']['finalizers']}" for o in holders)
        if others:
            shown = ", ".join(ref(o) for o in others[:10])
            evidence.append(f"other objects still in {name}: {shown}{' ...' if len(others) > 10 else ''}")
        patches = [
            f"kubectl -n {name} patch {o['kind'].lower()}.{(o.get('apiVersion') or 'v1').split('/')[0]} "
            f'{name_of(o)} --type=merge -p \'{{"metadata":{{"finalizers":null}}}}\''
            if "/" in (o.get("apiVersion") or "")
            else f"kubectl -n {name} patch {o['kind'].lower()} {name_of(o)} --type=merge "
            '-p \'{"metadata":{"finalizers":null}}\''
            for o in holders
        ]
        discovery = condition(namespace, "NamespaceDeletionDiscoveryFailure")
        steps = []
        if discovery and str(discovery.get("status")) == "True":
            steps.append(
                "Fix or delete the unavailable APIService named in the condition "
                "(kubectl get apiservice | grep False), then the namespace controller resumes."
            )
        if patches:
            steps.append(
                "First make sure the controller owning these finalizers is really gone (or reinstall "
                "it so it cleans up), then remove the finalizers:"
            )
            steps.extend(f"  {p}" for p in patches)
        if not steps:
            steps.append(
                f"kubectl get namespace {name} -o yaml shows "
                f"spec.finalizers={(namespace.get('spec') or {}).get('finalizers')}; "
                "inspect kubectl api-resources --verbs=list --namespaced -o name | xargs -n1 "
                f"kubectl get -n {name}"
            )
        findings.append(
            Finding(
                id="namespace-stuck-terminating",
                severity="error",
                title=f"Namespace {name} is stuck in Terminating ({len(holders)} object(s) with finalizers)",
                evidence=evidence,
                fix="\n".join(steps),
                needs_cluster_admin=True,
                objects=[ref(namespace)] + [ref(o) for o in holders],
            )
        )
    return findings
