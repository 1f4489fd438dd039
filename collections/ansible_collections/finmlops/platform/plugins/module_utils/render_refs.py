"""Cross-references over a whole render: what the objects name must exist.

A cluster accepts a Deployment whose Secret, ConfigMap, ServiceAccount or PVC
does not exist, then its pods never start; a Service that selects no pod
answers nothing; a webhook pointing at a missing Service blocks every write
of the kinds it intercepts. Each of those is found here, on the rendered
objects (ours and the expanded charts'), before anything is applied.

Objects a cluster creates by itself (a namespace's ``default``
ServiceAccount, the built-in PriorityClasses, k3s's ``local-path``
StorageClass, Secrets that controllers generate at run time) are declared by
the caller as provided outside the render, each with its reason.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.finmlops.platform.plugins.module_utils import seldon_capabilities
from ansible_collections.finmlops.platform.plugins.module_utils.netpol import selector_matches
from ansible_collections.finmlops.platform.plugins.module_utils.pod_templates import (
    PodTemplate,
    render_pod_templates,
)

_CLUSTER_SCOPED_TARGETS = {"StorageClass", "PriorityClass"}


@dataclass(frozen=True)
class Problem:
    ref: str
    path: str
    missing: str
    fix: str
    source: str = ""

    def __str__(self) -> str:
        return f"{self.ref} at {self.path}: {self.missing}; fix: {self.fix}"

    def as_dict(self) -> dict[str, str]:
        return {
            "object": self.ref,
            "path": self.path,
            "missing": self.missing,
            "fix": self.fix,
            "file": self.source,
        }


@dataclass
class Provided:
    """Objects the cluster has without the render (kind, namespace and name may be glob patterns)."""

    entries: list[Mapping[str, Any]] = field(default_factory=list)

    def covers(self, kind: str, namespace: str, name: str) -> bool:
        for entry in self.entries:
            names = entry.get("name", "*")
            names = names if isinstance(names, list) else [names]
            if (
                fnmatch.fnmatchcase(kind, str(entry.get("kind", "*")))
                and fnmatch.fnmatchcase(namespace, str(entry.get("namespace", "*")))
                and any(fnmatch.fnmatchcase(name, str(n)) for n in names)
            ):
                return True
        return False


def _ref(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace", "")
    return f"{obj.get('kind', '?')}/{ns + '/' if ns else ''}{meta.get('name', '?')}"


def _pod_references(template: PodTemplate) -> Iterator[tuple[str, str, str]]:
    """(kind, name, JSON path) of every object a pod spec needs."""
    spec = template.spec
    base = template.path
    sa = spec.get("serviceAccountName") or spec.get("serviceAccount")
    if sa:
        yield "ServiceAccount", sa, f"{base}.serviceAccountName"
    if spec.get("priorityClassName"):
        yield "PriorityClass", spec["priorityClassName"], f"{base}.priorityClassName"
    for index, secret in enumerate(spec.get("imagePullSecrets") or []):
        yield "Secret", secret.get("name", ""), f"{base}.imagePullSecrets[{index}].name"
    for index, volume in enumerate(spec.get("volumes") or []):
        where = f"{base}.volumes[{index}]"
        if "secret" in volume and not volume["secret"].get("optional"):
            yield "Secret", volume["secret"].get("secretName", ""), f"{where}.secret.secretName"
        if "configMap" in volume and not volume["configMap"].get("optional"):
            yield "ConfigMap", volume["configMap"].get("name", ""), f"{where}.configMap.name"
        if "persistentVolumeClaim" in volume:
            yield (
                "PersistentVolumeClaim",
                volume["persistentVolumeClaim"].get("claimName", ""),
                (f"{where}.persistentVolumeClaim.claimName"),
            )
        for sindex, source in enumerate((volume.get("projected") or {}).get("sources") or []):
            for key, kind in (("secret", "Secret"), ("configMap", "ConfigMap")):
                if key in source and not source[key].get("optional"):
                    yield kind, source[key].get("name", ""), f"{where}.projected.sources[{sindex}].{key}.name"
    for list_name in ("initContainers", "containers", "ephemeralContainers"):
        for cindex, container in enumerate(spec.get(list_name) or []):
            where = f"{base}.{list_name}[{cindex}]"
            for eindex, env in enumerate(container.get("env") or []):
                value_from = env.get("valueFrom") or {}
                for key, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
                    ref = value_from.get(key)
                    if ref and not ref.get("optional"):
                        yield kind, ref.get("name", ""), f"{where}.env[{eindex}].valueFrom.{key}.name"
            for eindex, env_from in enumerate(container.get("envFrom") or []):
                for key, kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
                    ref = env_from.get(key)
                    if ref and not ref.get("optional"):
                        yield kind, ref.get("name", ""), f"{where}.envFrom[{eindex}].{key}.name"


def _object_references(obj: Mapping[str, Any]) -> Iterator[tuple[str, str, str, str]]:
    """(kind, namespace, name, path) named by non-pod fields of ``obj``."""
    kind = obj.get("kind")
    api = str(obj.get("apiVersion", ""))
    ns = (obj.get("metadata") or {}).get("namespace", "")
    spec = obj.get("spec") or {}
    if kind == "PersistentVolumeClaim" and spec.get("storageClassName"):
        yield "StorageClass", "", spec["storageClassName"], "$.spec.storageClassName"
    if kind == "StatefulSet":
        for index, claim in enumerate(spec.get("volumeClaimTemplates") or []):
            name = (claim.get("spec") or {}).get("storageClassName")
            if name:
                yield "StorageClass", "", name, f"$.spec.volumeClaimTemplates[{index}].spec.storageClassName"
    if api.startswith("argoproj.io/"):
        wf = spec.get("workflowSpec", spec) if kind == "CronWorkflow" else spec
        base = "$.spec.workflowSpec" if kind == "CronWorkflow" else "$.spec"
        if wf.get("serviceAccountName"):
            yield "ServiceAccount", ns, wf["serviceAccountName"], f"{base}.serviceAccountName"
        for index, claim in enumerate(wf.get("volumeClaimTemplates") or []):
            name = (claim.get("spec") or {}).get("storageClassName")
            if name:
                yield "StorageClass", "", name, f"{base}.volumeClaimTemplates[{index}].spec.storageClassName"
    if api.startswith("mlops.seldon.io/") and kind == "Model" and spec.get("secretName"):
        yield "Secret", ns, spec["secretName"], "$.spec.secretName"
    if api.startswith("mlops.seldon.io/") and kind == "Server" and spec.get("serverConfig"):
        # The operator looks the ServerConfig up in the Server's namespace first, then its own.
        yield "ServerConfig", "*", spec["serverConfig"], "$.spec.serverConfig"
    if kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
        for index, hook in enumerate(obj.get("webhooks") or []):
            service = (hook.get("clientConfig") or {}).get("service")
            if service:
                yield (
                    "Service",
                    service.get("namespace", ""),
                    service.get("name", ""),
                    (f"$.webhooks[{index}].clientConfig.service"),
                )
    if kind == "APIService" and spec.get("service"):
        yield (
            "Service",
            spec["service"].get("namespace", ""),
            spec["service"].get("name", ""),
            "$.spec.service",
        )


def _fix(kind: str, namespace: str, name: str) -> str:
    where = f" in namespace {namespace}" if namespace else ""
    return (
        f"render a {kind} {name}{where} (or correct the name), or declare it in "
        "k8s_apply_provided_outside_render with the reason it exists without the render"
    )


def check_references(
    objects: Iterable[tuple[str, Mapping[str, Any]]],
    provided: Iterable[Mapping[str, Any]] = (),
) -> list[Problem]:
    """Every reference of every object, checked against the render plus ``provided``."""
    pairs = [(s, o) for s, o in objects if isinstance(o, Mapping)]
    outside = Provided(list(provided))
    present: set[tuple[str, str, str]] = set()
    for _, obj in pairs:
        meta = obj.get("metadata") or {}
        kind = str(obj.get("kind", ""))
        ns = "" if kind in _CLUSTER_SCOPED_TARGETS else meta.get("namespace", "")
        present.add((kind, ns, meta.get("name", "")))

    def exists(kind: str, namespace: str, name: str) -> bool:
        if namespace == "*":
            return any(k == kind and n == name for k, _, n in present) or outside.covers(kind, "*", name)
        return (kind, namespace, name) in present or outside.covers(kind, namespace, name)

    problems: list[Problem] = []
    pods = render_pod_templates(pairs)
    for template in pods:
        for kind, name, path in _pod_references(template):
            namespace = "" if kind in _CLUSTER_SCOPED_TARGETS else template.namespace
            if not exists(kind, namespace, name):
                shown = f"{namespace}/{name}" if namespace else name
                problems.append(
                    Problem(
                        template.ref,
                        path,
                        f"{kind} {shown} does not exist",
                        _fix(kind, namespace, name),
                        template.source,
                    )
                )
    for source, obj in pairs:
        ref = _ref(obj)
        for kind, namespace, name, path in _object_references(obj):
            if not exists(kind, namespace, name):
                shown = f"{namespace}/{name}" if namespace and namespace != "*" else name
                problems.append(
                    Problem(ref, path, f"{kind} {shown} does not exist", _fix(kind, namespace, name), source)
                )
    problems.extend(_service_selection(pairs, pods))
    for issue in seldon_capabilities.check_documents([o for _, o in pairs]).problems:
        problems.append(
            Problem(
                f"Model/{issue.model}",
                "$.spec.requirements",
                f"no Server capability for {', '.join(issue.missing)}",
                issue.message(),
            )
        )
    return problems


def _service_selection(pairs: list[tuple[str, Mapping[str, Any]]], pods: list[PodTemplate]) -> list[Problem]:
    problems: list[Problem] = []
    for source, obj in pairs:
        if obj.get("kind") != "Service" or obj.get("apiVersion") != "v1":
            continue
        selector = (obj.get("spec") or {}).get("selector")
        if not selector:  # no selector: endpoints are managed by hand or by a controller
            continue
        ns = (obj.get("metadata") or {}).get("namespace", "default")
        if not any(
            t.namespace == ns and selector_matches({"matchLabels": selector}, pod_labels(t)) for t in pods
        ):
            problems.append(
                Problem(
                    _ref(obj),
                    "$.spec.selector",
                    f"no pod template in namespace {ns} has the labels {dict(selector)}",
                    "make spec.selector match the pod template labels of the pods it serves",
                    source,
                )
            )
    return problems


def pod_labels(template: PodTemplate) -> dict[str, str]:
    return dict((template.metadata or {}).get("labels") or {})


def image_problems(
    objects: Iterable[tuple[str, Mapping[str, Any]]], unpullable: Iterable[Mapping[str, str]]
) -> list[Problem]:
    """Images matching an unpullable rule ({prefix, fix}): nodes cannot get them."""
    rules = list(unpullable)
    problems: list[Problem] = []
    for template in render_pod_templates(objects):
        for list_name in ("initContainers", "containers", "ephemeralContainers"):
            for index, container in enumerate(template.spec.get(list_name) or []):
                image = str(container.get("image", ""))
                for rule in rules:
                    if image.startswith(rule["prefix"]):
                        problems.append(
                            Problem(
                                template.ref,
                                f"{template.path}.{list_name}[{index}].image",
                                f"image {image} cannot be pulled by the nodes ({rule['prefix']}...)",
                                rule["fix"],
                                template.source,
                            )
                        )
    return problems
