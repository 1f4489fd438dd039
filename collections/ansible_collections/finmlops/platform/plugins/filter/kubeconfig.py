"""kubeconfig_merge filter for roles/k3s_server; the logic lives in module_utils.kubeconfig_merge."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.finmlops.platform.plugins.module_utils.kubeconfig_merge import (
    KubeconfigMergeError,
    merge_kubeconfig,
)


def kubeconfig_merge(existing: Any, new: Any, path: str = "~/.kube/config") -> dict:
    try:
        return merge_kubeconfig(existing or {}, new, path)
    except KubeconfigMergeError as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"kubeconfig_merge": kubeconfig_merge}
