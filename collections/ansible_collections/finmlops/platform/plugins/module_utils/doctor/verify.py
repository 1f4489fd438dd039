"""verify.yml's quick checks as one table, computed from a snapshot.

Rows are ``{check, target, state, detail}`` with state OK or FAIL; the
playbook prints the table and fails when any row is FAIL.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.finmlops.platform.plugins.module_utils.doctor import loadbalancer
from ansible_collections.finmlops.platform.plugins.module_utils.doctor.snapshot import (
    ARGO_NS,
    CALICO_NS,
    SERVING_NS,
    Snapshot,
    condition,
    condition_true,
    labels_of,
    name_of,
    node_of,
    pod_ready,
    ref,
)

# SKIP: a check that cannot run on this input (e.g. a network probe on a saved snapshot).
OK, FAIL, SKIP = "OK", "FAIL", "SKIP"
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"


def _row(check: str, target: str, ok: bool, detail: str) -> dict[str, str]:
    return {"check": check, "target": target, "state": OK if ok else FAIL, "detail": detail}


def _cni_rows(snap: Snapshot) -> list[dict[str, str]]:
    rows = []
    installation = snap.get("Installation", None, "default")
    cni = (
        ((installation or {}).get("spec") or {}).get("cni", {}).get("type", "Calico")
        if installation
        else None
    )
    rows.append(
        _row(
            "CNI is Calico",
            "Installation/default",
            cni == "Calico",
            f"spec.cni.type={cni}" if installation else "no Installation/default (tigera-operator)",
        )
    )
    status = snap.get("TigeraStatus", None, "calico")
    if status is None:
        rows.append(_row("TigeraStatus calico", "TigeraStatus/calico", False, "not found"))
    else:
        available = condition_true(status, "Available")
        degraded = condition_true(status, "Degraded")
        message = (condition(status, "Degraded") or {}).get("message") or ""
        rows.append(
            _row(
                "TigeraStatus calico",
                ref(status),
                available and not degraded,
                f"Available={available} Degraded={degraded} {message}".strip(),
            )
        )
    return rows


def _calico_node_rows(snap: Snapshot) -> list[dict[str, str]]:
    calico = {
        node_of(p): p for p in snap.of_kind("Pod", CALICO_NS) if labels_of(p).get("k8s-app") == "calico-node"
    }
    rows = []
    for node in sorted(name_of(n) for n in snap.of_kind("Node")):
        pod = calico.get(node)
        if pod is None:
            rows.append(_row("calico-node on node", node, False, "no calico-node pod scheduled"))
        else:
            rows.append(
                _row(
                    "calico-node on node",
                    node,
                    pod_ready(pod),
                    f"{name_of(pod)} phase={(pod.get('status') or {}).get('phase')}",
                )
            )
    return rows


def _lb_rows(
    snap: Snapshot, reservations: dict[str, str], pools: list[dict[str, Any]]
) -> list[dict[str, str]]:
    rows = []
    for service in loadbalancer.load_balancers(snap):
        ips = loadbalancer.lb_ips(service)
        reserved = reservations.get(name_of(service))
        problems = []
        if not ips:
            problems.append("no IP (pending)")
        problems += [f"{ip} in no pool" for ip in ips if not loadbalancer.pool_of(ip, pools)]
        if reserved and reserved not in ips:
            problems.append(f"reservation is {reserved}")
        pool = (loadbalancer.pool_of(ips[0], pools) or "none") if ips else "-"
        detail = f"ip={','.join(ips) or '-'} pool={pool}"
        rows.append(_row("LoadBalancer IP", ref(service), not problems, "; ".join([detail, *problems])))
    for name, ip in sorted(reservations.items()):
        if not any(name_of(s) == name for s in loadbalancer.load_balancers(snap)):
            rows.append(
                _row(
                    "LoadBalancer IP",
                    f"Service {name}",
                    False,
                    f"reserved {ip} but no LoadBalancer Service named {name}",
                )
            )
    return rows


def _node_rows(snap: Snapshot, expected_nodes: dict[str, str], k3s_version: str) -> list[dict[str, str]]:
    rows = []
    nodes = {name_of(n): n for n in snap.of_kind("Node")}
    for name in sorted(set(nodes) | set(expected_nodes)):
        node = nodes.get(name)
        if node is None:
            rows.append(
                _row("node", name, False, f"in inventory as {expected_nodes[name]} but not in the cluster")
            )
            continue
        ready = condition_true(node, "Ready")
        role = "server" if labels_of(node).get(CONTROL_PLANE_LABEL) == "true" else "agent"
        version = ((node.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion", "?")
        problems = []
        if not ready:
            problems.append("NotReady")
        if name in expected_nodes and expected_nodes[name] != role:
            problems.append(f"expected role {expected_nodes[name]}")
        if expected_nodes and name not in expected_nodes:
            problems.append("not in the inventory")
        if k3s_version and version != k3s_version:
            problems.append(f"expected {k3s_version}")
        rows.append(
            _row(
                "node",
                name,
                not problems,
                "; ".join([f"Ready={ready} role={role} version={version}", *problems]),
            )
        )
    return rows


def _seldon_rows(snap: Snapshot) -> list[dict[str, str]]:
    rows = []
    servers = list(snap.of_kind("Server", SERVING_NS))
    if not servers:
        rows.append(_row("Seldon Server", SERVING_NS, False, "no Server"))
    for server in servers:
        cond = condition(server, "Ready") or {}
        rows.append(
            _row(
                "Seldon Server",
                ref(server),
                condition_true(server, "Ready"),
                f"Ready={cond.get('status', 'absent')} {cond.get('message', '')}".strip(),
            )
        )
    for model in snap.of_kind("Model", SERVING_NS):
        cond = condition(model, "ModelReady") or condition(model, "Ready") or {}
        ok = condition_true(model, "ModelReady") or condition_true(model, "Ready")
        rows.append(
            _row(
                "Seldon Model",
                ref(model),
                ok,
                f"Ready={cond.get('status', 'absent')} {cond.get('message', '')}".strip(),
            )
        )
    return rows


def _argo_rows(snap: Snapshot) -> list[dict[str, str]]:
    deployment = snap.get("Deployment", ARGO_NS, "workflow-controller")
    if deployment is None:
        return [_row("Argo controller", f"Deployment/{ARGO_NS}/workflow-controller", False, "not found")]
    status = deployment.get("status") or {}
    wanted = (deployment.get("spec") or {}).get("replicas", 1)
    available = status.get("availableReplicas", 0)
    return [
        _row(
            "Argo controller",
            ref(deployment),
            available >= wanted and wanted > 0,
            f"available {available}/{wanted}",
        )
    ]


def _mlflow_row(probe: dict[str, Any] | None, offline: bool) -> list[dict[str, str]]:
    if offline:
        return [
            {
                "check": "MLflow via LB IP",
                "target": "mlflow",
                "state": SKIP,
                "detail": "not probed: diagnosing a saved snapshot",
            }
        ]
    if not probe:
        return [_row("MLflow via LB IP", "mlflow", False, "not probed (no reservation for mlflow)")]
    status = probe.get("status")
    detail = f"HTTP {status} {probe.get('msg', '') if status != 200 else ''}".strip()
    return [_row("MLflow via LB IP", str(probe.get("url")), status == 200, detail)]


def verify_rows(
    snap: Snapshot,
    reservations: dict[str, str],
    pools: list[dict[str, Any]],
    expected_nodes: dict[str, str],
    k3s_version: str,
    mlflow_probe: dict[str, Any] | None,
    offline: bool = False,
) -> list[dict[str, str]]:
    return (
        _cni_rows(snap)
        + _calico_node_rows(snap)
        + _lb_rows(snap, reservations, pools)
        + _node_rows(snap, expected_nodes, k3s_version)
        + _seldon_rows(snap)
        + _argo_rows(snap)
        + _mlflow_row(mlflow_probe, offline)
    )


def format_table(rows: list[dict[str, str]]) -> list[str]:
    headers = {"state": "STATE", "check": "CHECK", "target": "TARGET", "detail": "DETAIL"}
    columns = ("state", "check", "target", "detail")
    widths = {c: max([len(headers[c])] + [len(r[c]) for r in rows]) for c in columns[:-1]}

    def line(values: dict[str, str]) -> str:
        return "  ".join(values[c].ljust(widths[c]) for c in columns[:-1]) + "  " + values["detail"]

    failed = sum(1 for r in rows if r["state"] == FAIL)
    return [line(headers), *(line(r) for r in rows), f"{len(rows)} checks, {failed} failed"]
