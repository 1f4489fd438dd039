"""Preflight and the metallb role judge MetalLB pools with the same rules.

Preflight (module_utils/preflight.py) words problems for people; the metallb
role's filters (metallb_pool_problems, metallb_reservation_problems) fail the
role. Both parse and compare through module_utils/metallb.py, so a pool
preflight accepts is one the role accepts, IPv6 included (they once
disagreed: the role's validator took IPv4 only).
"""

from __future__ import annotations

from typing import Any

import pytest
from ansible_collections.finmlops.platform.plugins.module_utils import metallb
from ansible_collections.finmlops.platform.plugins.module_utils.preflight import Inventory, check_inventory

DUAL_STACK_NODES = "192.168.1.0/24,fd00:1::/64"

# (case, change to the sample settings, accepted)
CASES: list[tuple[str, dict[str, Any], bool]] = [
    ("the sample's IPv4 pool", {}, True),
    (
        "an IPv6 range inside the nodes' IPv6 network (layer2)",
        {
            "k3s_node_cidr": DUAL_STACK_NODES,
            "metallb_address_pools": [
                {"name": "platform", "addresses": ["192.168.1.200-192.168.1.220"]},
                {"name": "v6", "addresses": ["fd00:1::200-fd00:1::220"]},
            ],
            "metallb_ip_reservations": {"mlflow": "192.168.1.200", "seldon-mesh": "fd00:1::203"},
        },
        True,
    ),
    (
        "an IPv6 CIDR inside the nodes' IPv6 network (layer2)",
        {
            "k3s_node_cidr": DUAL_STACK_NODES,
            "metallb_address_pools": [{"name": "v6", "addresses": ["fd00:1::100/120"]}],
            "metallb_ip_reservations": {"mlflow": "fd00:1::1a0"},
        },
        True,
    ),
    (
        "an IPv6 pool with BGP (routed, no node network needed)",
        {
            "metallb_mode": "bgp",
            "metallb_address_pools": [{"name": "v6", "addresses": ["2001:db8:5::/120"]}],
            "metallb_ip_reservations": {},
        },
        True,
    ),
    (
        "an IPv6 pool outside the nodes' IPv6 network (layer2)",
        {
            "k3s_node_cidr": DUAL_STACK_NODES,
            "metallb_address_pools": [{"name": "v6", "addresses": ["fd00:2::/120"]}],
            "metallb_ip_reservations": {},
        },
        False,
    ),
    (
        "a range mixing IPv4 and IPv6",
        {
            "metallb_address_pools": [{"name": "platform", "addresses": ["192.168.1.240-fd00::1"]}],
            "metallb_ip_reservations": {},
        },
        False,
    ),
    (
        "an IPv6 range that ends before it starts",
        {
            "metallb_mode": "bgp",
            "metallb_address_pools": [{"name": "v6", "addresses": ["2001:db8::20-2001:db8::10"]}],
            "metallb_ip_reservations": {},
        },
        False,
    ),
    (
        "an IPv6 CIDR with host bits set",
        {
            "metallb_mode": "bgp",
            "metallb_address_pools": [{"name": "v6", "addresses": ["2001:db8::1/120"]}],
            "metallb_ip_reservations": {},
        },
        False,
    ),
    (
        "IPv6 pools overlapping each other",
        {
            "metallb_mode": "bgp",
            "metallb_address_pools": [
                {"name": "a", "addresses": ["2001:db8::/120"]},
                {"name": "b", "addresses": ["2001:db8::80-2001:db8::1ff"]},
            ],
            "metallb_ip_reservations": {},
        },
        False,
    ),
    (
        "an IPv6 pool inside the IPv6 service network",
        {
            "metallb_mode": "bgp",
            "k3s_service_cidr": "10.43.0.0/16,fd00:43::/112",
            "metallb_address_pools": [{"name": "v6", "addresses": ["fd00:43::100/120"]}],
            "metallb_ip_reservations": {},
        },
        False,
    ),
    (
        "an IPv6 reservation outside every pool",
        {"metallb_ip_reservations": {"mlflow": "192.168.1.200", "minio": "fd00:1::5"}},
        False,
    ),
    (
        "one IPv6 address reserved twice, spelled two ways",
        {
            "metallb_mode": "bgp",
            "metallb_address_pools": [{"name": "v6", "addresses": ["2001:db8::/120"]}],
            "metallb_ip_reservations": {"mlflow": "2001:db8::10", "minio": "2001:db8:0:0::10"},
        },
        False,
    ),
]


def preflight_accepts(settings: dict[str, Any], sample: dict[str, Any]) -> bool:
    result = check_inventory(Inventory(**{**sample, "settings": settings}))
    return result.ok


def role_accepts(settings: dict[str, Any]) -> bool:
    """As roles/metallb/tasks/main.yml judges: pool problems plus reservation problems, or an error."""
    others = {name: settings[name] for name in ("k3s_cluster_cidr", "k3s_service_cidr")}
    pools = settings["metallb_address_pools"]
    try:
        problems = metallb.pool_problems(
            pools, settings["metallb_mode"], settings["k3s_node_cidr"], others
        ) + metallb.reservation_problems(pools, settings.get("metallb_ip_reservations") or {})
    except metallb.MetallbError:
        return False
    return not problems


@pytest.mark.parametrize(("change", "accepted"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_preflight_and_the_role_accept_the_same_pools(
    sample: dict[str, Any], change: dict[str, Any], accepted: bool
) -> None:
    settings = {**sample["settings"], **change}
    assert role_accepts(settings) is accepted
    assert preflight_accepts(settings, sample) is accepted, check_inventory(
        Inventory(**{**sample, "settings": settings})
    ).problems
