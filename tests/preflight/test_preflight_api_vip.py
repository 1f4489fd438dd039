"""k3s_api_vip preflight rules (module_utils/preflight_api_endpoint.py) on the sample inventory with a VIP."""

from __future__ import annotations

from typing import Any

import pytest
from ansible_collections.finmlops.platform.plugins.module_utils.preflight import (
    Inventory,
    PreflightResult,
    check_inventory,
)

VIP = "192.168.1.10"


def run(data: dict[str, Any]) -> PreflightResult:
    return check_inventory(Inventory(**data))


@pytest.fixture
def with_vip(sample: dict[str, Any]) -> dict[str, Any]:
    sample["settings"].update(k3s_api_vip=VIP, k3s_api_endpoint=VIP)
    return sample


def vip_problem(data: dict[str, Any], vip: str, *fragments: str) -> str:
    """Exactly one problem, about k3s_api_vip, with every fragment; the endpoint follows the VIP."""
    data["settings"].update(k3s_api_vip=vip, k3s_api_endpoint=vip)
    result = run(data)
    assert len(result.problems) == 1, result.problems
    problem = result.problems[0]
    assert problem.startswith("k3s_api_vip: ") and ". Fix: " in problem, problem
    for fragment in fragments:
        assert fragment in problem, (fragment, problem)
    return problem


def test_free_vip_passes_without_the_single_server_warning(with_vip):
    result = run(with_vip)
    assert result.ok, result.problems
    assert result.warnings == []


def test_single_server_endpoint_without_vip_is_a_warning(sample):
    result = run(sample)
    assert result.ok, result.problems
    assert len(result.warnings) == 1
    assert result.warnings[0].startswith(
        "k3s_api_endpoint: 192.168.1.11 is the address of server k3s-server-1 alone"
    )
    assert "k3s_api_vip" in result.warnings[0] and "external load balancer" in result.warnings[0]


def test_external_load_balancer_endpoint_is_not_warned(sample):
    sample["settings"]["k3s_api_endpoint"] = "192.168.1.5"
    result = run(sample)
    assert result.ok, result.problems
    assert result.warnings == []


def test_vip_inside_a_metallb_pool_is_rejected(with_vip):
    vip_problem(
        with_vip, "192.168.1.205", "inside metallb_address_pools[platform] entry 192.168.1.200-192.168.1.220"
    )


def test_vip_outside_the_node_network_is_rejected(with_vip):
    vip_problem(with_vip, "10.9.9.9", "outside k3s_node_cidr 192.168.1.0/24", "ARP")


@pytest.mark.parametrize("address", ["192.168.1.12", "192.168.1.21"])
def test_vip_equal_to_a_node_address_is_rejected(with_vip, address):
    vip_problem(with_vip, address, f"{address} is the ansible_host of")


def test_vip_inside_the_dhcp_range_is_rejected(with_vip):
    vip_problem(with_vip, "192.168.1.150", "inside the DHCP range 192.168.1.100-192.168.1.199")


@pytest.mark.parametrize("vip", ["api.lab.example", "fd00::10"])
def test_vip_that_is_no_ipv4_address_is_rejected(with_vip, vip):
    vip_problem(with_vip, vip, vip)


def test_endpoint_other_than_the_vip_is_rejected(with_vip):
    with_vip["settings"]["k3s_api_endpoint"] = "192.168.1.11"
    result = run(with_vip)
    assert len(result.problems) == 1, result.problems
    assert result.problems[0].startswith(
        "k3s_api_endpoint: is 192.168.1.11 while k3s_api_vip is 192.168.1.10"
    )
    assert '"{{ k3s_api_vip }}"' in result.problems[0]


def test_bad_dhcp_range_is_rejected_and_a_missing_one_is_warned(with_vip):
    with_vip["settings"]["k3s_node_dhcp_ranges"] = ["192.168.1.100-foo"]
    assert any(
        p.startswith("k3s_node_dhcp_ranges: entry '192.168.1.100-foo'") for p in run(with_vip).problems
    )
    del with_vip["settings"]["k3s_node_dhcp_ranges"]
    result = run(with_vip)
    assert result.ok, result.problems
    assert [w.split(":")[0] for w in result.warnings] == ["k3s_node_dhcp_ranges"]
