#!/usr/bin/python
"""Ansible module: diagnose a cluster snapshot (thin wrapper over module_utils.doctor)."""

from __future__ import annotations

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.finmlops.platform.plugins.module_utils.doctor import has_errors, run
from ansible_collections.finmlops.platform.plugins.module_utils.doctor.finding import (
    count_by_severity,
    format_report,
)
from ansible_collections.finmlops.platform.plugins.module_utils.doctor.request import render_request
from ansible_collections.finmlops.platform.plugins.module_utils.doctor.snapshot import Snapshot, SnapshotError

DOCUMENTATION = r"""
module: cluster_doctor
short_description: Diagnose the platform's known failure modes from a snapshot of Kubernetes objects
description:
  - Runs the doctor (model not scheduled, scheduler/agent timeouts, storage errors, inference 404s,
    namespaces stuck terminating, LoadBalancer IP drift) on a saved snapshot file or on objects read live.
  - Never changes the cluster. Optionally writes the platform-team request document for findings that
    need cluster-admin rights.
options:
  snapshot_path:
    description:
      - Snapshot file (JSON or YAML, as written by playbooks/day2/snapshot.yml).
      - Exclusive with I(objects).
    type: path
  objects:
    description: Kubernetes objects as the API returns them (for example the resources of k8s_info).
    type: list
    elements: dict
  context:
    description:
      - Inventory expectations (metallb_ip_reservations, metallb_address_pools, k3s_version, expected_nodes).
        Non-empty values override the context saved in the snapshot.
    type: dict
    default: {}
  requests:
    description: Recorded inference requests ({method, path, headers, status}) to explain 404s.
    type: list
    elements: dict
    default: []
  request_path:
    description: When set, write the Markdown request for findings that need cluster-admin here (mode 0644).
    type: path
  cluster_name:
    description: Cluster name used in the request document.
    type: str
    default: financial-mlops
  requester:
    description: Who asks, in the request document.
    type: str
    default: platform operator
author: financial-mlops maintainers
"""

EXAMPLES = r"""
- name: Diagnose a saved snapshot
  finmlops.platform.cluster_doctor:
    snapshot_path: /tmp/cluster-snapshot.json
  register: doctor
"""

RETURN = r"""
findings:
  description:
    - Findings, worst first; each has id, severity, title, evidence, fix, needs_cluster_admin, objects.
  type: list
  returned: always
report:
  description: The findings as text lines for the operator.
  type: list
  returned: always
counts:
  description: Number of findings per severity (error, warning, info).
  type: dict
  returned: always
has_errors:
  description: True when a finding of severity error exists (doctor.yml then fails).
  type: bool
  returned: always
"""


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "snapshot_path": {"type": "path"},
            "objects": {"type": "list", "elements": "dict"},
            "context": {"type": "dict", "default": {}},
            "requests": {"type": "list", "elements": "dict", "default": []},
            "request_path": {"type": "path"},
            "cluster_name": {"type": "str", "default": "financial-mlops"},
            "requester": {"type": "str", "default": "platform operator"},
        },
        mutually_exclusive=[("snapshot_path", "objects")],
        required_one_of=[("snapshot_path", "objects")],
        supports_check_mode=True,
    )
    params = module.params
    try:
        if params["snapshot_path"]:
            snap = Snapshot.load(params["snapshot_path"])
        else:
            snap = Snapshot.from_document(
                {"objects": params["objects"], "source": "live cluster", "requests": params["requests"]}
            )
        if params["requests"] and params["snapshot_path"]:
            snap.requests = list(params["requests"])
        findings = run(snap, params["context"])
    except SnapshotError as exc:
        module.fail_json(msg=str(exc))
        return
    changed = False
    if params["request_path"]:
        text = render_request(
            findings, params["cluster_name"], params["requester"], snap.captured_at, snap.source
        )
        old = None
        if os.path.exists(params["request_path"]):
            with open(params["request_path"], encoding="utf-8") as handle:
                old = handle.read()
        if old != text:
            changed = True
            if not module.check_mode:
                with open(params["request_path"], "w", encoding="utf-8") as handle:
                    handle.write(text)
                os.chmod(params["request_path"], 0o644)
    module.exit_json(
        changed=changed,
        findings=[f.to_dict() for f in findings],
        report=format_report(findings),
        counts=count_by_severity(findings),
        has_errors=has_errors(findings),
        captured_at=snap.captured_at,
        source=snap.source,
    )


if __name__ == "__main__":
    main()
