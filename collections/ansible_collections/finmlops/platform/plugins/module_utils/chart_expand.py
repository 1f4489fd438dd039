"""Expand the k3s HelmChart resources of a render with Helm's own engine, offline.

k3s's helm-controller turns each ``helm.cattle.io/v1`` HelmChart into
``helm install <metadata.name> <chart> --namespace <spec.targetNamespace>
--version <spec.version>`` with ``spec.valuesContent`` as the values file and
``spec.set`` as ``--set`` overrides. This module does the same from a local
chart folder (``<charts_dir>/<chart>-<version>``, e.g. ../shared/charts or the
archives `make charts` downloads), through the Go Helm SDK of the PyPI
package ``helm-python-sdk`` (import ``helm_python``), so that the render shows
the objects a cluster would really run.

What ``helm install`` does beyond a template render is reproduced: the
chart's ``crds/`` files come first (templates do not contain them), then the
objects in Helm's install order. Hooks that run at install (pre-/post-install)
are kept in their place; test hooks and hooks that only run on delete,
upgrade or rollback are left out because an install never creates them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# The C loader: the Calico and Seldon CRDs are megabytes of YAML.
_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
CHART_DIR_ENV = "FINMLOPS_CHART_DIR"
# Annotation on every expanded object: which chart (name-version) it comes from.
CHART_ANNOTATION = "finmlops.io/rendered-from-chart"
RELEASE_ANNOTATION = "finmlops.io/helm-release"

# Helm's install order (pkg/release/util/kind_sorter.go); other kinds go last.
INSTALL_ORDER = (
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
)
_INSTALL_HOOKS = {"pre-install", "post-install"}
_HOOK = "helm.sh/hook"


class ChartError(Exception):
    """A chart cannot be found or rendered; the message says what to do."""


@dataclass
class Release:
    """What helm-controller would install for one HelmChart resource."""

    chart: str
    version: str
    name: str
    namespace: str
    values: dict[str, Any]
    source: str = ""

    @property
    def label(self) -> str:
        return f"{self.chart}-{self.version}"


@dataclass
class Expansion:
    release: Release
    objects: list[dict[str, Any]] = field(default_factory=list)
    skipped_hooks: list[str] = field(default_factory=list)


def default_chart_dir() -> str:
    """$FINMLOPS_CHART_DIR, else ../shared/charts beside the project root."""
    env = os.environ.get(CHART_DIR_ENV)
    if env:
        return env
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").is_file() and (parent / "collections").is_dir():
            return str(parent.parent / "shared" / "charts")
    return str(Path.cwd().parent / "shared" / "charts")


def _set_path(values: dict[str, Any], dotted: str, value: Any) -> None:
    node = values
    parts = dotted.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[parts[-1]] = value


def release_for(helmchart: Mapping[str, Any], source: str = "") -> Release:
    """The release helm-controller makes of a HelmChart: name, namespace, values."""
    meta = helmchart.get("metadata") or {}
    spec = helmchart.get("spec") or {}
    name = meta.get("name")
    if not spec.get("chart") or not spec.get("version") or not name:
        raise ChartError(
            f"HelmChart {meta.get('namespace', '')}/{name} in {source}: spec.chart, spec.version and "
            "metadata.name are needed to expand it offline (pin the chart version)."
        )
    try:
        values = yaml.safe_load(spec.get("valuesContent") or "") or {}
    except yaml.YAMLError as exc:
        raise ChartError(f"HelmChart {name} in {source}: spec.valuesContent is not YAML: {exc}") from exc
    if not isinstance(values, dict):
        raise ChartError(f"HelmChart {name} in {source}: spec.valuesContent must be a mapping")
    for key in sorted(spec.get("set") or {}):
        _set_path(values, key, spec["set"][key])
    return Release(
        chart=str(spec["chart"]),
        version=str(spec["version"]),
        name=str(name),
        namespace=str(spec.get("targetNamespace") or meta.get("namespace") or "default"),
        values=values,
        source=source,
    )


def chart_path(charts_dir: str | os.PathLike[str], release: Release) -> Path:
    path = Path(charts_dir) / release.label
    if not (path / "Chart.yaml").is_file():
        raise ChartError(
            f"chart {release.chart} {release.version} (HelmChart {release.name} in {release.source}) is not "
            f"in {charts_dir}: expected {path}/Chart.yaml. Run `make charts` to download the pinned charts, "
            f"or point {CHART_DIR_ENV} at a folder with <chart>-<version> sub-folders."
        )
    return path


# Helm splits a rendered template into documents with this pattern (releaseutil
# SplitManifests) before applying it, so "---apiVersion: ..." (a template that
# trimmed the newline after its separator) still starts a new document.
_SEPARATOR = re.compile(r"(?:^|\s*\n)---\s*")


def _load_all(text: str, where: str, helm_split: bool = True) -> list[dict[str, Any]]:
    try:
        return [
            d
            for part in (_SEPARATOR.split(text) if helm_split else [text])
            for d in yaml.load_all(part, Loader=_LOADER)
            if isinstance(d, dict) and d
        ]
    except yaml.YAMLError as exc:
        raise ChartError(f"{where}: the chart rendered invalid YAML: {exc}") from exc


def _order_key(obj: Mapping[str, Any]) -> tuple[int, str, str]:
    kind = str(obj.get("kind", ""))
    rank = INSTALL_ORDER.index(kind) if kind in INSTALL_ORDER else len(INSTALL_ORDER)
    return rank, kind, str((obj.get("metadata") or {}).get("name", ""))


def _hook_phase(obj: Mapping[str, Any]) -> set[str]:
    raw = ((obj.get("metadata") or {}).get("annotations") or {}).get(_HOOK, "")
    return {h.strip() for h in str(raw).split(",") if h.strip()}


def _hook_weight(obj: Mapping[str, Any]) -> int:
    raw = ((obj.get("metadata") or {}).get("annotations") or {}).get("helm.sh/hook-weight", "0")
    try:
        return int(raw)
    except ValueError:
        return 0


def _mark(obj: dict[str, Any], release: Release) -> dict[str, Any]:
    meta = obj.setdefault("metadata", {})
    annotations = meta.get("annotations") or {}
    meta["annotations"] = {
        **annotations,
        CHART_ANNOTATION: release.label,
        RELEASE_ANNOTATION: f"{release.namespace}/{release.name}",
    }
    return obj


def _namespaced_kinds(objects: list[dict[str, Any]]) -> set[str]:
    """Kinds defined as cluster-scoped by CRDs of this expansion (others default to the release namespace)."""
    return {
        ((o.get("spec") or {}).get("names") or {}).get("kind", "")
        for o in objects
        if o.get("kind") == "CustomResourceDefinition" and (o.get("spec") or {}).get("scope") == "Cluster"
    }


_CLUSTER_SCOPED = {
    "Namespace",
    "PriorityClass",
    "PodSecurityPolicy",
    "StorageClass",
    "PersistentVolume",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleBinding",
    "IngressClass",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "CSIDriver",
    "RuntimeClass",
}


def render_release(release: Release, chart_root: Path, engine: Any = None) -> Expansion:
    """Objects of one release in install order (CRDs, pre-install hooks, objects, post-install hooks)."""
    if engine is None:
        try:
            import helm_python as engine
        except ImportError as exc:
            raise ChartError(
                "the Python package helm-python-sdk (import helm_python) is needed to expand charts; "
                "install the project's controller dependencies (`make setup`)"
            ) from exc
    expansion = Expansion(release)
    try:
        chart = engine.Chart.load(str(chart_root))
        # As `helm install`: values checked against values.schema.json, crds/ of
        # the chart and its subcharts applied first, then the templates.
        chart.validate_schema(release.values)
        crds: list[dict[str, Any]] = []
        for crd in chart.crds:
            where = f"{release.label} {crd.get('filename', crd.get('name'))}"
            # crds/ files are applied by a plain YAML decoder, not split by Helm.
            crds.extend(_load_all(crd["data"], where, helm_split=False))
        rendered = chart.render(
            values=release.values, name=release.name, namespace=release.namespace, is_install=True
        )
    except ChartError:
        raise
    except Exception as exc:  # the SDK raises its own error types (HelmRenderError, HelmValuesError...)
        raise ChartError(
            f"Helm could not render {release.label} for HelmChart {release.name} ({release.source}): {exc}. "
            "Check spec.valuesContent of that HelmChart against the chart's values."
        ) from exc
    pre: list[dict[str, Any]] = []
    main: list[dict[str, Any]] = []
    post: list[dict[str, Any]] = []
    for template in sorted(rendered):
        if not template.endswith((".yaml", ".yml", ".json", ".tpl")) or template.endswith("NOTES.txt"):
            continue
        for obj in _load_all(rendered[template], f"{release.label} {template}"):
            hooks = _hook_phase(obj)
            if hooks and not hooks & _INSTALL_HOOKS:
                expansion.skipped_hooks.append(
                    f"{obj.get('kind')}/{obj['metadata'].get('name')} ({template})"
                )
                continue
            (pre if "pre-install" in hooks else post if hooks else main).append(obj)
    cluster_kinds = _CLUSTER_SCOPED | _namespaced_kinds(crds + main)
    objects = (
        crds
        + sorted(pre, key=lambda o: (_hook_weight(o), *_order_key(o)))
        + sorted(main, key=_order_key)
        + sorted(post, key=lambda o: (_hook_weight(o), *_order_key(o)))
    )
    for obj in objects:
        meta = obj.setdefault("metadata", {})
        # Helm sets the release namespace on namespaced objects that name none.
        if obj.get("kind") not in cluster_kinds and not meta.get("namespace"):
            meta["namespace"] = release.namespace
        expansion.objects.append(_mark(obj, release))
    return expansion


def folder_name(component_folder: str, release: Release) -> str:
    """Render sub-folder of a release: sorts right after the component that holds its HelmChart."""
    return f"{component_folder}-chart-{release.name}-{release.version}"
