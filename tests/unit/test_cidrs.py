"""ipv4_cidr_problems: what may stand in loadBalancerSourceRanges and NetworkPolicy ipBlocks."""

from __future__ import annotations

import pytest
from ansible_collections.finmlops.platform.plugins.module_utils.cidrs import ipv4_cidr_problems


@pytest.mark.parametrize(
    "ranges",
    [["192.168.1.0/24"], ["10.0.0.0/8", "192.168.1.7/32", "0.0.0.0/0"], ["192.168.1.7/24"]],
    ids=["one", "several", "host-bits"],
)
def test_ipv4_cidrs_are_usable(ranges) -> None:
    assert ipv4_cidr_problems(ranges, "r") == []


@pytest.mark.parametrize(
    ("ranges", "bad_index"),
    [
        (["192.168.1.0/33"], 0),
        (["192.168.1.0"], 0),
        (["10/8"], 0),
        (["256.1.1.1/8"], 0),
        (["0.0.0.0/0 "], 0),
        (["10.0.0.0/8", "any"], 1),
        (["fd00::/8"], 0),
        ([24], 0),
    ],
    ids=["prefix-33", "no-prefix", "short-form", "octet-256", "trailing-space", "word", "ipv6", "number"],
)
def test_each_bad_entry_is_named(ranges, bad_index) -> None:
    problems = ipv4_cidr_problems(ranges, "mlflow_allowed_source_ranges")
    assert len(problems) == 1
    assert problems[0].startswith(f"mlflow_allowed_source_ranges[{bad_index}]: ")
    assert "not an IPv4 CIDR" in problems[0]


def test_an_empty_list_or_a_string_is_refused() -> None:
    assert "is empty" in ipv4_cidr_problems([], "r")[0]
    # A single string would otherwise be iterated character by character by a template loop.
    assert "must be a list" in ipv4_cidr_problems("10.0.0.0/8", "r")[0]
