#!/usr/bin/python
"""Ansible module: verify.yml's quick checks as one table (thin wrapper over doctor.verify)."""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.finmlops.platform.plugins.module_utils.doctor import expectations
from ansible_collections.finmlops.platform.plugins.module_utils.doctor.snapshot import Snapshot, SnapshotError
from ansible_collections.finmlops.platform.plugins.module_utils.doctor.verify import (
    FAIL,
    format_table,
    verify_rows,
)

DOCUMENTATION = r"""
module: cluster_verify
short_description: Compute the day-2 quick-check table from a snapshot
description:
  - CNI is Calico and TigeraStatus healthy, calico-node Ready on every node, LoadBalancer IPs inside the
    MetalLB pools and equal to their reservations, nodes Ready with the expected roles and k3s version,
    Seldon Server and Models Ready, Argo controller available, MLflow answering on its LoadBalancer IP.
  - Never changes anything; returns rows and the printed table.
options:
  snapshot_path:
    description: Saved snapshot file. Exclusive with I(objects).
    type: path
  objects:
    description: Kubernetes objects as the API returns them (already redacted).
    type: list
    elements: dict
  context:
    description: Expectations (metallb_ip_reservations, metallb_address_pools, k3s_version, expected_nodes).
    type: dict
    default: {}
  mlflow_probe:
    description:
      - Result of probing MLflow through its LoadBalancer IP ({url, status, msg}).
      - On a saved snapshot (I(snapshot_path)) the probe row is SKIP.
    type: dict
author: financial-mlops maintainers
"""

EXAMPLES = r"""
- name: Compute the table
  finmlops.platform.cluster_verify:
    objects: "{{ day2_collect_snapshot.objects }}"
    context: "{{ day2_collect_snapshot.context }}"
    mlflow_probe: {url: "http://192.168.1.200:5000/health", status: 200}
  register: verify
"""

RETURN = r"""
rows:
  description: One dict per check with check, target, state (OK, FAIL or SKIP) and detail.
  type: list
  returned: always
table:
  description: The rows as aligned text lines.
  type: list
  returned: always
failed_checks:
  description: Number of rows in state FAIL.
  type: int
  returned: always
"""


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "snapshot_path": {"type": "path"},
            "objects": {"type": "list", "elements": "dict"},
            "context": {"type": "dict", "default": {}},
            "mlflow_probe": {"type": "dict"},
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
            snap = Snapshot.from_document({"objects": params["objects"]})
    except SnapshotError as exc:
        module.fail_json(msg=str(exc))
        return
    context = expectations(snap, params["context"])
    rows = verify_rows(
        snap,
        reservations={str(k): str(v) for k, v in (context.get("metallb_ip_reservations") or {}).items()},
        pools=list(context.get("metallb_address_pools") or []),
        expected_nodes=dict(context.get("expected_nodes") or {}),
        k3s_version=str(context.get("k3s_version") or ""),
        mlflow_probe=params["mlflow_probe"],
        offline=bool(params["snapshot_path"]),
    )
    module.exit_json(
        changed=False,
        rows=rows,
        table=format_table(rows),
        failed_checks=sum(1 for r in rows if r["state"] == FAIL),
    )


if __name__ == "__main__":
    main()
