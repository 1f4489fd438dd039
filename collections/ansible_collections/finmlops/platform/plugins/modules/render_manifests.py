#!/usr/bin/python
"""Ansible module: write a component's manifests into the render folder (thin wrapper)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: render_manifests
short_description: Write Kubernetes manifests as files named in apply order
description:
  - Writes each manifest of I(manifests) to I(dest)/<index>-<kind>-<name>.yaml, in one task, so that the
    sorted file list is the apply order.
  - Secret values are replaced by a marker before anything is written; keys are kept.
  - A file is rewritten only when its content differs, so re-rendering reports no change.
  - Used by the k8s_apply role in render mode; runs on the controller.
options:
  dest:
    description: Folder of the component (created when missing).
    type: path
    required: true
  manifests:
    description:
      - Complete Kubernetes objects, in apply order.
      - Pass Secrets already redacted (filter C(finmlops.platform.redact_secret)) so that values never
        reach the module arguments; the module redacts again before writing.
    type: list
    elements: dict
    required: true
author:
  - financial-mlops contributors
"""

EXAMPLES = r"""
- name: Render the manifests of a component
  finmlops.platform.render_manifests:
    dest: build/manifests/20-metallb
    manifests: "{{ metallb_manifests }}"
"""

RETURN = r"""
files:
  description: Absolute paths of all files of this component, in apply order.
  returned: always
  type: list
  elements: str
written:
  description: Files whose content (or mode) changed in this run.
  returned: always
  type: list
  elements: str
"""

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    from ansible_collections.finmlops.platform.plugins.module_utils.manifest_render import write_manifests

    IMPORT_ERROR = None
except ImportError:
    IMPORT_ERROR = traceback.format_exc()


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "dest": {"type": "path", "required": True},
            "manifests": {"type": "list", "elements": "dict", "required": True},
        },
        supports_check_mode=False,
    )
    if IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib("PyYAML"), exception=IMPORT_ERROR)
    try:
        files, written = write_manifests(module.params["dest"], module.params["manifests"])
    except OSError as exc:
        module.fail_json(msg=f"cannot write manifests into {module.params['dest']}: {exc}")
    module.exit_json(changed=bool(written), files=files, written=written)


if __name__ == "__main__":
    main()
