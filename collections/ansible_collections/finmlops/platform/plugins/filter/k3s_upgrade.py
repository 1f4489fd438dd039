"""Filters for upgrade-k3s.yml and roles/k3s_upgrade_plan; the logic lives in module_utils.k3s_upgrade."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.finmlops.platform.plugins.module_utils import k3s_upgrade


def _filter_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except k3s_upgrade.UpgradeError as exc:
            raise AnsibleFilterError(str(exc)) from exc

    return wrapper


@_filter_errors
def k3s_version_jump_problems(running: dict[str, str], target: str) -> list[str]:
    """``running`` maps node name to its running version."""
    return k3s_upgrade.jump_problems(sorted((running or {}).items()), target)


@_filter_errors
def k3s_upgrade_plans(
    version: str, namespace: str = "system-upgrade", service_account: str = "system-upgrade"
) -> list:
    return k3s_upgrade.upgrade_plans(version, namespace, service_account)


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "k3s_version_jump_problems": k3s_version_jump_problems,
            "k3s_upgrade_plans": k3s_upgrade_plans,
        }
