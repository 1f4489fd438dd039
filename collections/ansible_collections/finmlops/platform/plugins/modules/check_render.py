#!/usr/bin/python
"""Ansible module: judge a render as a cluster would and summarise it (thin wrapper)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: check_render
short_description: Pod Security, references, images and network flows over a whole render, with a summary
description:
  - Loads every manifest under I(path) (our objects and expanded chart output).
  - Simulates Pod Security admission (v1.33 baseline/restricted) for every pod template with the level its
    namespace enforces; checks that every Secret, ConfigMap, ServiceAccount, PVC, StorageClass and
    PriorityClass a workload names exists (or is in I(provided)), that Services select pods, webhooks point
    at Services, Models meet a Server's capabilities, and that no image matches I(unpullable_images);
    evaluates the required I(flows) against the NetworkPolicies on the real pod labels.
  - Fails listing every problem (object, field path, what is missing, how to fix) unless I(fail_on_problems)
    is false. Never changes anything.
options:
  path:
    description: Render folders or files.
    type: list
    elements: path
    required: true
  exclude:
    description: File name patterns to skip (e.g. kustomization.yaml).
    type: list
    elements: str
    default: []
  provided:
    description: Objects that exist without the render - items {kind, namespace, name, reason}; globs allowed.
    type: list
    elements: dict
    default: []
  unpullable_images:
    description: Image rules the nodes cannot pull - items {prefix, fix}.
    type: list
    elements: dict
    default: []
  flows:
    description: >-
      Required flows - items {name, from, to, port, protocol}; an end is {name, namespace, labels, has_labels}
      (pods) or {name, cidr} (clients outside the pod network).
    type: list
    elements: dict
    default: []
  known_problems:
    description: >-
      Temporary list of reference problems reported but not failed - items {object, path, missing, reason}.
    type: list
    elements: dict
    default: []
  started_at:
    description: Epoch seconds when the render started; the summary prints the wall time since.
    type: float
  fail_on_problems:
    description: Fail when any problem is found.
    type: bool
    default: true
author:
  - financial-mlops contributors
"""

EXAMPLES = r"""
- name: Judge the render
  finmlops.platform.check_render:
    path: [build/manifests]
    exclude: [kustomization.yaml]
"""

RETURN = r"""
summary:
  description: Lines of the human summary.
  returned: always
  type: list
  elements: str
problems:
  description: Every problem, one line each.
  returned: always
  type: list
  elements: str
levels:
  description: Enforced Pod Security level per namespace.
  returned: always
  type: dict
images:
  description: Image -> objects using it.
  returned: always
  type: dict
"""

import time
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    from ansible_collections.finmlops.platform.plugins.module_utils.render_report import (
        check_render,
        load_render,
        problem_lines,
        summary_lines,
    )

    IMPORT_ERROR = None
except ImportError:
    IMPORT_ERROR = traceback.format_exc()


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "list", "elements": "path", "required": True},
            "exclude": {"type": "list", "elements": "str", "default": []},
            "provided": {"type": "list", "elements": "dict", "default": []},
            "unpullable_images": {"type": "list", "elements": "dict", "default": []},
            "flows": {"type": "list", "elements": "dict", "default": []},
            "known_problems": {"type": "list", "elements": "dict", "default": []},
            "started_at": {"type": "float"},
            "fail_on_problems": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    if IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib("PyYAML"), exception=IMPORT_ERROR)
    params = module.params
    try:
        objects = load_render(params["path"], params["exclude"])
        report = check_render(
            objects,
            params["provided"],
            params["unpullable_images"],
            params["flows"],
            params["known_problems"],
        )
    except (FileNotFoundError, ValueError, KeyError) as exc:
        module.fail_json(msg=f"cannot check the render: {exc}")
    seconds = time.time() - params["started_at"] if params["started_at"] else None
    result = {
        "changed": False,
        "summary": summary_lines(report, seconds),
        "problems": problem_lines(report),
        "levels": report.levels,
        "images": report.images,
        "wall_time": seconds,
    }
    if report.failed and params["fail_on_problems"]:
        lines = "\n".join(f"  - {p}" for p in result["problems"])
        module.fail_json(
            msg=f"the render would not run as rendered ({len(result['problems'])} problems):\n{lines}",
            **result,
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
