"""Evaluate Kubernetes NetworkPolicies (networking.k8s.io/v1) for one flow.

Pure functions, no cluster: the tests run the rendered policies against a
table of required and forbidden flows, and the doctor tool reuses the same
API for path analysis on live objects.

An endpoint is a mapping:
    namespace        namespace of the pod, or None for a client outside the
                     pod network (a LoadBalancer client, a node, the API server)
    labels           pod labels
    namespace_labels labels of the pod's namespace (kubernetes.io/metadata.name
                     is added automatically, as the API server does)
    ip               optional IPv4/IPv6 address; needed for ipBlock peers
    ports            optional {name: number} of the pod's named container ports,
                     so that policies using named ports can be resolved

Semantics follow the Kubernetes documentation: a pod is isolated for a
direction when any policy selecting it lists that direction in policyTypes
(Ingress is implied; Egress when egress rules exist); an isolated direction
allows only what the union of those policies' rules allows; a flow needs both
the source's egress and the destination's ingress to allow it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


def _namespace_labels(endpoint: Mapping[str, Any]) -> dict[str, str]:
    labels = dict(endpoint.get("namespace_labels") or {})
    if endpoint.get("namespace"):
        labels.setdefault(NAMESPACE_NAME_LABEL, endpoint["namespace"])
    return labels


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Match a LabelSelector; an empty selector matches everything."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            raise ValueError(f"unknown label selector operator {op!r} in {dict(selector)!r}")
    return True


def _policy_types(policy: Mapping[str, Any]) -> list[str]:
    spec = policy.get("spec") or {}
    if spec.get("policyTypes"):
        return list(spec["policyTypes"])
    types = ["Ingress"]
    if spec.get("egress"):
        types.append("Egress")
    return types


def _selects(policy: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    if pod.get("namespace") is None:
        return False
    if policy["metadata"].get("namespace", "default") != pod["namespace"]:
        return False
    return selector_matches((policy.get("spec") or {}).get("podSelector"), pod.get("labels") or {})


def _ip_in_block(ip: str | None, block: Mapping[str, Any]) -> bool:
    if not ip:
        return False
    addr = ipaddress.ip_address(ip)
    if addr not in ipaddress.ip_network(block["cidr"], strict=False):
        return False
    return not any(addr in ipaddress.ip_network(ex, strict=False) for ex in block.get("except") or [])


def _peer_matches(peer: Mapping[str, Any], policy_ns: str, other: Mapping[str, Any]) -> bool:
    if "ipBlock" in peer:
        return _ip_in_block(other.get("ip"), peer["ipBlock"])
    if other.get("namespace") is None:
        # Selectors only ever match pods; clients outside the pod network
        # are reachable through ipBlock alone.
        return False
    if "namespaceSelector" in peer:
        if not selector_matches(peer["namespaceSelector"], _namespace_labels(other)):
            return False
    elif other["namespace"] != policy_ns:
        return False
    if "podSelector" in peer:
        return selector_matches(peer["podSelector"], other.get("labels") or {})
    return True


def _port_matches(rule_port: Mapping[str, Any], port: int, protocol: str, target: Mapping[str, Any]) -> bool:
    if rule_port.get("protocol", "TCP") != protocol:
        return False
    if "port" not in rule_port:
        return True
    wanted = rule_port["port"]
    if isinstance(wanted, str):
        resolved = (target.get("ports") or {}).get(wanted)
        if resolved is None:
            return False
        wanted = resolved
    end = rule_port.get("endPort", wanted)
    return int(wanted) <= port <= int(end)


def _rule_allows(
    rule: Mapping[str, Any],
    peer_key: str,
    policy_ns: str,
    other: Mapping[str, Any],
    port: int,
    protocol: str,
    port_owner: Mapping[str, Any],
) -> bool:
    peers = rule.get(peer_key)
    if peers and not any(_peer_matches(p, policy_ns, other) for p in peers):
        return False
    ports = rule.get("ports")
    return not ports or any(_port_matches(p, port, protocol, port_owner) for p in ports)


def _name(policy: Mapping[str, Any]) -> str:
    meta = policy["metadata"]
    return f"{meta.get('namespace', 'default')}/{meta['name']}"


def _direction(
    policies: list[Mapping[str, Any]],
    direction: str,
    subject: Mapping[str, Any],
    other: Mapping[str, Any],
    port: int,
    protocol: str,
    port_owner: Mapping[str, Any],
) -> tuple[bool, str]:
    rules_key, peer_key = ("egress", "to") if direction == "Egress" else ("ingress", "from")
    isolating = [p for p in policies if _selects(p, subject) and direction in _policy_types(p)]
    if not isolating:
        return True, f"{direction.lower()} not isolated: no policy selects the pod for {direction}"
    for policy in isolating:
        for index, rule in enumerate((policy.get("spec") or {}).get(rules_key) or []):
            if _rule_allows(
                rule,
                peer_key,
                policy["metadata"].get("namespace", "default"),
                other,
                port,
                protocol,
                port_owner,
            ):
                return True, f"{direction.lower()} allowed by {_name(policy)} {rules_key}[{index}]"
    names = ", ".join(_name(p) for p in isolating)
    return False, f"{direction.lower()} denied: isolated by {names} and no rule matches"


def flow_allowed(
    policies: Iterable[Mapping[str, Any]],
    src_pod: Mapping[str, Any],
    dst_pod: Mapping[str, Any],
    port: int,
    protocol: str = "TCP",
) -> tuple[bool, list[str]]:
    """Whether src may open a connection to dst:port/protocol; with reasons.

    Non-NetworkPolicy objects in ``policies`` are ignored, so a whole render
    folder can be passed as is.
    """
    netpols = [
        p
        for p in policies
        if p.get("kind") == "NetworkPolicy" and str(p.get("apiVersion", "")).startswith("networking.k8s.io/")
    ]
    reasons: list[str] = []
    allowed = True
    if src_pod.get("namespace") is not None:
        ok, why = _direction(netpols, "Egress", src_pod, dst_pod, port, protocol, dst_pod)
        allowed &= ok
        reasons.append(f"source {src_pod['namespace']}: {why}")
    else:
        reasons.append("source outside the pod network: no egress policy applies")
    if dst_pod.get("namespace") is not None:
        ok, why = _direction(netpols, "Ingress", dst_pod, src_pod, port, protocol, dst_pod)
        allowed &= ok
        reasons.append(f"destination {dst_pod['namespace']}: {why}")
    else:
        reasons.append("destination outside the pod network: no ingress policy applies")
    return allowed, reasons
