"""Filters over Kubernetes objects; the logic lives in module_utils.k8s_objects."""

from __future__ import annotations

from ansible_collections.finmlops.platform.plugins.module_utils.k8s_objects import (
    object_ref,
    poll_retries,
    redact_secret,
    resource_ready,
)


class FilterModule:
    def filters(self):
        return {
            "redact_secret": redact_secret,
            "resource_ready": resource_ready,
            "object_ref": object_ref,
            "poll_retries": poll_retries,
        }
