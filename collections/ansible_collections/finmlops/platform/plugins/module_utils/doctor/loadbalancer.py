"""LoadBalancer IPs vs MetalLB pools and the inventory's reservations.

Each platform Service has a fixed IP (``metallb_ip_reservations``, applied as
the ``metallb.io/loadBalancerIPs`` annotation). Without it MetalLB hands out
the next free pool address, so IPs churn on re-creation and clients pinned to
the old IP break; an IP outside every pool means MetalLB did not assign it.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from ansible_collections.finmlops.platform.plugins.module_utils.doctor.finding import Finding
from ansible_collections.finmlops.platform.plugins.module_utils.doctor.snapshot import (
    Snapshot,
    name_of,
    namespace_of,
    ref,
)

ANNOTATION = "metallb.io/loadBalancerIPs"


def pool_ranges(
    pools: list[dict[str, Any]],
) -> list[tuple[str, ipaddress.IPv4Address, ipaddress.IPv4Address]]:
    """(pool name, first, last) for each address entry (range or CIDR)."""
    ranges = []
    for pool in pools or []:
        for entry in pool.get("addresses") or []:
            text = str(entry)
            if "-" in text:
                low, high = (ipaddress.ip_address(p.strip()) for p in text.split("-", 1))
            else:
                network = ipaddress.ip_network(text, strict=False)
                low, high = network[0], network[-1]
            ranges.append((str(pool.get("name", "?")), low, high))
    return ranges


def pool_of(ip: str, pools: list[dict[str, Any]]) -> str | None:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    for name, low, high in pool_ranges(pools):
        if low <= address <= high:
            return name
    return None


def lb_ips(service: dict[str, Any]) -> list[str]:
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return [i["ip"] for i in ingress if i.get("ip")]


def load_balancers(snap: Snapshot) -> list[dict[str, Any]]:
    return [s for s in snap.of_kind("Service") if (s.get("spec") or {}).get("type") == "LoadBalancer"]


def diagnose(snap: Snapshot, reservations: dict[str, str], pools: list[dict[str, Any]]) -> list[Finding]:
    findings = []
    for service in load_balancers(snap):
        name, namespace = name_of(service), namespace_of(service)
        ips = lb_ips(service)
        reserved = reservations.get(name)
        annotation = ((service.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION)
        evidence = [
            f"{ref(service)} status.loadBalancer.ingress={ips or '(none: pending)'}",
            f"{ref(service)} annotation {ANNOTATION}={annotation!r}",
        ]
        if reserved:
            evidence.append(f"inventory metallb_ip_reservations.{name}={reserved}")
        fix_annotate = (
            f"kubectl -n {namespace} annotate service {name} {ANNOTATION}={reserved} --overwrite "
            "(persisted by the role that owns the Service; re-run it so the next apply keeps it)"
        )
        if reserved and reserved not in ips:
            holder = next(
                (ref(s) for s in load_balancers(snap) if s is not service and reserved in lb_ips(s)), None
            )
            if holder:
                evidence.append(f"{reserved} is currently held by {holder}")
            if not pool_of(reserved, pools):
                evidence.append(f"reservation {reserved} lies in no pool of metallb_address_pools")
            findings.append(
                Finding(
                    id="loadbalancer-ip-not-reserved",
                    severity="error",
                    title=(
                        f"LoadBalancer {namespace}/{name} has {ips or 'no IP'} instead of its "
                        f"reservation {reserved}"
                    ),
                    evidence=evidence,
                    fix=(
                        f"Free {reserved} first: kubectl -n {holder.split('/')[1]} annotate service "
                        f"{holder.split('/')[2]} {ANNOTATION}- ; then "
                        if holder
                        else ""
                    )
                    + (
                        fix_annotate
                        if pool_of(reserved, pools)
                        else f"add {reserved} to a pool in metallb_address_pools, re-run the metallb role"
                    ),
                    needs_cluster_admin=not pool_of(reserved, pools) or holder is not None,
                    objects=[ref(service)],
                )
            )
            continue
        outside = [ip for ip in ips if not pool_of(ip, pools)]
        if pools and outside:
            findings.append(
                Finding(
                    id="loadbalancer-ip-outside-pools",
                    severity="error",
                    title=f"LoadBalancer {namespace}/{name} has {outside}, outside every MetalLB pool",
                    evidence=[*evidence, f"pools: {[(p.get('name'), p.get('addresses')) for p in pools]}"],
                    fix=(
                        "The IP was not assigned by this MetalLB (another LB controller, e.g. k3s "
                        "servicelb, or a "
                        "stale status): make sure k3s runs with --disable=servicelb, then "
                        f"kubectl -n {namespace} delete service {name} and re-run its role."
                    ),
                    needs_cluster_admin=True,
                    objects=[ref(service)],
                )
            )
        elif not ips:
            findings.append(
                Finding(
                    id="loadbalancer-ip-pending",
                    severity="error",
                    title=f"LoadBalancer {namespace}/{name} has no IP",
                    evidence=evidence,
                    fix=(
                        "kubectl -n metallb-system logs deploy/controller | grep "
                        + name
                        + "; check that the requested IP is free and inside an IPAddressPool."
                    ),
                    needs_cluster_admin=True,
                    objects=[ref(service)],
                )
            )
        elif reserved and annotation != reserved:
            findings.append(
                Finding(
                    id="loadbalancer-ip-unpinned",
                    severity="warning",
                    title=(
                        f"LoadBalancer {namespace}/{name} holds {reserved} by chance: the "
                        "annotation does not pin it"
                    ),
                    evidence=evidence,
                    fix=fix_annotate,
                    objects=[ref(service)],
                )
            )
    return findings
