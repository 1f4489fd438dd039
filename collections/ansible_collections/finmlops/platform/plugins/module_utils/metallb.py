"""MetalLB address pools, IP reservations and LoadBalancer conversions (pure functions)."""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

ANNOTATION = "metallb.io/loadBalancerIPs"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# First and last address of a pool entry (both of one IP version).
Range = tuple[IPAddress, IPAddress]

# MetalLB takes IPv4 and IPv6 pools (layer2 announces IPv6 by NDP). This is
# the one parser and set of rules for them: the metallb role's filters and
# preflight (module_utils/preflight.py) both use it, so they accept and
# reject the same pools.
ENTRY_FIX = "write each address as a range a.b.c.d-a.b.c.e or a CIDR a.b.c.d/nn"


class MetallbError(ValueError):
    """Inventory or object that cannot be used; the message says what and how to fix."""


class EntryError(MetallbError):
    """A pool entry that is not an address range: ``what`` is wrong with it, ``fix`` says how to write it."""

    def __init__(self, text: str, kind: str, what: str, fix: str = ENTRY_FIX) -> None:
        super().__init__(f"entry {text!r} {what}")
        self.text, self.kind, self.what, self.fix = text, kind, what, fix


def parse_entry(entry: Any) -> Range:
    """First and last address of one pool entry: ``a-b`` (one IP version) or a CIDR."""
    if not isinstance(entry, str):
        raise EntryError(repr(entry), "type", "is not a string")
    text = entry.strip()
    if "-" in text:
        start_text, _, end_text = text.partition("-")
        try:
            first = ipaddress.ip_address(start_text.strip())
            last = ipaddress.ip_address(end_text.strip())
        except ValueError as exc:
            raise EntryError(text, "range", f"is not a valid range ({exc})") from exc
        if first.version != last.version:
            raise EntryError(text, "mixed", "mixes IPv4 and IPv6")
        if first > last:
            raise EntryError(text, "reversed", "ends before it starts", f"write it as {last}-{first}")
        return first, last
    if "/" not in text:
        hint = f"; a single address is written {text}/32" if _is_ip(text) else ""
        raise EntryError(text, "form", "is neither a range nor a CIDR", ENTRY_FIX + hint)
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        meant = network_with_host_bits(text)
        hint = f"; did you mean {meant}?" if meant else ""
        raise EntryError(text, "cidr", f"is not a valid CIDR ({exc})", ENTRY_FIX + hint) from exc
    return network.network_address, network.broadcast_address


def parse_address(entry: str, pool: str) -> Range:
    """First and last address of a pool entry (``a-b`` range or CIDR, IPv4 or IPv6)."""
    try:
        return parse_entry(entry)
    except EntryError as exc:
        if exc.kind == "reversed":
            raise MetallbError(
                f"metallb_address_pools[{pool}]: range {exc.text!r} ends before it starts"
            ) from exc
        raise MetallbError(
            f"metallb_address_pools[{pool}]: {exc.text!r} is neither an IPv4 range a.b.c.d-a.b.c.e "
            f"(or an IPv6 one) nor a CIDR ({exc.what})"
        ) from exc


def overlaps(a: Range, b: Range) -> bool:
    """Whether two ranges share an address (ranges of different IP versions never do)."""
    return a[0].version == b[0].version and a[0] <= b[1] and b[0] <= a[1]


def contains(r: Range, address: IPAddress) -> bool:
    return r[0].version == address.version and r[0] <= address <= r[1]


def inside(r: Range, network: IPNetwork) -> bool:
    return (
        r[0].version == network.version
        and network.network_address <= r[0]
        and r[1] <= network.broadcast_address
    )


def outside_layer2_networks(r: Range, node_networks: Iterable[IPNetwork]) -> list[IPNetwork]:
    """The node networks of the range's IP version when the range lies in none of them.

    Layer2 announces addresses by ARP (IPv4) or NDP (IPv6) on the node
    network, so a pool must sit inside a node network of its own version; a
    version the nodes have no network of cannot be checked here.
    """
    same_version = [n for n in node_networks if n.version == r[0].version]
    return [] if any(inside(r, n) for n in same_version) else same_version


def network_with_host_bits(text: str) -> IPNetwork | None:
    """The network a CIDR with host bits set stands for (None when not a CIDR at all)."""
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _networks(cidrs: str) -> list[IPNetwork]:
    """A CIDR setting; k3s takes a comma-separated pair for dual-stack."""
    return [
        ipaddress.ip_network(part.strip(), strict=False) for part in str(cidrs).split(",") if part.strip()
    ]


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
    node_nets = _networks(node_cidr)
    for i, (name, (first, last)) in enumerate(ranges):
        if mode == "layer2" and outside_layer2_networks((first, last), node_nets):
            problems.append(
                f"metallb_address_pools[{name}]: {first}-{last} is outside k3s_node_cidr {node_cidr}; "
                "layer2 announces addresses with ARP/NDP, so they must be in the node network"
            )
        for var, cidr in (other_cidrs or {}).items():
            for net in _networks(cidr):
                if overlaps((first, last), (net[0], net[-1])):
                    problems.append(f"metallb_address_pools[{name}]: {first}-{last} overlaps {var} {cidr}")
        for other_name, other in ranges[i + 1 :]:
            if overlaps((first, last), other):
                problems.append(
                    f"metallb_address_pools: {name} ({first}-{last}) overlaps "
                    f"{other_name} ({other[0]}-{other[1]})"
                )
    return problems


def reservation_problems(pools: Iterable[Mapping[str, Any]], reservations: Mapping[str, str]) -> list[str]:
    """Each reserved IP (IPv4 or IPv6) must be in a pool and reserved once."""
    ranges = _ranges(pools)
    problems = []
    seen: dict[IPAddress, str] = {}
    for service, ip in sorted((reservations or {}).items()):
        try:
            addr = ipaddress.ip_address(str(ip).strip())
        except ValueError:
            problems.append(
                f"metallb_ip_reservations[{service}]: {ip!r} is not an IPv4 address (nor an IPv6 one)"
            )
            continue
        if not any(contains(r, addr) for _, r in ranges):
            problems.append(
                f"metallb_ip_reservations[{service}]: {ip} is in no metallb_address_pools range; "
                "pick an address inside a pool"
            )
        if addr in seen:
            problems.append(f"metallb_ip_reservations: {ip} is reserved for both {seen[addr]} and {service}")
        seen[addr] = service
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
