#!/usr/bin/python
"""Ansible module: validate Kubernetes manifests offline (thin wrapper)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: validate_manifests
short_description: Validate Kubernetes manifests against Kubernetes v1.33 and pinned CRD schemas
description:
  - Validates every document of the given files/folders, or of the given in-memory documents.
  - Built-in kinds are checked with the strict Kubernetes schemas bundled with kubernetes-validate;
    custom resources (Calico, MetalLB, Seldon Core v2, Argo Workflows, k3s HelmChart) against the pinned
    CRD schemas in I(schema_dir). CRDs among the inputs are honoured too.
  - Strict, as the API server with strict field validation - unknown fields, wrong types, missing
    required fields and unknown apiVersion/kind are errors.
  - All errors are reported at once, each with file, document index, kind/namespace/name and JSON path.
  - Runs on the controller; never contacts a cluster.
options:
  path:
    description: Files or folders to validate (folders are searched recursively for .yaml, .yml, .json).
    type: list
    elements: path
  documents:
    description: Manifests given as data (mutually exclusive with I(path)).
    type: list
    elements: raw
  exclude:
    description: File-name glob patterns to skip (matched against the name and the full path).
    type: list
    elements: str
    default: []
  schema_dir:
    description:
      - Folder holding the pinned CRD schemas.
      - Defaults to the environment variable C(FINMLOPS_SCHEMA_DIR),
        else C(../shared/schemas) beside the project.
    type: path
  kubernetes_version:
    description: Kubernetes minor version of the built-in schemas.
    type: str
    default: "1.33"
  strict:
    description: Reject unknown fields. Turning this off is only for diagnosing third-party manifests.
    type: bool
    default: true
  fail_on_error:
    description: Fail the task when any document is invalid (otherwise only report).
    type: bool
    default: true
author:
  - financial-mlops contributors
"""

EXAMPLES = r"""
- name: Validate a GitOps folder
  finmlops.platform.validate_manifests:
    path:
      - /srv/gitops/clusters/prod

- name: Validate manifests built in memory before applying them
  finmlops.platform.validate_manifests:
    documents: "{{ my_manifests }}"
"""

RETURN = r"""
documents:
  description: Number of documents validated.
  returned: always
  type: int
kinds:
  description: Number of documents per kind.
  returned: always
  type: dict
errors:
  description: Every error found.
  returned: always
  type: list
  elements: dict
  contains:
    file: {description: File (or <memory>), type: str}
    document: {description: Index of the document in the file, type: int}
    object: {description: kind/namespace/name, type: str}
    path: {description: JSON path of the offending field, type: str}
    message: {description: What is wrong, type: str}
summary:
  description: One-line summary.
  returned: always
  type: str
"""

import os
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    from ansible_collections.finmlops.platform.plugins.module_utils.manifest_validation import (
        validate_objects,
        validate_paths,
    )

    IMPORT_ERROR = None
except ImportError:
    IMPORT_ERROR = traceback.format_exc()


def _origin(source: str) -> str:
    """Chart output (render folders <component>-chart-<release>-<version>) is upstream's, not ours."""
    folder = os.path.basename(os.path.dirname(source))
    if "-chart-" in folder:
        return f"upstream chart {folder.split('-chart-', 1)[1]} (fix in our values if they cause it): "
    return ""


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "list", "elements": "path"},
            "documents": {"type": "list", "elements": "raw"},
            "exclude": {"type": "list", "elements": "str", "default": []},
            "schema_dir": {"type": "path"},
            "kubernetes_version": {"type": "str", "default": "1.33"},
            "strict": {"type": "bool", "default": True},
            "fail_on_error": {"type": "bool", "default": True},
        },
        mutually_exclusive=[("path", "documents")],
        required_one_of=[("path", "documents")],
        supports_check_mode=True,
    )
    if IMPORT_ERROR:
        module.fail_json(
            msg=missing_required_lib("PyYAML, jsonschema and kubernetes-validate"), exception=IMPORT_ERROR
        )
    params = module.params
    try:
        if params["path"] is not None:
            report = validate_paths(
                params["path"],
                params["schema_dir"],
                params["exclude"],
                params["kubernetes_version"],
                params["strict"],
            )
        else:
            report = validate_objects(
                params["documents"], params["schema_dir"], params["kubernetes_version"], params["strict"]
            )
    except (FileNotFoundError, ValueError) as exc:
        module.fail_json(msg=str(exc))
    result = {
        "changed": False,
        "documents": report.documents,
        "kinds": report.by_kind,
        "errors": [e.as_dict() for e in report.errors],
        "summary": report.summary(),
    }
    if report.errors and params["fail_on_error"]:
        lines = "\n".join(f"  - {_origin(e.source)}{e}" for e in report.errors)
        module.fail_json(msg=f"manifest validation failed: {report.summary()}\n{lines}", **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
