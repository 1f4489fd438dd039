"""Inventory preflight rules, one class of mistake per test, on the sample inventory with one change."""

from __future__ import annotations

import re
from typing import Any

import pytest
from ansible_collections.finmlops.platform.plugins.module_utils.preflight import (
    Inventory,
    Policy,
    PreflightResult,
    check_inventory,
    is_placeholder,
)

MESSAGE = re.compile(r"^\S[^:]*: .+\. Fix: .+$")


def run(data: dict[str, Any], policy: Policy | None = None) -> PreflightResult:
    return check_inventory(Inventory(**data), policy)


def one_problem(data: dict[str, Any], *fragments: str) -> str:
    """Assert exactly one problem, well formed and containing every fragment; return it."""
    result = run(data)
    assert len(result.problems) == 1, result.problems
    problem = result.problems[0]
    assert MESSAGE.match(problem), problem
    for fragment in fragments:
        assert fragment in problem, (fragment, problem)
    return problem


def test_sample_inventory_passes(sample):
    result = run(sample)
    assert result.ok, result.problems
    # The sample's API endpoint is server 1's own address (no k3s_api_vip).
    assert [w.split(":")[0] for w in result.warnings] == ["k3s_api_endpoint"]


# --- groups and hosts -------------------------------------------------------


def test_even_server_count_is_rejected(sample):
    sample["hosts"]["k3s-server-4"] = "192.168.1.14"
    sample["servers"].append("k3s-server-4")
    one_problem(sample, "server: 4 server(s)", "even", "k3s_allow_unsafe_server_count: true")


@pytest.mark.parametrize("count", [1, 2])
def test_fewer_than_three_servers_are_rejected_unless_allowed(sample, count):
    for host in sample["servers"][count:]:
        del sample["hosts"][host]
    sample["servers"] = sample["servers"][:count]
    one_problem(sample, f"server: {count} server(s)", "k3s_allow_unsafe_server_count")
    sample["settings"]["k3s_allow_unsafe_server_count"] = True
    assert run(sample).ok


def test_no_server_is_rejected_even_when_unsafe_counts_are_allowed(sample):
    sample["settings"]["k3s_allow_unsafe_server_count"] = True
    for host in sample["servers"]:
        del sample["hosts"][host]
    sample["servers"] = []
    sample["settings"]["k3s_api_endpoint"] = "192.168.1.10"
    one_problem(sample, "server: the group has no hosts")


def test_empty_cluster_is_rejected(sample):
    sample.update(hosts={}, servers=[], agents=[])
    problems = run(sample).problems
    assert any(p.startswith("k3s_cluster: the group has no hosts") for p in problems)
    assert any(p.startswith("server: the group has no hosts") for p in problems)


def test_duplicate_ansible_host_names_both_hosts(sample):
    sample["hosts"]["k3s-agent-2"] = "192.168.1.21"
    problems = run(sample).problems
    assert problems == [
        "k3s-agent-1: ansible_host 192.168.1.21 is also the ansible_host of k3s-agent-2. "
        "Fix: give every host its own address (or remove the duplicate host entry)",
        "k3s-agent-2: ansible_host 192.168.1.21 is also the ansible_host of k3s-agent-1. "
        "Fix: give every host its own address (or remove the duplicate host entry)",
    ]


def test_duplicate_is_found_despite_stray_whitespace(sample):
    sample["hosts"]["k3s-agent-2"] = " 192.168.1.21 "
    assert any("k3s-agent-2: ansible_host 192.168.1.21 is also" in p for p in run(sample).problems)


def test_host_in_server_and_agent_is_rejected(sample):
    sample["agents"].append("k3s-server-3")
    one_problem(sample, "k3s-server-3: is in both the server and the agent group", "keep it in one group")


def test_host_in_neither_server_nor_agent_is_rejected(sample):
    sample["hosts"]["k3s-spare"] = "192.168.1.30"
    one_problem(sample, "k3s-spare: is in k3s_cluster but in neither server nor agent")


def test_missing_ansible_host_is_rejected(sample):
    sample["hosts"]["k3s-agent-2"] = None
    one_problem(sample, "k3s-agent-2: ansible_host is not set")


def test_hostname_as_ansible_host_is_a_warning(sample):
    sample["hosts"]["k3s-agent-2"] = "agent-2.lab.example"
    result = run(sample)
    assert result.ok, result.problems
    assert result.warnings
    assert result.warnings[0].startswith("k3s-agent-2: ansible_host 'agent-2.lab.example'")


def test_host_outside_node_cidr_is_a_warning(sample):
    sample["hosts"]["k3s-agent-2"] = "192.168.7.22"
    result = run(sample)
    assert result.ok, result.problems
    assert result.warnings[:1] == [
        "k3s-agent-2: ansible_host 192.168.7.22 is outside k3s_node_cidr 192.168.1.0/24. Calico picks "
        "node addresses and layer2 MetalLB answers ARP on k3s_node_cidr; check that this host really is "
        "on that network"
    ]


def test_host_inside_the_pod_network_is_rejected(sample):
    sample["hosts"]["k3s-agent-2"] = "10.42.3.4"
    problems = run(sample).problems
    expected = "k3s-agent-2: ansible_host 10.42.3.4 is inside k3s_cluster_cidr"
    assert any(p.startswith(expected) for p in problems), problems


# --- networks ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("k3s_cluster_cidr", "10.42.0.0/33", "'10.42.0.0/33' is not a valid CIDR"),
        ("k3s_service_cidr", "ten.43.0.0/16", "'ten.43.0.0/16' is not a valid CIDR"),
        ("k3s_node_cidr", "192.168.1.10/24", "e.g. 192.168.1.0/24 (host bits must be zero)"),
        ("k3s_cluster_cidr", 42, "must be a CIDR string"),
    ],
)
def test_invalid_cidr_is_rejected(sample, variable, value, fragment):
    sample["settings"][variable] = value
    problems = run(sample).problems
    assert problems[0].startswith(f"{variable}: "), problems
    assert fragment in problems[0]
    assert all(MESSAGE.match(p) for p in problems)


def test_undefined_cidr_is_rejected(sample):
    del sample["settings"]["k3s_service_cidr"]
    one_problem(sample, "k3s_service_cidr: is not set", "group_vars/all/network.yml")


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("k3s_service_cidr", "10.42.128.0/17", "k3s_service_cidr: 10.42.128.0/17 overlaps k3s_cluster_cidr"),
        (
            "k3s_cluster_cidr",
            "10.0.0.0/8",
            "k3s_service_cidr: 10.43.0.0/16 overlaps k3s_cluster_cidr 10.0.0.0/8",
        ),
        (
            "k3s_node_cidr",
            "10.43.1.0/24",
            "k3s_service_cidr: 10.43.0.0/16 overlaps k3s_node_cidr 10.43.1.0/24",
        ),
        ("k3s_cluster_cidr", "192.168.0.0/16", "k3s_cluster_cidr: 192.168.0.0/16 overlaps k3s_node_cidr"),
    ],
)
def test_overlapping_networks_are_rejected(sample, variable, value, expected):
    sample["settings"][variable] = value
    problems = run(sample).problems
    assert any(p.startswith(expected) for p in problems), problems


def test_dual_stack_cidrs_are_accepted(sample):
    sample["settings"]["k3s_cluster_cidr"] = "10.42.0.0/16,2001:cafe:42::/56"
    sample["settings"]["k3s_service_cidr"] = "10.43.0.0/16,2001:cafe:43::/112"
    assert run(sample).ok


# --- choices ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "choices"),
    [
        ("k3s_cni", "cilium", "calico, flannel"),
        ("metallb_mode", "l2", "layer2, bgp"),
        ("platform_mode", "dry-run", "apply, render"),
    ],
)
def test_unknown_choice_is_rejected(sample, variable, value, choices):
    sample["settings"][variable] = value
    one_problem(sample, f"{variable}: '{value}' is not supported", f"one of {choices}")


def test_undefined_cni_is_rejected(sample):
    del sample["settings"]["k3s_cni"]
    one_problem(sample, "k3s_cni: is not set")


@pytest.mark.parametrize("variable", ["k3s_version", "k3s_api_endpoint", "metallb_address_pools"])
def test_empty_required_setting_is_rejected(sample, variable):
    # `k3s_version:` with no value in YAML arrives as None.
    sample["settings"][variable] = None
    sample["settings"]["metallb_ip_reservations"] = {}
    one_problem(sample, f"{variable}: is not set")


# --- MetalLB pools ----------------------------------------------------------


def test_pool_containing_node_addresses_is_rejected(sample):
    sample["settings"]["metallb_address_pools"][0]["addresses"] = ["192.168.1.10-192.168.1.19"]
    sample["settings"]["metallb_ip_reservations"] = {}
    one_problem(
        sample,
        "metallb_address_pools[platform]: entry 192.168.1.10-192.168.1.19 contains the ansible_host of "
        "k3s-server-1 (192.168.1.11), k3s-server-2 (192.168.1.12), k3s-server-3 (192.168.1.13)",
    )


@pytest.mark.parametrize(
    ("entry", "variable"),
    [
        ("10.42.200.0/28", "k3s_cluster_cidr 10.42.0.0/16"),
        ("10.43.0.10-10.43.0.20", "k3s_service_cidr 10.43.0.0/16"),
    ],
)
def test_pool_overlapping_pod_or_service_network_is_rejected(sample, entry, variable):
    sample["settings"]["metallb_mode"] = "bgp"
    sample["settings"]["metallb_address_pools"].append({"name": "routed", "addresses": [entry]})
    one_problem(sample, f"metallb_address_pools[routed]: entry {entry} overlaps {variable}")


def test_pools_overlapping_each_other_are_rejected(sample):
    sample["settings"]["metallb_address_pools"].append({"name": "extra", "addresses": ["192.168.1.216/29"]})
    one_problem(
        sample,
        "metallb_address_pools[extra]: entry 192.168.1.216/29 overlaps entry 192.168.1.200-192.168.1.220 "
        "of metallb_address_pools[platform]",
    )


def test_entries_of_one_pool_overlapping_are_rejected(sample):
    sample["settings"]["metallb_address_pools"][0]["addresses"].append("192.168.1.220-192.168.1.230")
    one_problem(
        sample,
        "entry 192.168.1.220-192.168.1.230 overlaps entry 192.168.1.200-192.168.1.220 of the same pool",
    )


def test_layer2_pool_outside_node_network_is_rejected_but_fine_with_bgp(sample):
    sample["settings"]["metallb_address_pools"].append({"name": "other", "addresses": ["172.16.5.0/28"]})
    one_problem(
        sample,
        "metallb_address_pools[other]: entry 172.16.5.0/28 is outside k3s_node_cidr 192.168.1.0/24",
        "metallb_mode: bgp",
    )
    sample["settings"]["metallb_mode"] = "bgp"
    assert run(sample).ok


def test_layer2_pool_straddling_the_node_network_is_rejected(sample):
    sample["settings"]["metallb_address_pools"][0]["addresses"] = ["192.168.1.200-192.168.2.10"]
    one_problem(sample, "entry 192.168.1.200-192.168.2.10 is outside k3s_node_cidr")


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        ("192.168.1.230", "is neither a range nor a CIDR"),
        ("192.168.1.300-192.168.1.310", "is not a valid range"),
        ("192.168.1.240-192.168.1.230", "ends before it starts"),
        ("192.168.1.0/33", "is not a valid CIDR"),
        ("192.168.1.241/28", "did you mean 192.168.1.240/28?"),
        ("192.168.1.240-fd00::1", "mixes IPv4 and IPv6"),
        (42, "is not a string"),
    ],
)
def test_malformed_pool_entry_names_pool_and_entry(sample, entry, fragment):
    sample["settings"]["metallb_address_pools"][0]["addresses"].append(entry)
    problem = one_problem(sample, "metallb_address_pools[platform]: entry ", fragment)
    assert str(entry) in problem


def test_every_malformed_entry_is_reported(sample):
    sample["settings"]["metallb_address_pools"][0]["addresses"] += ["bad-one", "bad/two", "192.168.1.250"]
    problems = run(sample).problems
    assert len(problems) == 3
    assert all(p.startswith("metallb_address_pools[platform]: entry ") for p in problems)


@pytest.mark.parametrize(
    ("pools", "fragment"),
    [
        ("192.168.1.200-192.168.1.220", "metallb_address_pools: must be a non-empty list"),
        ([], "metallb_address_pools: must be a non-empty list"),
        (["192.168.1.200/29"], "metallb_address_pools[0]: '192.168.1.200/29' is not a mapping"),
        ([{"name": "Pool_A", "addresses": ["192.168.1.200/29"]}], "name 'Pool_A' is not a valid"),
        ([{"name": "platform", "addresses": []}], "[platform]: addresses must be a non-empty list"),
    ],
)
def test_malformed_pool_list_is_rejected(sample, pools, fragment):
    sample["settings"]["metallb_address_pools"] = pools
    sample["settings"]["metallb_ip_reservations"] = {}
    problem = one_problem(sample)
    assert fragment in problem


def test_duplicate_pool_names_are_rejected(sample):
    pools = sample["settings"]["metallb_address_pools"]
    pools.append({"name": "platform", "addresses": ["192.168.1.230/31"]})
    one_problem(sample, "metallb_address_pools[platform]: the name is used by more than one pool")


# --- reservations -----------------------------------------------------------


def test_reservation_outside_every_pool_is_rejected(sample):
    sample["settings"]["metallb_ip_reservations"]["mlflow"] = "192.168.1.199"
    one_problem(sample, "metallb_ip_reservations.mlflow: 192.168.1.199 is outside every MetalLB pool")


def test_duplicated_reservation_is_rejected(sample):
    sample["settings"]["metallb_ip_reservations"]["minio"] = "192.168.1.200"
    one_problem(sample, "metallb_ip_reservations: 192.168.1.200 is reserved for 2 services (mlflow, minio)")


def test_reservation_that_is_not_an_ip_is_rejected(sample):
    sample["settings"]["metallb_ip_reservations"]["seldon-mesh"] = "192.168.1.200/32"
    one_problem(sample, "metallb_ip_reservations.seldon-mesh: '192.168.1.200/32' is not an IP address")


def test_reservations_must_be_a_mapping(sample):
    sample["settings"]["metallb_ip_reservations"] = ["192.168.1.200"]
    one_problem(sample, "metallb_ip_reservations: must be a mapping")


# --- k3s version and API endpoint ------------------------------------------


@pytest.mark.parametrize(
    "version", ["v1.33.1", "1.33.1+k3s1", "v1.33.1-rc1+k3s1", "latest", "v1.33+k3s1", 1.33]
)
def test_version_that_is_not_a_release_tag_is_rejected(sample, version):
    sample["settings"]["k3s_version"] = version
    one_problem(sample, "k3s_version: ", "is not a k3s release tag (vX.Y.Z+k3sN)", "e.g. v1.33.1+k3s1")


@pytest.mark.parametrize("version", ["v1.32.5+k3s1", "v1.34.1+k3s1"])
def test_version_of_another_minor_is_rejected_unless_allowed(sample, version):
    sample["settings"]["k3s_version"] = version
    one_problem(
        sample, f"k3s_version: {version} is not a v1.33.x release", "preflight_allow_unsupported_k3s_version"
    )
    result = run(sample, Policy(allow_unsupported_k3s_version=True))
    assert result.ok
    assert result.warnings[0].startswith(f"k3s_version: {version} is not a v1.33.x release")


def test_later_patch_of_the_supported_minor_is_accepted(sample):
    sample["settings"]["k3s_version"] = "v1.33.12+k3s2"
    assert run(sample).ok


@pytest.mark.parametrize(
    ("endpoint", "fragment"),
    [
        ("10.0.0.1", "10.0.0.1 is neither a server's ansible_host nor inside k3s_node_cidr 192.168.1.0/24"),
        ("192.168.1.21", "192.168.1.21 is the address of agent k3s-agent-1"),
        ("192.168.1.210", "192.168.1.210 is inside metallb_address_pools[platform] entry"),
        ("192.168.1.11:6443", "is neither a server's ansible_host nor an IP address"),
        ("api.lab.example", "is neither a server's ansible_host nor an IP address"),
    ],
)
def test_bad_api_endpoint_is_rejected(sample, endpoint, fragment):
    sample["settings"]["k3s_api_endpoint"] = endpoint
    one_problem(sample, "k3s_api_endpoint: ", fragment, "192.168.1.11, 192.168.1.12, 192.168.1.13")


@pytest.mark.parametrize("endpoint", ["192.168.1.13", "192.168.1.10"])
def test_server_address_or_free_vip_is_accepted(sample, endpoint):
    sample["settings"]["k3s_api_endpoint"] = endpoint
    assert run(sample).ok


def test_server_hostname_endpoint_is_accepted(sample):
    sample["hosts"]["k3s-server-1"] = "server-1.lab.example"
    sample["settings"]["k3s_api_endpoint"] = "server-1.lab.example"
    assert run(sample).ok


# --- secrets ----------------------------------------------------------------


SECRET_VARIABLES = [
    "vault_k3s_token",
    "vault_postgres_password",
    "vault_minio_root_password",
    "vault_mlflow_admin_password",
    "k3s_token",
]


@pytest.mark.parametrize("value", ["changeme", "CHANGE_ME", "password", "Secret", " changeme ", "<token>"])
@pytest.mark.parametrize("variable", SECRET_VARIABLES)
def test_placeholder_secret_is_rejected(sample, variable, value):
    sample["secrets"] = {variable: value}
    one_problem(sample, f"{variable}: is still a placeholder value", "ansible-vault")


@pytest.mark.parametrize("value", ["", "   ", None])
def test_empty_defined_secret_is_rejected(sample, value):
    sample["secrets"] = {"vault_postgres_password": value}
    one_problem(sample, "vault_postgres_password: is defined but empty", "remove the variable")


def test_real_secrets_pass_and_never_appear_in_messages(sample):
    real = "K10a8f3c9e1b2d4f6a7c8e9d0b1a2c3d4"
    sample["secrets"] = {"vault_k3s_token": real, "vault_postgres_password": "changeme"}
    result = run(sample)
    assert result.problems == [
        "vault_postgres_password: is still a placeholder value. Fix: set a real secret in your vault "
        "file (ansible-vault edit), or remove the variable so the secret is generated once into "
        "platform_secrets_dir"
    ]
    assert not any(real in line for line in result.problems + result.warnings)


def test_is_placeholder_keeps_real_values():
    assert not is_placeholder("correct-horse-battery-staple")
    assert not is_placeholder("passwords-are-long-here")


# --- reporting --------------------------------------------------------------


def test_every_problem_is_reported_at_once(sample):
    settings = sample["settings"]
    sample["agents"].append("k3s-server-3")
    sample["hosts"]["k3s-agent-2"] = "192.168.1.21"
    settings.update(
        k3s_version="v1.33.1",
        k3s_service_cidr="10.42.0.0/24",
        k3s_cni="weave",
        k3s_api_endpoint="10.9.9.9",
    )
    settings["metallb_address_pools"][0]["addresses"].append("192.168.1.300")
    settings["metallb_ip_reservations"]["minio"] = "192.168.1.200"
    sample["secrets"] = {"vault_minio_root_password": "changeme"}
    problems = run(sample).problems
    subjects = {p.split(":", 1)[0] for p in problems}
    assert {
        "k3s-server-3",
        "k3s-agent-1",
        "k3s-agent-2",
        "k3s_version",
        "k3s_service_cidr",
        "k3s_cni",
        "k3s_api_endpoint",
        "metallb_address_pools[platform]",
        "metallb_ip_reservations",
        "vault_minio_root_password",
    } <= subjects
    assert all(MESSAGE.match(p) for p in problems), problems
