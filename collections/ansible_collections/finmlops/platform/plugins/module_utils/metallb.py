"""MetalLB address pools, IP reservations and LoadBalancer conversions (pure functions)."""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

ANNOTATION = "metallb.io/loadBalancerIPs"

Range = tuple[ipaddress.IPv4Address, ipaddress.IPv4Address]


class MetallbError(ValueError):
    """Inventory or object that cannot be used; the message says what and how to fix."""


def parse_address(entry: str, pool: str) -> Range:
    """First and last address of a pool entry (``a-b`` range or CIDR)."""
    text = str(entry).strip()
    try:
        if "-" in text:
            first, last = (ipaddress.IPv4Address(p.strip()) for p in text.split("-", 1))
        else:
            net = ipaddress.IPv4Network(text, strict=True)
            first, last = net[0], net[-1]
    except ValueError as exc:
        raise MetallbError(
            f"metallb_address_pools[{pool}]: {text!r} is neither an IPv4 range a.b.c.d-a.b.c.e "
            f"nor a CIDR ({exc})"
        ) from exc
    if last < first:
        raise MetallbError(f"metallb_address_pools[{pool}]: range {text!r} ends before it starts")
    return first, last


def _ranges(pools: Iterable[Mapping[str, Any]]) -> list[tuple[str, Range]]:
    out = []
    for pool in pools:
        name = str(pool.get("name", "?"))
        for entry in pool.get("addresses") or []:
            out.append((name, parse_address(entry, name)))
    return out


def pool_problems(
    pools: Iterable[Mapping[str, Any]],
    mode: str,
    node_cidr: str,
    other_cidrs: Mapping[str, str] | None = None,
) -> list[str]:
    """Mistakes in ``metallb_address_pools`` (empty list: usable)."""
    pools = list(pools)
    problems = []
    if mode not in ("layer2", "bgp"):
        problems.append(f"metallb_mode={mode!r} must be layer2 or bgp")
    if not pools:
        problems.append("metallb_address_pools is empty: give at least one pool with addresses")
    names = [str(p.get("name", "")) for p in pools]
    for name in {n for n in names if names.count(n) > 1 or not n}:
        problems.append(f"metallb_address_pools: pool name {name!r} is empty or used twice")
    for pool in pools:
        if not pool.get("addresses"):
            problems.append(f"metallb_address_pools[{pool.get('name')}]: no addresses")
    try:
        ranges = _ranges(pools)
    except MetallbError as exc:
        return [*problems, str(exc)]
    node_net = ipaddress.IPv4Network(node_cidr, strict=False)
    for i, (name, (first, last)) in enumerate(ranges):
        if mode == "layer2" and not (first in node_net and last in node_net):
            problems.append(
                f"metallb_address_pools[{name}]: {first}-{last} is outside k3s_node_cidr {node_cidr}; "
                "layer2 announces addresses with ARP, so they must be in the node network"
            )
        for var, cidr in (other_cidrs or {}).items():
            net = ipaddress.IPv4Network(cidr, strict=False)
            if first <= net[-1] and net[0] <= last:
                problems.append(f"metallb_address_pools[{name}]: {first}-{last} overlaps {var} {cidr}")
        for other_name, (o_first, o_last) in ranges[i + 1 :]:
            if first <= o_last and o_first <= last:
                problems.append(
                    f"metallb_address_pools: {name} ({first}-{last}) overlaps "
                    f"{other_name} ({o_first}-{o_last})"
                )
    return problems


def reservation_problems(pools: Iterable[Mapping[str, Any]], reservations: Mapping[str, str]) -> list[str]:
    """Each reserved IP must be in a pool and reserved once."""
    ranges = _ranges(pools)
    problems = []
    seen: dict[str, str] = {}
    for service, ip in sorted((reservations or {}).items()):
        try:
            addr = ipaddress.IPv4Address(str(ip))
        except ValueError:
            problems.append(f"metallb_ip_reservations[{service}]: {ip!r} is not an IPv4 address")
            continue
        if not any(first <= addr <= last for _, (first, last) in ranges):
            problems.append(
                f"metallb_ip_reservations[{service}]: {ip} is in no metallb_address_pools range; "
                "pick an address inside a pool"
            )
        if str(addr) in seen:
            problems.append(
                f"metallb_ip_reservations: {ip} is reserved for both {seen[str(addr)]} and {service}"
            )
        seen[str(addr)] = service
    return problems


def endpoints_ready(slices: Iterable[Mapping[str, Any]]) -> bool:
    """True when an EndpointSlice list has at least one ready address.

    The MetalLB webhook rejects every IPAddressPool until its Service has a
    ready endpoint, even after the controller Deployment reports Available.
    """
    for sl in slices:
        for endpoint in sl.get("endpoints") or []:
            if (
                endpoint.get("addresses")
                and (endpoint.get("conditions") or {}).get("ready", True) is not False
            ):
                return True
    return False


def to_loadbalancer(service: Mapping[str, Any], ip: str | None) -> dict[str, Any]:
    """Server-side-apply patch turning a NodePort Service into a LoadBalancer one.

    Ports (port, targetPort, nodePort, protocol, name) stay as they are, so
    clients of the old NodePorts keep working during the switch; the reserved
    IP goes in the annotation MetalLB reads.
    """
    meta = service.get("metadata") or {}
    spec = service.get("spec") or {}
    ref = f"{meta.get('namespace')}/{meta.get('name')}"
    if spec.get("type") not in ("NodePort", "LoadBalancer"):
        raise MetallbError(
            f"Service {ref} is {spec.get('type', 'ClusterIP')}, not NodePort; nothing to convert"
        )
    ports = []
    for port in spec.get("ports") or []:
        ports.append(
            {k: port[k] for k in ("name", "port", "targetPort", "nodePort", "protocol") if k in port}
        )
    patch: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": meta.get("name"), "namespace": meta.get("namespace")},
        "spec": {
            "type": "LoadBalancer",
            "ports": copy.deepcopy(ports),
            "selector": spec.get("selector") or {},
        },
    }
    if ip:
        patch["metadata"]["annotations"] = {ANNOTATION: str(ip)}
    return patch


def services_to_loadbalancer(
    services: Iterable[Mapping[str, Any]], reservations: Mapping[str, str] | None
) -> list[dict[str, Any]]:
    """Patches for every NodePort Service, with its reserved IP when it has one.

    Reservations are keyed by Service name, as in ``metallb_ip_reservations``.
    Services of other types are left out.
    """
    reserved = reservations or {}
    return [
        to_loadbalancer(svc, reserved.get((svc.get("metadata") or {}).get("name", "")))
        for svc in services
        if (svc.get("spec") or {}).get("type") == "NodePort"
    ]
