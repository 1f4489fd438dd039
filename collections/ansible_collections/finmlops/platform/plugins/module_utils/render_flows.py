"""Required network flows judged on the pods a render really creates.

The flow table (which pods must reach which, on which port) names its ends by
namespace and label selector, as a NetworkPolicy would. Each end is matched
against the pod templates of the whole render (ours, the expanded charts',
and the pods that controllers create from our custom resources: Argo workflow
pods, Seldon Server and runtime pods), and every matching pair is evaluated
with the rendered NetworkPolicies (module_utils/netpol.py). An end that
matches no pod, a required flow that a policy blocks, or a policy that
selects no pod at all is a problem naming both ends.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ansible_collections.finmlops.platform.plugins.module_utils.netpol import flow_allowed, selector_matches
from ansible_collections.finmlops.platform.plugins.module_utils.pod_templates import (
    PodTemplate,
    render_pod_templates,
)


@dataclass(frozen=True)
class FlowProblem:
    flow: str
    source: str
    destination: str
    message: str

    def __str__(self) -> str:
        return f"flow {self.flow!r} ({self.source} -> {self.destination}): {self.message}"

    def as_dict(self) -> dict[str, str]:
        return {
            "flow": self.flow,
            "source": self.source,
            "destination": self.destination,
            "message": self.message,
        }


def _ns_labels(objects: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    return {
        (o.get("metadata") or {}).get("name", ""): dict((o.get("metadata") or {}).get("labels") or {})
        for o in objects
        if o.get("kind") == "Namespace"
    }


def _named_ports(template: PodTemplate) -> dict[str, int]:
    ports: dict[str, int] = {}
    for container in template.spec.get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") and port.get("containerPort"):
                ports[port["name"]] = int(port["containerPort"])
    return ports


def _endpoint(template: PodTemplate, ns_labels: dict[str, dict[str, str]]) -> dict[str, Any]:
    return {
        "namespace": template.namespace,
        "labels": dict((template.metadata or {}).get("labels") or {}),
        "namespace_labels": ns_labels.get(template.namespace, {}),
        "ports": _named_ports(template),
    }


def _first_address(cidr: str) -> str:
    network = ipaddress.ip_network(cidr, strict=False)
    return str(network.network_address if network.num_addresses == 1 else next(network.hosts()))


def _matches(end: Mapping[str, Any], template: PodTemplate) -> bool:
    if end.get("namespace") and template.namespace != end["namespace"]:
        return False
    selector: dict[str, Any] = {"matchLabels": dict(end.get("labels") or {})}
    selector["matchExpressions"] = [{"key": k, "operator": "Exists"} for k in end.get("has_labels") or []]
    return selector_matches(selector, (template.metadata or {}).get("labels") or {})


def _describe(end: Mapping[str, Any]) -> str:
    if "cidr" in end:
        return f"{end.get('name', 'client')} ({end['cidr']})"
    parts = [f"{k}={v}" for k, v in (end.get("labels") or {}).items()] + list(end.get("has_labels") or [])
    return f"{end.get('name', 'pods')} ({end.get('namespace', '*')}: {', '.join(parts) or 'any pod'})"


def _ends(
    end: Mapping[str, Any], pods: list[PodTemplate], ns_labels: dict[str, dict[str, str]]
) -> list[tuple[str, dict[str, Any]]]:
    if "cidr" in end:
        return [(str(end["cidr"]), {"namespace": None, "labels": {}, "ip": _first_address(str(end["cidr"]))})]
    if end.get("outside_render"):
        pod = {"namespace": end["namespace"], "labels": dict(end.get("labels") or {})}
        pod["namespace_labels"] = ns_labels.get(end["namespace"], {})
        return [(f"{end.get('name', 'pods')} (outside the render)", pod)]
    return [(t.ref, _endpoint(t, ns_labels)) for t in pods if _matches(end, t)]


def check_flows(
    objects: list[tuple[str, Mapping[str, Any]]], flows: Iterable[Mapping[str, Any]]
) -> tuple[list[FlowProblem], int]:
    """(problems, number of pod pairs evaluated) for the required ``flows``."""
    docs = [o for _, o in objects]
    pods = render_pod_templates(objects)
    ns_labels = _ns_labels(docs)
    problems: list[FlowProblem] = []
    evaluated = 0
    for flow in flows:
        label = str(flow.get("name", "?"))
        src, dst = flow["from"], flow["to"]
        sources, destinations = _ends(src, pods, ns_labels), _ends(dst, pods, ns_labels)
        for end, found in ((src, sources), (dst, destinations)):
            if not found:
                problems.append(
                    FlowProblem(
                        label,
                        _describe(src),
                        _describe(dst),
                        f"no pod in the render matches {_describe(end)}; fix the flow table or the labels",
                    )
                )
        for src_ref, src_pod in sources:
            for dst_ref, dst_pod in destinations:
                evaluated += 1
                allowed, reasons = flow_allowed(
                    docs, src_pod, dst_pod, int(flow["port"]), str(flow.get("protocol", "TCP"))
                )
                if not allowed:
                    problems.append(
                        FlowProblem(
                            label,
                            src_ref,
                            f"{dst_ref}:{flow['port']}/{flow.get('protocol', 'TCP')}",
                            "blocked: "
                            + "; ".join(reasons)
                            + "; fix: allow it in a policy of the denying side, or correct the pod labels",
                        )
                    )
    problems.extend(_empty_policies(docs, pods))
    return problems, evaluated


def _empty_policies(docs: list[Mapping[str, Any]], pods: list[PodTemplate]) -> list[FlowProblem]:
    problems: list[FlowProblem] = []
    for policy in docs:
        if policy.get("kind") != "NetworkPolicy":
            continue
        meta = policy.get("metadata") or {}
        namespace = meta.get("namespace", "default")
        selector = (policy.get("spec") or {}).get("podSelector") or {}
        if not selector:  # selects every pod of the namespace, including future ones
            continue
        if not any(
            t.namespace == namespace and selector_matches(selector, (t.metadata or {}).get("labels") or {})
            for t in pods
        ):
            problems.append(
                FlowProblem(
                    f"NetworkPolicy {namespace}/{meta.get('name')}",
                    f"spec.podSelector {selector}",
                    f"pods of namespace {namespace}",
                    "selects no pod in the render; fix spec.podSelector to the labels the pods really carry",
                )
            )
    return problems
