#!/usr/bin/python
"""Ansible module: expand the rendered k3s HelmCharts with Helm's engine (thin wrapper)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: expand_charts
short_description: Expand the HelmChart resources of a render into the objects helm-controller would install
description:
  - Reads the C(helm.cattle.io/v1) HelmChart objects among I(files), and renders each chart from
    I(charts_dir)/<chart>-<version> with Helm's Go engine (PyPI package helm-python-sdk), with the values,
    release name (metadata.name) and namespace (spec.targetNamespace) helm-controller would use.
  - Writes the chart's CRDs and objects in install order under I(render_root), in a folder named
    <component folder>-chart-<release>-<version> that sorts right after the component holding the
    HelmChart; every object carries the annotation C(finmlops.io/rendered-from-chart).
  - Secret values are redacted before writing; files are rewritten only when their content changes.
  - No network and no cluster are needed.
options:
  render_root:
    description: The render folder.
    type: path
    required: true
  files:
    description: Files of the render to search for HelmChart objects (the component files of this run).
    type: list
    elements: path
    required: true
  charts_dir:
    description: >-
      Folder with one <chart>-<version> sub-folder per pinned chart ($FINMLOPS_CHART_DIR, ../shared/charts).
    type: path
author:
  - financial-mlops contributors
"""

EXAMPLES = r"""
- name: Expand the charts of the render
  finmlops.platform.expand_charts:
    render_root: build/manifests
    files: "{{ k8s_apply_rendered_files }}"
    charts_dir: ../shared/charts
"""

RETURN = r"""
files:
  description: Every file written for chart output in this run (changed or not).
  returned: always
  type: list
  elements: str
written:
  description: Files whose content changed.
  returned: always
  type: list
  elements: str
releases:
  description: One entry per HelmChart - chart, version, release, namespace, folder, objects, skipped_hooks.
  returned: always
  type: list
  elements: dict
"""

import traceback
from pathlib import Path

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    import yaml
    from ansible_collections.finmlops.platform.plugins.module_utils.chart_expand import (
        ChartError,
        chart_path,
        default_chart_dir,
        folder_name,
        release_for,
        render_release,
    )
    from ansible_collections.finmlops.platform.plugins.module_utils.manifest_render import write_manifests

    IMPORT_ERROR = None
except ImportError:
    IMPORT_ERROR = traceback.format_exc()


def _helmcharts(files: list[str]) -> list[tuple[str, dict]]:
    found = []
    for name in sorted(files):
        if "-helmchart-" not in Path(name).name:
            continue
        with open(name, encoding="utf-8") as handle:
            for doc in yaml.safe_load_all(handle):
                if isinstance(doc, dict) and doc.get("kind") == "HelmChart":
                    found.append((name, doc))
    return found


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "render_root": {"type": "path", "required": True},
            "files": {"type": "list", "elements": "path", "required": True},
            "charts_dir": {"type": "path"},
        },
        supports_check_mode=False,
    )
    if IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib("PyYAML"), exception=IMPORT_ERROR)
    root = Path(module.params["render_root"])
    charts_dir = module.params["charts_dir"] or default_chart_dir()
    all_files: list[str] = []
    written: list[str] = []
    releases = []
    try:
        for source, helmchart in _helmcharts(module.params["files"]):
            release = release_for(helmchart, source)
            expansion = render_release(release, chart_path(charts_dir, release))
            folder = root / folder_name(Path(source).parent.name, release)
            files, changed = write_manifests(folder, expansion.objects)
            all_files.extend(files)
            written.extend(changed)
            releases.append(
                {
                    "chart": release.chart,
                    "version": release.version,
                    "release": release.name,
                    "namespace": release.namespace,
                    "folder": str(folder),
                    "objects": len(expansion.objects),
                    "skipped_hooks": expansion.skipped_hooks,
                }
            )
    except ChartError as exc:
        module.fail_json(msg=str(exc), files=all_files, written=written, releases=releases)
    except OSError as exc:
        module.fail_json(msg=f"cannot write chart output under {root}: {exc}")
    module.exit_json(changed=bool(written), files=all_files, written=written, releases=releases)


if __name__ == "__main__":
    main()
