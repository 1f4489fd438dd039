"""Filters checking address ranges of the inventory; logic in module_utils.cidrs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible_collections.finmlops.platform.plugins.module_utils import cidrs


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"ipv4_cidr_problems": cidrs.ipv4_cidr_problems}
