"""k3s upgrades: the version-jump rule and the system-upgrade-controller Plans.

Kubernetes supports upgrading one minor at a time (the version skew policy),
so both upgrade methods refuse a target more than one minor ahead of a node's
running version, and a change of major version. The Plans upgrade the
servers first, one at a time, then the agents one at a time (the agent Plan
waits for the server Plan with a ``prepare`` step), all pinned to the target
release and to the rancher/k3s-upgrade image the controller tags with that release.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_TAG = re.compile(r"^v(\d+)\.(\d+)\.(\d+)\+k3s(\d+)$")
UPGRADE_IMAGE = "rancher/k3s-upgrade"
SERVER_PLAN = "k3s-server"
AGENT_PLAN = "k3s-agent"


class UpgradeError(ValueError):
    """Bad version input; the message says what and how to fix it."""


def parse_tag(tag: str, what: str = "k3s_version") -> tuple[int, int, int, int]:
    match = _TAG.match(str(tag).strip())
    if not match:
        raise UpgradeError(f"{what} {tag!r} is not a k3s release tag vX.Y.Z+k3sN (e.g. v1.33.1+k3s1)")
    major, minor, patch, build = (int(g) for g in match.groups())
    return major, minor, patch, build


def jump_problems(running: Iterable[tuple[str, str]], target: str) -> list[str]:
    """One message per node (name, running version) the target is too far from."""
    t_major, t_minor, *_ = parse_tag(target)
    problems = []
    for node, version in running:
        major, minor, *_ = parse_tag(version, f"the running version of {node}")
        if major != t_major or t_minor - minor > 1:
            problems.append(
                f"{node}: runs {version}; {target} is more than one minor ahead. Fix: upgrade to "
                f"v{major}.{minor + 1}.x first (Kubernetes upgrades one minor at a time), then to {target}"
            )
    return problems


def upgrade_plans(
    version: str, namespace: str = "system-upgrade", service_account: str = "system-upgrade"
) -> list:
    """The server Plan, then the agent Plan, for ``version`` (concurrency 1 each)."""
    parse_tag(version)
    image = UPGRADE_IMAGE
    common: dict[str, Any] = {
        "concurrency": 1,
        "serviceAccountName": service_account,
        "upgrade": {"image": image},
        "version": version,
    }
    server = {
        "apiVersion": "upgrade.cattle.io/v1",
        "kind": "Plan",
        "metadata": {
            "name": SERVER_PLAN,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/part-of": "k3s-upgrade"},
        },
        "spec": {
            **common,
            "cordon": True,
            "nodeSelector": {
                "matchExpressions": [
                    {"key": "node-role.kubernetes.io/control-plane", "operator": "In", "values": ["true"]}
                ]
            },
            "tolerations": [{"operator": "Exists"}],
        },
    }
    agent = {
        "apiVersion": "upgrade.cattle.io/v1",
        "kind": "Plan",
        "metadata": {
            "name": AGENT_PLAN,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/part-of": "k3s-upgrade"},
        },
        "spec": {
            **common,
            "nodeSelector": {
                "matchExpressions": [
                    {"key": "node-role.kubernetes.io/control-plane", "operator": "DoesNotExist"}
                ]
            },
            # Waits until every server runs the version of the server Plan. The
            # controller tags both images with the Plan's version itself.
            "prepare": {"image": image, "args": ["prepare", SERVER_PLAN]},
            "drain": {"force": True, "skipWaitForDeleteTimeout": 60},
        },
    }
    return [server, agent]
