"""Preflight rules for the API address: the kube-vip virtual IP, or a single server.

``k3s_api_vip`` (optional) is served by kube-vip in ARP mode: the leader
answers ARP for it on the node network, so it must be a free address of that
network that nothing else hands out (MetalLB pools, the site's DHCP range,
another node). Without a VIP, ``k3s_api_endpoint`` is either a server's own
address (works, but not highly available: warned) or an external load
balancer (the operator's business; nothing to check beyond what preflight.py
already does).

The checks report through the ``problem``/``warn`` methods of preflight.py's
PreflightResult, so messages read like every other preflight finding.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from ansible_collections.finmlops.platform.plugins.module_utils.metallb import MetallbError, parse_address


class Findings(Protocol):
    def problem(self, subject: str, what: str, fix: str) -> None: ...

    def warn(self, subject: str, what: str, advice: str) -> None: ...


def _node_networks(settings: Mapping[str, Any]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for part in str(settings.get("k3s_node_cidr") or "").split(","):
        try:
            networks.append(ipaddress.ip_network(part.strip(), strict=True))
        except ValueError:
            continue  # preflight.py reports a bad k3s_node_cidr
    return networks


def _pool_ranges(settings: Mapping[str, Any]) -> list[tuple[str, str, Any, Any]]:
    """(pool, entry text, first, last) of every parsable MetalLB entry."""
    ranges = []
    pools = settings.get("metallb_address_pools")
    for pool in pools if isinstance(pools, list) else []:
        if not isinstance(pool, Mapping):
            continue
        name = str(pool.get("name", "?"))
        addresses = pool.get("addresses")
        for entry in addresses if isinstance(addresses, list) else []:
            try:
                first, last = parse_address(entry, name)
            except MetallbError:
                continue  # preflight.py reports bad pool entries
            ranges.append((name, str(entry), first, last))
    return ranges


def _dhcp_ranges(settings: Mapping[str, Any], result: Findings) -> list[tuple[str, Any, Any]]:
    raw = settings.get("k3s_node_dhcp_ranges")
    if raw is None or raw == []:
        return []
    fix = (
        "list the DHCP server's ranges as a.b.c.d-a.b.c.e or CIDR strings, e.g. [192.168.1.100-192.168.1.199]"
    )
    if not isinstance(raw, list):
        result.problem("k3s_node_dhcp_ranges", f"must be a list, got {raw!r}", fix)
        return []
    ranges = []
    for entry in raw:
        try:
            first, last = parse_address(entry, "dhcp")
        except MetallbError:
            result.problem("k3s_node_dhcp_ranges", f"entry {entry!r} is neither a range nor a CIDR", fix)
            continue
        ranges.append((str(entry), first, last))
    return ranges


def check_api_address(
    settings: Mapping[str, Any],
    hosts: Mapping[str, Any],
    servers: Sequence[str],
    result: Findings,
) -> bool:
    """Check k3s_api_vip (or warn about a single-server endpoint).

    Returns True when a VIP is set: these rules then own every check of the
    API address, and preflight.py skips its own endpoint rules.
    """
    vip_raw = settings.get("k3s_api_vip")
    endpoint = str(settings.get("k3s_api_endpoint") or "").strip()
    if vip_raw is None or not str(vip_raw).strip():
        owner = next(
            (h for h in servers if str(hosts.get(h) or "").strip() == endpoint or h == endpoint), None
        )
        if endpoint and owner:
            result.warn(
                "k3s_api_endpoint",
                f"{endpoint} is the address of server {owner} alone, which is not highly available: while "
                f"{owner} is down, agents cannot re-register and kubectl, the cluster playbooks and Calico "
                "lose the API",
                "Set k3s_api_vip to a free address of k3s_node_cidr (served by kube-vip), or point "
                "k3s_api_endpoint at an external load balancer in front of every server's 6443",
            )
        return False
    vip_text = str(vip_raw).strip()
    try:
        vip = ipaddress.ip_address(vip_text)
    except ValueError:
        result.problem(
            "k3s_api_vip",
            f"{vip_text!r} is not an IP address",
            "give a single free IPv4 address of k3s_node_cidr, without port or prefix",
        )
        return True
    if not isinstance(vip, ipaddress.IPv4Address):
        result.problem(
            "k3s_api_vip",
            f"{vip} is an IPv6 address; the kube-vip setup here announces IPv4 with ARP only",
            "give a free IPv4 address of k3s_node_cidr",
        )
        return True
    if endpoint != vip_text:
        result.problem(
            "k3s_api_endpoint",
            f"is {endpoint or '(unset)'} while k3s_api_vip is {vip}; joining nodes, the kubeconfig and "
            "Calico must all use the VIP",
            f'set k3s_api_endpoint: "{{{{ k3s_api_vip }}}}" (or {vip}) in the same group_vars file',
        )
    nets = _node_networks(settings)
    if nets and not any(vip in n for n in nets):
        result.problem(
            "k3s_api_vip",
            f"{vip} is outside k3s_node_cidr {', '.join(map(str, nets))}; kube-vip announces it with ARP, "
            "which only reaches the node network",
            "pick a free address inside k3s_node_cidr",
        )
    for host, raw in sorted(hosts.items()):
        if str(raw or "").strip() == vip_text:
            result.problem(
                "k3s_api_vip",
                f"{vip} is the ansible_host of {host}; a node's own address cannot move to another server",
                "pick an address no node uses",
            )
    for pool, text, first, last in _pool_ranges(settings):
        if first <= vip <= last:
            result.problem(
                "k3s_api_vip",
                f"{vip} is inside metallb_address_pools[{pool}] entry {text}, so MetalLB could give it to a "
                "Service while kube-vip announces it",
                "pick an address outside every MetalLB pool (or shrink the pool)",
            )
    dhcp = _dhcp_ranges(settings, result)
    for text, first, last in dhcp:
        if first <= vip <= last:
            result.problem(
                "k3s_api_vip",
                f"{vip} is inside the DHCP range {text} (k3s_node_dhcp_ranges), so the DHCP server could "
                "lease it to another machine",
                "pick a static address outside the DHCP ranges",
            )
    if "k3s_node_dhcp_ranges" not in settings:
        result.warn(
            "k3s_node_dhcp_ranges",
            f"is not set, so preflight cannot tell whether a DHCP server may lease {vip}",
            "Declare your DHCP ranges (an empty list when the node network has none)",
        )
    return True
