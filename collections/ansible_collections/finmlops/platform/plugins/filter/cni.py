"""Filters for the calico role and migrate-cni.yml; the logic lives in module_utils.cni."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.finmlops.platform.plugins.module_utils import cni


def _operator_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn CniError into a task failure that shows only the message."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except cni.CniError as exc:
            raise AnsibleFilterError(str(exc)) from exc

    return wrapper


def _parse_marker(text: str | None, host: str) -> dict[str, Any] | None:
    return cni.parse_marker(text, host)


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        funcs = {
            "calico_mtu": cni.calico_mtu,
            "calico_bgp": cni.calico_bgp,
            "calico_ippool_drift": cni.ippool_drift,
            "calico_pool_input_problems": cni.pool_input_problems,
            "flannel_network": cni.flannel_network,
            "cni_pod_cidr_problems": cni.pod_cidr_problems,
            "cni_host_state": cni.host_cni,
            "cni_cluster_state": cni.cluster_cni,
            "cni_marker_parse": _parse_marker,
            "cni_next_step": cni.next_step,
            "cni_step_done": cni.step_done,
            "cni_record_step": cni.record_step,
            "cni_completed_in_run": cni.completed_in_run,
            "cni_pods_to_restart": cni.pods_to_restart,
            "cni_switch_times": cni.switch_times,
        }
        return {name: _operator_errors(func) for name, func in funcs.items()}
