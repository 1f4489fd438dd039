"""Filters for the metallb role and the NodePort migration; logic in module_utils.metallb."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.finmlops.platform.plugins.module_utils import metallb


def _operator_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except metallb.MetallbError as exc:
            raise AnsibleFilterError(str(exc)) from exc

    return wrapper


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        funcs = {
            "metallb_pool_problems": metallb.pool_problems,
            "metallb_reservation_problems": metallb.reservation_problems,
            "metallb_endpoints_ready": metallb.endpoints_ready,
            "metallb_to_loadbalancer": metallb.to_loadbalancer,
            "metallb_services_to_loadbalancer": metallb.services_to_loadbalancer,
        }
        return {name: _operator_errors(func) for name, func in funcs.items()}
