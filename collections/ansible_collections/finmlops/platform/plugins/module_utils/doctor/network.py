"""Scheduler/agent timeouts: NetworkPolicy path analysis and calico-node health.

Seldon Core v2 control flows (ports from the upstream SeldonConfig/ServerConfig
at v2.9): the Server's agent subscribes to the scheduler on 9005, envoy takes
its xDS config from the scheduler on 9002, the controller (seldon-system) and
the model/pipeline gateways call the scheduler on 9004, the dataflow engine
on 9008; envoy routes inference to the agent's reverse proxy on 9001. The
controller needs the Kubernetes API (the ``kubernetes`` endpoints, 6443) and
everything resolves ``seldon-scheduler`` through kube-dns (53/UDP). A flow
blocked by a NetworkPolicy shows up as "context deadline exceeded" or
"connection error" on the Model/Server, typically after a CNI change made
policies enforced; a calico-node that is not Ready on the node of either end
drops the same traffic.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml
from ansible_collections.finmlops.platform.plugins.module_utils.doctor.finding import Finding
from ansible_collections.finmlops.platform.plugins.module_utils.doctor.snapshot import (
    CALICO_NS,
    SELDON_SYSTEM_NS,
    Snapshot,
    condition,
    labels_of,
    name_of,
    namespace_of,
    node_of,
    pod_ip,
    pod_ready,
    ref,
)
from ansible_collections.finmlops.platform.plugins.module_utils.netpol import flow_allowed

SCHEDULER_XDS_PORT = 9002
SCHEDULER_API_PORT = 9004
SCHEDULER_AGENT_PORT = 9005
SCHEDULER_DATAFLOW_PORT = 9008
AGENT_PROXY_HTTP_PORT = 9001
API_SERVER_PORT = 6443
DNS_PORT = 53

# Labels that identify a workload; hashes and per-pod labels make useless selectors.
_VOLATILE_LABELS = {
    "pod-template-hash",
    "controller-revision-hash",
    "statefulset.kubernetes.io/pod-name",
    "apps.kubernetes.io/pod-index",
    "pod-template-generation",
}
_SYMPTOM = re.compile(r"deadline exceeded|i/o timeout|connection error|connection refused|unavailable", re.I)


def _component(prefix: str) -> Callable[[dict[str, Any]], bool]:
    def match(pod: dict[str, Any]) -> bool:
        return labels_of(pod).get("app.kubernetes.io/name") == prefix or name_of(pod).startswith(prefix + "-")

    return match


def _owned_by_statefulset(names: set[str]) -> Callable[[dict[str, Any]], bool]:
    def match(pod: dict[str, Any]) -> bool:
        owners = (pod.get("metadata") or {}).get("ownerReferences") or []
        return any(o.get("kind") == "StatefulSet" and o.get("name") in names for o in owners)

    return match


def _controller(pod: dict[str, Any]) -> bool:
    return labels_of(pod).get("control-plane") == "seldon-controller-manager" or name_of(pod).startswith(
        "seldon-v2-controller-manager"
    )


def _kube_dns(pod: dict[str, Any]) -> bool:
    return labels_of(pod).get("k8s-app") == "kube-dns"


def pod_endpoint(snap: Snapshot, pod: dict[str, Any]) -> dict[str, Any]:
    """The endpoint mapping netpol.flow_allowed expects, built from a live Pod."""
    ports = {
        port["name"]: int(port["containerPort"])
        for container in (pod.get("spec") or {}).get("containers") or []
        for port in container.get("ports") or []
        if port.get("name") and port.get("containerPort")
    }
    return {
        "namespace": namespace_of(pod),
        "labels": labels_of(pod),
        "namespace_labels": snap.namespace_labels(namespace_of(pod)),
        "ip": pod_ip(pod) or None,
        "ports": ports,
    }


@dataclass(frozen=True)
class FlowSpec:
    name: str
    source: str
    destination: str
    port: int
    protocol: str
    why: str


def _api_server_ips(snap: Snapshot) -> list[str]:
    ips: list[str] = []
    for slice_ in snap.of_kind("EndpointSlice", "default"):
        if labels_of(slice_).get("kubernetes.io/service-name") == "kubernetes":
            for endpoint in slice_.get("endpoints") or []:
                ips.extend(endpoint.get("addresses") or [])
    endpoints = snap.get("Endpoints", "default", "kubernetes")
    if not ips and endpoints:
        for subset in endpoints.get("subsets") or []:
            ips.extend(a.get("ip") for a in subset.get("addresses") or [] if a.get("ip"))
    return sorted(set(ips))


def selector_labels(pod: dict[str, Any]) -> dict[str, str]:
    labels = {k: v for k, v in labels_of(pod).items() if k not in _VOLATILE_LABELS}
    for key in ("app.kubernetes.io/name", "app", "k8s-app", "control-plane"):
        if key in labels:
            return {key: labels[key]}
    return labels


def allow_manifest(
    direction: str, owner: dict[str, Any], peer: dict[str, Any] | str, port: int, protocol: str, flow: str
) -> str:
    """A NetworkPolicy that admits one flow, as YAML (the exact fix); ``peer`` is a Pod or an IP."""
    peer_rule: dict[str, Any]
    if isinstance(peer, str):
        peer_rule = {"ipBlock": {"cidr": f"{peer}/32"}}
    else:
        peer_rule = {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace_of(peer)}},
            "podSelector": {"matchLabels": selector_labels(peer)},
        }
    rule_key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    manifest = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": f"allow-{flow}-{direction.lower()}", "namespace": namespace_of(owner)},
        "spec": {
            "podSelector": {"matchLabels": selector_labels(owner)},
            "policyTypes": [direction],
            rule_key: [{peers_key: [peer_rule], "ports": [{"protocol": protocol, "port": port}]}],
        },
    }
    return yaml.safe_dump(manifest, sort_keys=False).rstrip()


def _symptoms(snap: Snapshot, namespaces: set[str]) -> list[str]:
    found = []
    for kind, ctype in (("Model", "ModelReady"), ("Server", "Ready")):
        for obj in snap.of_kind(kind):
            if namespace_of(obj) not in namespaces:
                continue
            cond = condition(obj, ctype) or {}
            text = f"{cond.get('reason', '')} {cond.get('message', '')}".strip()
            if str(cond.get("status")) != "True" and _SYMPTOM.search(text):
                found.append(f"symptom: {ref(obj)} {ctype}={cond.get('status')}: {text}")
    return found


def diagnose(snap: Snapshot) -> list[Finding]:
    policies = list(snap.of_kind("NetworkPolicy"))
    findings: list[Finding] = []
    involved_pods: list[dict[str, Any]] = []
    for runtime_ns in sorted({namespace_of(s) for s in snap.of_kind("Server")}):
        server_names = {name_of(s) for s in snap.of_kind("Server", runtime_ns)}
        roles: dict[str, Callable[[dict[str, Any]], bool]] = {
            "scheduler": _component("seldon-scheduler"),
            "envoy": _component("seldon-envoy"),
            "modelgateway": _component("seldon-modelgateway"),
            "pipelinegateway": _component("seldon-pipelinegateway"),
            "dataflow": _component("seldon-dataflow-engine"),
            "agent": _owned_by_statefulset(server_names),
        }
        pods = {
            role: [p for p in snap.of_kind("Pod", runtime_ns) if match(p)] for role, match in roles.items()
        }
        pods["controller"] = [p for p in snap.of_kind("Pod", SELDON_SYSTEM_NS) if _controller(p)]
        pods["kube-dns"] = [p for p in snap.of_kind("Pod", "kube-system") if _kube_dns(p)]
        for group in ("scheduler", "agent", "envoy", "controller"):
            involved_pods.extend(pods[group])
        flows = [
            FlowSpec(
                "agent-to-scheduler",
                "agent",
                "scheduler",
                SCHEDULER_AGENT_PORT,
                "TCP",
                "the Server's agent subscribes to the scheduler",
            ),
            FlowSpec(
                "envoy-to-scheduler",
                "envoy",
                "scheduler",
                SCHEDULER_XDS_PORT,
                "TCP",
                "envoy receives its routes (xDS) from the scheduler",
            ),
            FlowSpec(
                "controller-to-scheduler",
                "controller",
                "scheduler",
                SCHEDULER_API_PORT,
                "TCP",
                "the Seldon controller sends Models/Servers/Experiments to the scheduler",
            ),
            FlowSpec(
                "modelgateway-to-scheduler",
                "modelgateway",
                "scheduler",
                SCHEDULER_API_PORT,
                "TCP",
                "the model gateway subscribes to the scheduler",
            ),
            FlowSpec(
                "pipelinegateway-to-scheduler",
                "pipelinegateway",
                "scheduler",
                SCHEDULER_API_PORT,
                "TCP",
                "the pipeline gateway subscribes to the scheduler",
            ),
            FlowSpec(
                "dataflow-to-scheduler",
                "dataflow",
                "scheduler",
                SCHEDULER_DATAFLOW_PORT,
                "TCP",
                "the dataflow engine subscribes to the scheduler",
            ),
            FlowSpec(
                "envoy-to-agent",
                "envoy",
                "agent",
                AGENT_PROXY_HTTP_PORT,
                "TCP",
                "envoy forwards inference requests to the agent's reverse proxy",
            ),
            FlowSpec(
                "agent-to-dns",
                "agent",
                "kube-dns",
                DNS_PORT,
                "UDP",
                "the agent resolves seldon-scheduler through kube-dns",
            ),
            FlowSpec(
                "controller-to-dns",
                "controller",
                "kube-dns",
                DNS_PORT,
                "UDP",
                "the controller resolves seldon-scheduler.<namespace> through kube-dns",
            ),
        ]
        for flow in flows:
            findings.extend(
                _check_flow(snap, policies, flow, pods[flow.source], pods[flow.destination], runtime_ns)
            )
        api_ips = _api_server_ips(snap)
        for controller in pods["controller"][:1]:
            for ip in api_ips[:1]:
                findings.extend(_check_api_server(snap, policies, controller, ip, runtime_ns))
    findings.extend(_calico_on_nodes(snap, involved_pods))
    return _dedupe(findings)


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[tuple[str, str]] = set()
    unique = []
    for item in findings:
        key = (item.id, item.title)
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique


def _check_flow(
    snap: Snapshot,
    policies: list[dict[str, Any]],
    flow: FlowSpec,
    sources: list[dict[str, Any]],
    destinations: list[dict[str, Any]],
    runtime_ns: str,
) -> list[Finding]:
    for src_pod in sources:
        for dst_pod in destinations:
            src, dst = pod_endpoint(snap, src_pod), pod_endpoint(snap, dst_pod)
            allowed, reasons = flow_allowed(policies, src, dst, flow.port, flow.protocol)
            if allowed:
                continue
            fixes = []
            if any("egress denied" in r for r in reasons):
                fixes.append(allow_manifest("Egress", src_pod, dst_pod, flow.port, flow.protocol, flow.name))
            if any("ingress denied" in r for r in reasons):
                fixes.append(allow_manifest("Ingress", dst_pod, src_pod, flow.port, flow.protocol, flow.name))
            evidence = [
                f"flow {flow.name}: {ref(src_pod)} on node {node_of(src_pod)} -> {ref(dst_pod)} on node "
                f"{node_of(dst_pod)} port {flow.port}/{flow.protocol} ({flow.why})",
                *reasons,
                *_symptoms(snap, {runtime_ns, SELDON_SYSTEM_NS}),
            ]
            return [
                Finding(
                    id="network-policy-blocks-seldon-flow",
                    severity="error",
                    title=f"NetworkPolicy blocks {flow.name} ({flow.port}/{flow.protocol}) in {runtime_ns}",
                    evidence=evidence,
                    fix="Apply (kubectl apply -f -), or add to the tenancy role's policies:\n---\n"
                    + "\n---\n".join(fixes),
                    needs_cluster_admin=True,
                    objects=[ref(src_pod), ref(dst_pod)],
                )
            ]
    return []


def _check_api_server(
    snap: Snapshot, policies: list[dict[str, Any]], controller: dict[str, Any], ip: str, runtime_ns: str
) -> list[Finding]:
    src = pod_endpoint(snap, controller)
    dst = {"namespace": None, "labels": {}, "ip": ip}
    allowed, reasons = flow_allowed(policies, src, dst, API_SERVER_PORT, "TCP")
    if allowed:
        return []
    return [
        Finding(
            id="network-policy-blocks-api-server",
            severity="error",
            title=f"NetworkPolicy blocks {ref(controller)} from the Kubernetes API server",
            evidence=[
                f"flow controller-to-apiserver: {ref(controller)} -> {ip}:{API_SERVER_PORT}/TCP (endpoint of "
                "Service default/kubernetes; Calico judges egress after DNAT, so the rule must "
                "allow the node "
                "IP and 6443, not 10.43.0.1:443)",
                *reasons,
                *_symptoms(snap, {runtime_ns, SELDON_SYSTEM_NS}),
            ],
            fix="Apply:\n---\n"
            + allow_manifest("Egress", controller, ip, API_SERVER_PORT, "TCP", "apiserver"),
            needs_cluster_admin=True,
            objects=[ref(controller)],
        )
    ]


def _calico_on_nodes(snap: Snapshot, involved: list[dict[str, Any]]) -> list[Finding]:
    nodes = sorted({node_of(p) for p in involved if node_of(p)})
    if not nodes or "Pod" not in snap.kinds():
        return []
    calico = {
        node_of(p): p for p in snap.of_kind("Pod", CALICO_NS) if labels_of(p).get("k8s-app") == "calico-node"
    }
    findings = []
    for node in nodes:
        users = sorted(ref(p) for p in involved if node_of(p) == node)
        pod = calico.get(node)
        if pod is not None and pod_ready(pod):
            continue
        if pod is None:
            evidence = [f"no calico-node pod on node {node} in {CALICO_NS}"]
        else:
            evidence = [
                f"{ref(pod)} on node {node}: phase={(pod.get('status') or {}).get('phase')}, Ready="
                f"{(condition(pod, 'Ready') or {}).get('status', 'absent')}"
            ]
            for cstatus in (pod.get("status") or {}).get("containerStatuses") or []:
                if not cstatus.get("ready"):
                    evidence.append(
                        f"{ref(pod)} container {cstatus.get('name')} ready=false "
                        f"restartCount={cstatus.get('restartCount', 0)}"
                    )
        evidence.append(f"Seldon pods on {node}: {', '.join(users)}")
        findings.append(
            Finding(
                id="calico-node-not-ready",
                severity="error",
                title=f"calico-node is not Ready on node {node}, which runs Seldon components",
                evidence=evidence,
                fix=(
                    f"kubectl -n {CALICO_NS} describe pod -l k8s-app=calico-node --field-selector "
                    f"spec.nodeName={node}; kubectl get tigerastatus calico -o yaml. Typical "
                    "causes after a CNI "
                    "change: leftover flannel interfaces (run migrate-cni.yml on that node) or BGP/IP "
                    "autodetection on the wrong interface (Installation "
                    "spec.calicoNetwork.nodeAddressAutodetectionV4)."
                ),
                needs_cluster_admin=True,
                objects=users,
            )
        )
    return findings
