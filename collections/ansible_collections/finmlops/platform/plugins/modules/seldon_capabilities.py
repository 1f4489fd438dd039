#!/usr/bin/python
"""Ansible module: fail when a Seldon Model's requirements match no Server."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: seldon_capabilities
short_description: Check that every Seldon Core v2 Model can be scheduled on a Server
description:
  - Reads Seldon Core v2 Model, Server and ServerConfig objects (given as documents and/or read from a
    render folder) and fails when a Model's C(spec.requirements) are not all in the capabilities of some
    Server in the Model's namespace (the scheduler's "no matching servers available").
  - The error names the model, the missing capabilities and the servers checked with their capabilities.
  - Runs on the controller; reads files only; never changes anything.
version_added: "0.1.0"
author: financial-mlops platform team
options:
  documents:
    description: Kubernetes objects (dicts) to check, e.g. the manifests about to be applied.
    type: list
    elements: raw
    default: []
  render_dir:
    description:
      - Folder whose C(*.yaml) files (recursively) are read in addition to O(documents), e.g. the render
        folder.
      - Ignored when it does not exist yet.
    type: path
  default_namespace:
    description: Namespace assumed for objects without C(metadata.namespace).
    type: str
    default: default
"""

EXAMPLES = r"""
- name: Check Model requirements against Server capabilities
  finmlops.platform.seldon_capabilities:
    documents: "{{ mlserver_manifests }}"
    render_dir: "{{ platform_render_dir }}"
"""

RETURN = r"""
models_checked:
  description: Models checked, as namespace/name.
  returned: always
  type: list
  elements: str
servers:
  description: Servers found with their effective capabilities and where they came from.
  returned: always
  type: list
  elements: dict
"""

import os

from ansible.module_utils.basic import AnsibleModule

try:
    import yaml

    HAS_YAML = True
except ImportError:  # pragma: no cover - PyYAML ships with ansible-core
    HAS_YAML = False

from ansible_collections.finmlops.platform.plugins.module_utils.seldon_capabilities import (
    check_documents,
)


def _read_dir(path):
    documents = []
    for root, _dirs, files in sorted(os.walk(path)):
        for name in sorted(files):
            if not name.endswith((".yaml", ".yml")) or name == "kustomization.yaml":
                continue
            with open(os.path.join(root, name), encoding="utf-8") as handle:
                documents.extend(d for d in yaml.safe_load_all(handle) if isinstance(d, dict))
    return documents


def main():
    module = AnsibleModule(
        argument_spec={
            "documents": {"type": "list", "elements": "raw", "default": []},
            "render_dir": {"type": "path"},
            "default_namespace": {"type": "str", "default": "default"},
        },
        supports_check_mode=True,
    )
    if not HAS_YAML:
        module.fail_json(msg="PyYAML is required on the controller (it ships with ansible-core)")
    documents = [d for d in module.params["documents"] if isinstance(d, dict)]
    render_dir = module.params["render_dir"]
    if render_dir and os.path.isdir(render_dir):
        documents.extend(_read_dir(render_dir))
    # The same object can come from both sources; keep the last copy.
    unique = {}
    for doc in documents:
        meta = doc.get("metadata") or {}
        unique[(doc.get("kind"), meta.get("namespace"), meta.get("name"))] = doc
    result = check_documents(list(unique.values()), module.params["default_namespace"])
    servers = [
        {"server": f"{s.namespace}/{s.name}", "capabilities": sorted(s.capabilities), "source": s.source}
        for s in result.servers
    ]
    if result.problems:
        module.fail_json(
            msg=" | ".join(p.message() for p in result.problems),
            models_checked=result.models_checked,
            servers=servers,
        )
    module.exit_json(changed=False, models_checked=result.models_checked, servers=servers)


if __name__ == "__main__":
    main()
