"""Filters of the destructive runbooks; the logic lives in module_utils.data_safety."""

from __future__ import annotations

from ansible_collections.finmlops.platform.plugins.module_utils.data_safety import (
    decide,
    node_local_volumes,
)


class FilterModule:
    def filters(self):
        return {
            "data_safety_decision": decide,
            "node_local_volumes": node_local_volumes,
        }
