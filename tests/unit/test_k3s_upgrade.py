"""Version-jump rule and system-upgrade-controller Plans (module_utils/k3s_upgrade.py).

No pinned Plan CRD schema exists in ../shared/schemas, so the Plans'
structure is checked here field by field (the fields system-upgrade-controller
reads) instead of against a schema.
"""

from __future__ import annotations

import pytest
from ansible_collections.finmlops.platform.plugins.module_utils.k3s_upgrade import (
    UpgradeError,
    jump_problems,
    upgrade_plans,
)

# The Plan spec fields system-upgrade-controller reads that the Plans use.
PLAN_SPEC_FIELDS = {
    "concurrency", "cordon", "drain", "nodeSelector", "prepare",
    "serviceAccountName", "tolerations", "upgrade", "version",
}  # fmt: skip


@pytest.mark.parametrize(
    ("running", "target"),
    [("v1.33.1+k3s1", "v1.33.2+k3s1"), ("v1.32.5+k3s1", "v1.33.1+k3s1"), ("v1.33.1+k3s1", "v1.33.1+k3s1")],
)
def test_patch_and_one_minor_are_allowed(running: str, target: str) -> None:
    assert jump_problems([("k3s-server-1", running)], target) == []


@pytest.mark.parametrize("running", ["v1.31.4+k3s1", "v0.33.1+k3s1"])
def test_more_than_one_minor_or_another_major_is_refused(running: str) -> None:
    problems = jump_problems([("k3s-agent-1", running), ("k3s-server-1", "v1.33.0+k3s1")], "v1.33.1+k3s1")
    assert len(problems) == 1
    assert problems[0].startswith(
        f"k3s-agent-1: runs {running}; v1.33.1+k3s1 is more than one minor ahead. Fix:"
    )


def test_bad_tags_are_named() -> None:
    with pytest.raises(UpgradeError, match=r"k3s_version 'latest' is not a k3s release tag"):
        jump_problems([], "latest")
    with pytest.raises(UpgradeError, match=r"the running version of n1 'v1\.33' is not"):
        jump_problems([("n1", "v1.33")], "v1.33.1+k3s1")


def test_plans_upgrade_servers_then_agents_one_node_at_a_time() -> None:
    server, agent = upgrade_plans("v1.33.2+k3s1")
    for plan in (server, agent):
        assert (plan["apiVersion"], plan["kind"]) == ("upgrade.cattle.io/v1", "Plan")
        assert plan["metadata"]["namespace"] == "system-upgrade"
        spec = plan["spec"]
        assert spec["concurrency"] == 1
        assert spec["version"] == "v1.33.2+k3s1"  # pinned: never a channel
        assert "channel" not in spec
        assert spec["upgrade"] == {"image": "rancher/k3s-upgrade"}
        assert spec["serviceAccountName"] == "system-upgrade"
        assert set(spec) <= PLAN_SPEC_FIELDS
    assert server["spec"]["nodeSelector"]["matchExpressions"] == [
        {"key": "node-role.kubernetes.io/control-plane", "operator": "In", "values": ["true"]}
    ]
    assert server["spec"]["cordon"] is True
    assert agent["spec"]["nodeSelector"]["matchExpressions"] == [
        {"key": "node-role.kubernetes.io/control-plane", "operator": "DoesNotExist"}
    ]
    # The agents wait for the server Plan to finish.
    assert agent["spec"]["prepare"] == {
        "image": "rancher/k3s-upgrade",
        "args": ["prepare", server["metadata"]["name"]],
    }
    assert agent["spec"]["drain"]["force"] is True


def test_plans_refuse_a_bad_version() -> None:
    with pytest.raises(UpgradeError):
        upgrade_plans("v1.33.2")
