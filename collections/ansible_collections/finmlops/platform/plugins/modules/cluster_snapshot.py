#!/usr/bin/python
"""Ansible module: build a redacted cluster snapshot and optionally save it (0600)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.finmlops.platform.plugins.module_utils.redact import redact_snapshot

DOCUMENTATION = r"""
module: cluster_snapshot
short_description: Build a redacted snapshot document from Kubernetes objects and optionally save it
description:
  - Takes the objects read with kubernetes.core.k8s_info, redacts every Secret value (keys and format
    facts are kept), scrubs annotations that embed objects (last-applied-configuration) and credential-like
    env values, and returns the snapshot document the doctor reads.
  - Run it with C(no_log=true) on the task, because its input holds Secret values; its output does not.
options:
  objects:
    description: Kubernetes objects as the API returns them.
    type: list
    elements: dict
    required: true
  context:
    description:
      - Inventory expectations saved with the snapshot.
      - Keys metallb_ip_reservations, metallb_address_pools, k3s_version, expected_nodes.
    type: dict
    default: {}
  requests:
    description: Recorded inference requests to keep in the snapshot.
    type: list
    elements: dict
    default: []
  source:
    description: Where the objects come from (cluster name, kubeconfig context).
    type: str
    default: live cluster
  path:
    description: Write the snapshot here as JSON, mode 0600. Omit to only return it.
    type: path
author: financial-mlops maintainers
"""

EXAMPLES = r"""
- name: Save a redacted snapshot
  finmlops.platform.cluster_snapshot:
    objects: "{{ raw_objects }}"
    path: /tmp/snapshot.json
  no_log: true
"""

RETURN = r"""
snapshot:
  description: The redacted snapshot document {captured_at, source, context, objects, requests, redacted}.
  type: dict
  returned: always
object_count:
  description: Number of objects in the snapshot.
  type: int
  returned: always
"""


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "objects": {"type": "list", "elements": "dict", "required": True},
            "context": {"type": "dict", "default": {}},
            "requests": {"type": "list", "elements": "dict", "default": []},
            "source": {"type": "str", "default": "live cluster"},
            "path": {"type": "path"},
        },
        supports_check_mode=True,
    )
    params = module.params
    snapshot = redact_snapshot(
        {
            "captured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "source": params["source"],
            "context": params["context"],
            "objects": params["objects"],
            "requests": params["requests"],
        }
    )
    changed = False
    if params["path"] and not module.check_mode:
        # Created 0600 from the start: even redacted, a snapshot maps the whole platform.
        descriptor = os.open(params["path"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(snapshot, handle, indent=1, sort_keys=False)
        os.chmod(params["path"], 0o600)
        changed = True
    module.exit_json(
        changed=changed, snapshot=snapshot, object_count=len(snapshot["objects"]), path=params["path"]
    )


if __name__ == "__main__":
    main()
