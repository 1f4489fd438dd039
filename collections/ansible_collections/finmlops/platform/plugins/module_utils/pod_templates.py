"""Pod templates of a render: every pod spec a cluster would admit, as it would see it.

Built-in workloads carry their pod template. Pods that controllers create
from custom resources are built the way those controllers build them:

- Argo: one pod per container/script template of a WorkflowTemplate,
  CronWorkflow or Workflow, in the object's namespace, with the workflow's
  pod-level settings and podSpecPatch, the workflow controller's
  ``workflowDefaults`` and ``mainContainer`` defaults (from its ConfigMap in
  the render), the executor's ``init``/``wait`` containers, and the label
  ``workflows.argoproj.io/workflow``.
- Seldon: a Server's pods are its ServerConfig's podSpec overlaid by the
  Server's podSpec, in the Server's namespace, labelled ``app=seldon-server``
  and ``seldon-server-name``; each component of the SeldonConfig a
  SeldonRuntime uses becomes pods ``app=<component>`` in the runtime's namespace.
  ServerConfig and SeldonConfig themselves are templates, not pods.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

ARGO_WORKFLOW_LABEL = "workflows.argoproj.io/workflow"
ARGO_CONTROLLER_CONFIGMAP = "workflow-controller-configmap"
_ARGO_KINDS = ("WorkflowTemplate", "ClusterWorkflowTemplate", "Workflow", "CronWorkflow")


@dataclass(frozen=True)
class PodTemplate:
    """A pod spec found in an object of the render."""

    namespace: str
    ref: str  # kind/namespace/name of the owning object
    path: str  # JSON path of the pod spec inside the object
    spec: Mapping[str, Any]
    metadata: Mapping[str, Any]
    source: str = ""


def _ref(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace", "")
    return f"{obj.get('kind', '?')}/{ns + '/' if ns else ''}{meta.get('name', '?')}"


def _merge(base: Any, patch: Any) -> Any:
    """Strategic-merge-like overlay good enough for a podSpecPatch: maps merge, containers merge by name."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            out[key] = _merge(base.get(key), value) if key in base else value
        return out
    named = isinstance(base, list) and isinstance(patch, list)
    if named and all(isinstance(i, dict) and "name" in i for i in base + patch):
        merged = {i["name"]: i for i in base}
        for item in patch:
            merged[item["name"]] = _merge(merged.get(item["name"], {}), item)
        return list(merged.values())
    return patch


def _argo_templates(
    obj: Mapping[str, Any], spec: Mapping[str, Any], base_path: str, ctx: RenderContext
) -> Iterator[PodTemplate]:
    """One pod per template that runs a container, as the workflow controller builds it."""
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace", "default")
    # workflowDefaults: the Workflow's own spec wins over the controller's defaults.
    spec = _merge(dict((ctx.argo_config.get("workflowDefaults") or {}).get("spec") or {}), dict(spec))
    pod_level = {
        k: spec[k]
        for k in (
            "securityContext",
            "hostNetwork",
            "volumes",
            "serviceAccountName",
            "automountServiceAccountToken",
        )
        if k in spec
    }
    main_defaults = ctx.argo_config.get("mainContainer") or {}
    executor = ctx.argo_config.get("executor") or {}
    wf_patch = spec.get("podSpecPatch")
    for index, tmpl in enumerate(spec.get("templates") or []):
        body = next((tmpl[k] for k in ("container", "script") if k in tmpl), None)
        if body is None:
            continue
        container = _merge(dict(main_defaults), {k: v for k, v in body.items() if k != "source"})
        container["name"] = "main"
        pod: dict[str, Any] = dict(pod_level)
        if "securityContext" in tmpl:
            pod["securityContext"] = tmpl["securityContext"]
        if "volumes" in tmpl:
            pod["volumes"] = list(pod.get("volumes") or []) + list(tmpl["volumes"])
        sidecars = [dict(c) for c in tmpl.get("sidecars") or []]
        inits = [dict(c) for c in tmpl.get("initContainers") or []]
        if executor:
            # The executor's init (artifacts in) and wait (outputs, results) containers.
            inits.insert(0, {**executor, "name": "init"})
            sidecars.insert(0, {**executor, "name": "wait"})
        pod["containers"] = [container, *sidecars]
        if inits:
            pod["initContainers"] = inits
        for patch in (wf_patch, tmpl.get("podSpecPatch")):
            if isinstance(patch, str) and "{{" not in patch:
                pod = _merge(pod, yaml.safe_load(patch) or {})
        # The controller labels every step pod with its workflow's name.
        labels = {
            **((spec.get("podMetadata") or {}).get("labels") or {}),
            **((tmpl.get("metadata") or {}).get("labels") or {}),
            ARGO_WORKFLOW_LABEL: meta.get("name", ""),
        }
        yield PodTemplate(
            namespace,
            _ref(obj) + f" template {tmpl.get('name', index)}",
            f"{base_path}.templates[{index}]",
            pod,
            {**(tmpl.get("metadata") or {}), "labels": labels},
        )


def _seldon_pods(obj: Mapping[str, Any], ctx: RenderContext) -> Iterator[PodTemplate]:
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace", "default")
    spec = obj.get("spec") or {}
    if obj.get("kind") == "Server":
        config = ctx.server_configs.get(spec.get("serverConfig", "")) or {}
        pod = _merge(dict((config.get("spec") or {}).get("podSpec") or {}), dict(spec.get("podSpec") or {}))
        labels = {"app": "seldon-server", "seldon-server-name": meta.get("name", "")}
        yield PodTemplate(
            namespace, _ref(obj), "$.spec.podSpec (merged with its ServerConfig)", pod, {"labels": labels}
        )
    if obj.get("kind") == "SeldonRuntime":
        config = ctx.seldon_configs.get(spec.get("seldonConfig", "")) or {}
        for index, component in enumerate((config.get("spec") or {}).get("components") or []):
            name = component.get("name", "")
            yield PodTemplate(
                namespace,
                f"{_ref(obj)} component {name}",
                f"SeldonConfig/{spec.get('seldonConfig')} $.spec.components[{index}].podSpec",
                component.get("podSpec") or {},
                {"labels": {"app": name}},
            )


def pod_templates(
    obj: Mapping[str, Any], source: str = "", ctx: RenderContext | None = None
) -> list[PodTemplate]:
    """Every pod spec ``obj`` makes a cluster run (empty for kinds that make none)."""
    ctx = ctx or RenderContext()
    kind = obj.get("kind")
    api = str(obj.get("apiVersion", ""))
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace", "default")
    spec = obj.get("spec") or {}
    found: list[PodTemplate] = []

    def add(path: str, pod_spec: Any, pod_meta: Any) -> None:
        if isinstance(pod_spec, Mapping):
            found.append(PodTemplate(namespace, _ref(obj), path, pod_spec, pod_meta or {}))

    if kind == "Pod" and api == "v1":
        add("$.spec", spec, meta)
    elif kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController"):
        tmpl = spec.get("template") or {}
        add("$.spec.template.spec", tmpl.get("spec"), tmpl.get("metadata"))
    elif kind == "CronJob":
        tmpl = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
        add("$.spec.jobTemplate.spec.template.spec", tmpl.get("spec"), tmpl.get("metadata"))
    elif api.startswith("argoproj.io/") and kind in _ARGO_KINDS:
        inner, path = (
            (spec.get("workflowSpec") or {}, "$.spec.workflowSpec")
            if kind == "CronWorkflow"
            else (spec, "$.spec")
        )
        found.extend(_argo_templates(obj, inner, path, ctx))
    elif api.startswith("mlops.seldon.io/"):
        found.extend(_seldon_pods(obj, ctx))
    return [PodTemplate(t.namespace, t.ref, t.path, t.spec, t.metadata, source) for t in found]


@dataclass
class RenderContext:
    """What controllers read when they build pods: Argo's controller config, Seldon's configs."""

    argo_config: dict[str, Any] = field(default_factory=dict)
    server_configs: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    seldon_configs: dict[str, Mapping[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_objects(cls, objects: Iterable[Mapping[str, Any]]) -> RenderContext:
        ctx = cls()
        for obj in objects:
            kind, api = obj.get("kind"), str(obj.get("apiVersion", ""))
            name = (obj.get("metadata") or {}).get("name", "")
            if kind == "ConfigMap" and name.endswith(ARGO_CONTROLLER_CONFIGMAP):
                config = yaml.safe_load(((obj.get("data") or {}).get("config")) or "") or {}
                if isinstance(config, dict):
                    ctx.argo_config = config
            if api.startswith("mlops.seldon.io/") and kind == "ServerConfig":
                ctx.server_configs[name] = obj
            if api.startswith("mlops.seldon.io/") and kind == "SeldonConfig":
                ctx.seldon_configs[name] = obj
        return ctx


def render_pod_templates(objects: Iterable[tuple[str, Mapping[str, Any]]]) -> list[PodTemplate]:
    """Every pod template of a render, controller-built ones included."""
    pairs = list(objects)
    ctx = RenderContext.from_objects(o for _, o in pairs)
    return [t for source, obj in pairs for t in pod_templates(obj, source, ctx)]
