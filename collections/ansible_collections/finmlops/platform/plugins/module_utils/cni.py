"""CNI facts of a k3s cluster: Calico settings, Flannel detection, migration progress.

Pure functions over plain data (what the hosts report, what the API returns),
used by the calico role, migrate-cni.yml and its preflight. Nothing here talks
to a host or to the API, so pytest exercises exactly what the playbooks run.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Mapping
from typing import Any

# Encapsulations an operator Installation accepts for an IPv4 pool, and the
# bytes each adds to a packet (VXLAN: outer IP 20 + UDP 8 + VXLAN 8 + inner
# Ethernet 14 = 50; IP-in-IP: outer IP header 20). CrossSubnet variants pay
# the overhead only between subnets but the MTU must fit the worst case.
ENCAPSULATION_OVERHEAD: dict[str, int] = {
    "VXLANCrossSubnet": 50,
    "VXLAN": 50,
    "IPIPCrossSubnet": 20,
    "IPIP": 20,
    "None": 0,
}

# IP-in-IP and unencapsulated pools exchange routes over BGP (BIRD); VXLAN
# routes are programmed by Felix itself and need no BGP.
_BGP_ENCAPSULATIONS = {"IPIPCrossSubnet", "IPIP", "None"}

# Flannel leftovers that a node migrated to Calico must not have any more.
FLANNEL_LINKS = ("flannel.1", "cni0")

# Steps of the per-node migration, in order. A node is finished when every
# step is recorded in its marker; a re-run resumes at the first missing one.
MIGRATION_STEPS: tuple[str, ...] = (
    "drained",
    "configured",
    "stopped",
    "cleaned",
    "started",
    "calico_ready",
    "uncordoned",
)
MARKER_VERSION = 1


class CniError(ValueError):
    """Input that cannot be interpreted; the message says what and where."""


def calico_mtu(encapsulation: str, underlay_mtu: int = 1500) -> int:
    """Pod MTU for ``encapsulation`` on a node network of ``underlay_mtu``."""
    if encapsulation not in ENCAPSULATION_OVERHEAD:
        raise CniError(
            f"calico_encapsulation={encapsulation!r} is not one of {sorted(ENCAPSULATION_OVERHEAD)}; "
            "set it in group_vars (VXLANCrossSubnet is the default)"
        )
    mtu = int(underlay_mtu) - ENCAPSULATION_OVERHEAD[encapsulation]
    if mtu < 1280:
        raise CniError(
            f"calico_underlay_mtu={underlay_mtu} leaves a pod MTU of {mtu} with {encapsulation}, "
            "below the 1280 IPv6 minimum; check the MTU of the node network"
        )
    return mtu


def calico_bgp(encapsulation: str) -> str:
    """Value of Installation ``calicoNetwork.bgp`` for ``encapsulation``."""
    calico_mtu(encapsulation)  # validates the name
    return "Enabled" if encapsulation in _BGP_ENCAPSULATIONS else "Disabled"


def ippool_encapsulation(spec: Mapping[str, Any]) -> str:
    """Encapsulation name (Installation vocabulary) of a live IPPool spec.

    A crd.projectcalico.org/v1 (or projectcalico.org/v3) IPPool stores it as
    ``ipipMode``/``vxlanMode`` (Always, CrossSubnet, Never).
    """
    ipip = spec.get("ipipMode") or "Never"
    vxlan = spec.get("vxlanMode") or "Never"
    if ipip != "Never" and vxlan != "Never":
        raise CniError(f"IPPool {spec.get('cidr')} has both ipipMode={ipip} and vxlanMode={vxlan}")
    mode, prefix = (vxlan, "VXLAN") if vxlan != "Never" else (ipip, "IPIP")
    if mode == "Never":
        return "None"
    if mode == "Always":
        return prefix
    if mode == "CrossSubnet":
        return prefix + "CrossSubnet"
    raise CniError(f"IPPool {spec.get('cidr')} has an unknown encapsulation mode {mode!r}")


def _network(value: str, what: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(str(value), strict=False)
    except ValueError as exc:
        raise CniError(f"{what}={value!r} is not a CIDR: {exc}") from exc


def pool_input_problems(cluster_cidr: str, node_cidr: str, block_size: int) -> list[str]:
    """Inventory mistakes in the Calico pool settings, one sentence each."""
    problems = []
    nets = {}
    for var, value in (("k3s_cluster_cidr", cluster_cidr), ("k3s_node_cidr", node_cidr)):
        try:
            nets[var] = ipaddress.IPv4Network(str(value), strict=True)
        except ValueError as exc:
            problems.append(
                f"{var}={value!r} is not an IPv4 network CIDR ({exc}); fix group_vars/all/network.yml"
            )
    pool = nets.get("k3s_cluster_cidr")
    if pool is not None and not pool.prefixlen <= int(block_size) <= 32:
        problems.append(
            f"calico_block_size={block_size} must lie between the pool prefix /{pool.prefixlen} and 32"
        )
    if len(nets) == 2 and nets["k3s_cluster_cidr"].overlaps(nets["k3s_node_cidr"]):
        problems.append(
            f"k3s_cluster_cidr {cluster_cidr} overlaps k3s_node_cidr {node_cidr}; pick disjoint networks"
        )
    return problems


def ippool_drift(
    live_pools: Iterable[Mapping[str, Any]],
    cidr: str,
    block_size: int,
    encapsulation: str,
) -> list[str]:
    """Differences between the live IPv4 pool and the inventory, one sentence each.

    ``live_pools`` are IPPool objects as the API returns them. No pool means
    nothing to compare (first install). The pool that overlaps ``cidr`` (or the
    only IPv4 pool) is compared; an empty list means they agree.
    """
    wanted = _network(cidr, "k3s_cluster_cidr")
    pools = [p for p in live_pools if ":" not in str((p.get("spec") or {}).get("cidr", ""))]
    if not pools:
        return []
    overlapping = [p for p in pools if _network(p["spec"]["cidr"], "IPPool cidr").overlaps(wanted)]
    pool = (overlapping or pools)[0]
    spec = pool.get("spec") or {}
    name = (pool.get("metadata") or {}).get("name", "?")
    problems: list[str] = []
    live_cidr = _network(spec.get("cidr", ""), f"IPPool {name} cidr")
    if live_cidr != wanted:
        problems.append(
            f"IPPool {name} has cidr {live_cidr} but k3s_cluster_cidr is {wanted}: set "
            f"k3s_cluster_cidr: {live_cidr} in your inventory (a running cluster cannot change its pod CIDR)"
        )
    live_block = int(spec.get("blockSize", 26))
    if live_block != int(block_size):
        problems.append(
            f"IPPool {name} has blockSize {live_block} but calico_block_size is {block_size}: set "
            f"calico_block_size: {live_block} (Calico cannot change the block size of a pool in use)"
        )
    live_encap = ippool_encapsulation(spec)
    if live_encap != encapsulation:
        problems.append(
            f"IPPool {name} uses encapsulation {live_encap} but calico_encapsulation is {encapsulation}: set "
            f"calico_encapsulation: {live_encap}, or change the pool first (docs/cni-migration.md)"
        )
    return problems


def flannel_network(net_conf_text: str) -> str:
    """The ``Network`` CIDR of a Flannel net-conf.json (k3s writes it per node)."""
    try:
        data = json.loads(net_conf_text)
    except ValueError as exc:
        raise CniError(f"Flannel net-conf.json is not JSON: {exc}") from exc
    network = data.get("Network") if isinstance(data, dict) else None
    if not network:
        raise CniError("Flannel net-conf.json has no Network field")
    return str(_network(network, "Flannel Network"))


def pod_cidr_problems(
    cluster_cidr: str,
    flannel_networks: Mapping[str, str | None],
    live_pool_cidrs: Iterable[str] = (),
) -> list[str]:
    """Why a migration would change the pod CIDR (empty list: it would not).

    ``flannel_networks`` maps host -> Flannel Network (None when the host has
    no Flannel config). Calico's pool is created from ``cluster_cidr``, so it
    must equal the network Flannel runs and any pool that already exists.
    """
    wanted = _network(cluster_cidr, "k3s_cluster_cidr")
    problems = []
    for host, network in sorted(flannel_networks.items()):
        if network and _network(network, f"Flannel Network on {host}") != wanted:
            problems.append(
                f"{host}: Flannel runs the pod network {network} but k3s_cluster_cidr is {wanted}. "
                f"Migrating would change the pod CIDR, which breaks running pods and DNS. "
                f"Set k3s_cluster_cidr: {network} in the inventory and re-run."
            )
    for pool in live_pool_cidrs:
        if _network(pool, "IPPool cidr") != wanted:
            problems.append(
                f"the cluster already has the Calico IPPool {pool} but k3s_cluster_cidr is {wanted}. "
                f"Set k3s_cluster_cidr: {pool} in the inventory."
            )
    return problems


def host_cni(facts: Mapping[str, Any]) -> dict[str, Any]:
    """Classify one node from what it reports.

    ``facts`` keys: ``flannel_backend`` (effective k3s setting, "vxlan" when
    unset), ``links`` (names of network links), ``flannel_conf`` (a Flannel
    CNI conflist exists), ``calico_conf`` (a Calico conflist exists),
    ``marker`` (parsed progress marker or None). Returns ``{"cni": flannel |
    calico | migrating, "leftovers": [...], "next_step": str | None}``.
    """
    backend = str(facts.get("flannel_backend") or "vxlan")
    links = set(facts.get("links") or [])
    leftovers = [link for link in FLANNEL_LINKS if link in links]
    if facts.get("flannel_conf"):
        leftovers.append("flannel CNI conflist")
    marker = facts.get("marker")
    step = next_step(marker)
    if marker and step is not None:
        cni = "migrating"
    elif backend == "none" and not leftovers:
        cni = "calico"
    elif backend == "none" or marker:
        # Told to run without Flannel (or marked finished) but Flannel state
        # remains: a half-done migration that a run must finish.
        cni = "migrating"
    else:
        cni = "flannel"
    return {"cni": cni, "leftovers": leftovers, "next_step": step if cni != "calico" else None}


def cluster_cni(
    hosts: Mapping[str, Mapping[str, Any]],
    calico_node_ready: bool | None = None,
) -> dict[str, Any]:
    """CNI of the cluster from every node's ``host_cni`` result and, when the
    API was asked, whether the calico-node DaemonSet is fully ready.

    ``cni`` is ``calico`` (nothing to do), ``flannel`` (migration not
    started) or ``migrating`` (some nodes done or in progress: resume).
    """
    if not hosts:
        raise CniError("no k3s nodes in the inventory (groups server and agent are empty)")
    states = {host: h["cni"] for host, h in hosts.items()}
    pending = sorted(h for h, s in states.items() if s != "calico")
    if not pending and calico_node_ready is not False:
        cni = "calico"
    elif all(s == "flannel" for s in states.values()):
        cni = "flannel"
    else:
        cni = "migrating"
    return {"cni": cni, "pending": pending, "hosts": states}


def parse_marker(text: str | None, host: str) -> dict[str, Any] | None:
    """Parse a node's marker file (None or empty when it does not exist)."""
    if not text or not text.strip():
        return None
    try:
        marker = json.loads(text)
    except ValueError as exc:
        raise CniError(
            f"{host}: the migration marker is not JSON ({exc}); inspect it, then delete it to restart "
            "that node's migration from the beginning"
        ) from exc
    if not isinstance(marker, dict) or marker.get("version") != MARKER_VERSION:
        raise CniError(
            f"{host}: the migration marker has an unknown format (expected version {MARKER_VERSION})"
        )
    steps = marker.get("steps")
    if not isinstance(steps, dict) or any(s not in MIGRATION_STEPS for s in steps):
        raise CniError(f"{host}: the migration marker lists unknown steps {sorted(steps or {})}")
    return marker


def next_step(marker: Mapping[str, Any] | None) -> str | None:
    """First step not yet recorded (None when the node is finished)."""
    done = (marker or {}).get("steps") or {}
    for step in MIGRATION_STEPS:
        if step not in done:
            return step
    return None


def step_done(marker: Mapping[str, Any] | None, step: str) -> bool:
    if step not in MIGRATION_STEPS:
        raise CniError(f"unknown migration step {step!r}; known: {', '.join(MIGRATION_STEPS)}")
    return step in ((marker or {}).get("steps") or {})


def record_step(
    marker: Mapping[str, Any] | None,
    step: str,
    run_id: str,
    at: str,
    mode: str = "apply",
) -> dict[str, Any]:
    """Marker with ``step`` recorded; steps must be recorded in order."""
    expected = next_step(marker)
    if step_done(marker, step):
        return dict(marker or {})
    if step != expected:
        raise CniError(f"migration step {step!r} recorded before {expected!r}")
    new = {"version": MARKER_VERSION, "target": "calico", "steps": {}}
    if marker:
        new.update({k: v for k, v in marker.items() if k != "steps"})
        new["steps"] = dict(marker.get("steps") or {})
    new["steps"][step] = {"at": at, "run": run_id, "mode": mode}
    return new


def completed_in_run(markers: Mapping[str, Mapping[str, Any] | None], run_id: str) -> list[str]:
    """Nodes whose last step was recorded by ``run_id`` (finished in this run)."""
    last = MIGRATION_STEPS[-1]
    return sorted(
        host
        for host, marker in markers.items()
        if ((marker or {}).get("steps") or {}).get(last, {}).get("run") == run_id
    )


def pods_to_restart(
    pods: Iterable[Mapping[str, Any]],
    switched_at: Mapping[str, str],
    namespaces: Iterable[str],
    exclude: Iterable[str] = (),
) -> dict[str, list[dict[str, str]]]:
    """Pods that still run with the network their node had under Flannel.

    Draining evicts ordinary pods, but DaemonSet pods (and pods on a node
    that was migrated in render mode) keep running across the k3s restart
    with a veth on the deleted cni0 bridge. Calico reuses the same CIDR, so
    the address alone cannot tell them apart: a pod started before its node
    came back on Calico (``switched_at``, ISO 8601 UTC per node) is stale.
    hostNetwork pods use the node's address and are left alone; finished
    pods do not matter. Pods without a controller would be lost when deleted,
    so they are listed under ``unmanaged`` for the operator instead.
    ``namespaces`` limits the search (empty: all) and ``exclude`` removes
    namespaces from it (the CNI's own, restarted by its operator).
    """
    wanted = set(namespaces)
    skipped = set(exclude)
    result: dict[str, list[dict[str, str]]] = {"restart": [], "unmanaged": []}
    for pod in pods:
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        status = pod.get("status") or {}
        node = spec.get("nodeName")
        if (wanted and meta.get("namespace") not in wanted) or meta.get("namespace") in skipped:
            continue
        if spec.get("hostNetwork") or status.get("phase") in ("Succeeded", "Failed"):
            continue
        started = status.get("startTime")
        if node not in switched_at or not started or str(started) >= str(switched_at[node]):
            continue
        entry = {"namespace": str(meta.get("namespace")), "name": str(meta.get("name")), "node": str(node)}
        owned = any(ref.get("controller") for ref in meta.get("ownerReferences") or [])
        result["restart" if owned else "unmanaged"].append(entry)
    return result


def switch_times(markers: Mapping[str, Mapping[str, Any] | None]) -> dict[str, str]:
    """Node -> time k3s came back without Flannel (the ``started`` step)."""
    out = {}
    for host, marker in markers.items():
        started = ((marker or {}).get("steps") or {}).get("started")
        if started:
            out[host] = str(started["at"])
    return out
