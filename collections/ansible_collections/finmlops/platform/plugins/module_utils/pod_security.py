"""Pod Security admission, simulated offline (Pod Security Standards, Kubernetes v1.33).

The API server's PodSecurity admission checks every pod against the level its
namespace enforces (label ``pod-security.kubernetes.io/enforce``; ``privileged``
when the label is absent, the built-in default). Workload controllers' pods are
refused at creation, so a Deployment whose template breaks the level is
accepted and then never gets a pod: this module judges the pod templates of a
render the same way, field by field, with the controls of the published
standard (baseline, then restricted on top of it).

Pod templates are found in the built-in workload kinds and in the custom
resources that carry pod specs (Argo WorkflowTemplate/CronWorkflow/Workflow
templates with their pod-level securityContext and podSpecPatch, Seldon
Server/ServerConfig podSpec).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ansible_collections.finmlops.platform.plugins.module_utils.pod_templates import (
    PodTemplate,
    render_pod_templates,
)

ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
LEVELS = ("privileged", "baseline", "restricted")
DEFAULT_LEVEL = "privileged"

# Baseline: capabilities a container may add (the default container runtime set).
BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
# Baseline: namespaced, isolated ("safe") sysctls.
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})
APPARMOR_TYPES = frozenset({"RuntimeDefault", "Localhost"})
SECCOMP_TYPES = frozenset({"RuntimeDefault", "Localhost"})
# Restricted: the only volume sources allowed.
RESTRICTED_VOLUMES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


@dataclass(frozen=True)
class Violation:
    namespace: str
    level: str
    ref: str
    container: str
    field: str
    message: str
    fix: str
    source: str = ""

    def __str__(self) -> str:
        where = f" container {self.container}" if self.container else ""
        return (
            f"{self.ref}{where} (namespace {self.namespace} enforces {self.level}): "
            f"{self.field}: {self.message}; fix: {self.fix}"
        )

    def as_dict(self) -> dict[str, str]:
        return {
            "namespace": self.namespace,
            "level": self.level,
            "object": self.ref,
            "container": self.container,
            "field": self.field,
            "message": self.message,
            "fix": self.fix,
            "file": self.source,
        }


def _containers(pod: Mapping[str, Any]) -> Iterator[tuple[str, int, Mapping[str, Any]]]:
    for list_name in _CONTAINER_LISTS:
        for index, container in enumerate(pod.get(list_name) or []):
            if isinstance(container, Mapping):
                yield list_name, index, container


def _check_baseline(pod: Mapping[str, Any], meta: Mapping[str, Any]) -> Iterator[tuple[str, str, str, str]]:
    """(container, field, message, fix) for each baseline control broken."""
    psc = pod.get("securityContext") or {}
    if (psc.get("windowsOptions") or {}).get("hostProcess"):
        yield "", "securityContext.windowsOptions.hostProcess", "HostProcess pods are not allowed", "unset it"
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(field):
            yield "", field, "host namespaces are not allowed", f"remove {field} (or false)"
    for index, volume in enumerate(pod.get("volumes") or []):
        if "hostPath" in volume:
            yield (
                "",
                f"volumes[{index}].hostPath",
                f"hostPath volume {volume.get('name')!r} is not allowed",
                "use a PVC, emptyDir or configMap instead",
            )
    for index, sysctl in enumerate(psc.get("sysctls") or []):
        if sysctl.get("name") not in SAFE_SYSCTLS:
            yield (
                "",
                f"securityContext.sysctls[{index}]",
                f"sysctl {sysctl.get('name')!r} is not safe",
                "drop it",
            )
    yield from _check_profiles("", "securityContext", psc)
    for key, value in (meta.get("annotations") or {}).items():
        if key.startswith("container.apparmor.security.beta.kubernetes.io/") and not (
            value == "runtime/default" or str(value).startswith("localhost/")
        ):
            yield "", f"metadata.annotations[{key}]", f"AppArmor profile {value!r}", "runtime/default"
    for list_name, index, container in _containers(pod):
        name = str(container.get("name", index))
        where = f"{list_name}[{index}]"
        csc = container.get("securityContext") or {}
        if (csc.get("windowsOptions") or {}).get("hostProcess"):
            yield name, f"{where}.securityContext.windowsOptions.hostProcess", "HostProcess", "unset it"
        if csc.get("privileged"):
            yield (
                name,
                f"{where}.securityContext.privileged",
                "privileged containers are not allowed",
                ("remove privileged: true (grant only the capabilities needed)"),
            )
        extra = sorted(set((csc.get("capabilities") or {}).get("add") or []) - BASELINE_CAPABILITIES)
        if extra:
            yield (
                name,
                f"{where}.securityContext.capabilities.add",
                f"adds {', '.join(extra)}",
                ("add only capabilities of the baseline set"),
            )
        for pindex, port in enumerate(container.get("ports") or []):
            if port.get("hostPort"):
                yield (
                    name,
                    f"{where}.ports[{pindex}].hostPort",
                    "host ports are not allowed",
                    "remove hostPort",
                )
        if csc.get("procMount") not in (None, "Default"):
            yield name, f"{where}.securityContext.procMount", f"procMount {csc['procMount']}", "Default"
        yield from _check_profiles(name, f"{where}.securityContext", csc)


def _check_profiles(name: str, where: str, sc: Mapping[str, Any]) -> Iterator[tuple[str, str, str, str]]:
    apparmor = (sc.get("appArmorProfile") or {}).get("type")
    if apparmor is not None and apparmor not in APPARMOR_TYPES:
        yield name, f"{where}.appArmorProfile.type", f"AppArmor {apparmor}", "RuntimeDefault or Localhost"
    selinux = sc.get("seLinuxOptions") or {}
    if selinux.get("type", "") not in SELINUX_TYPES:
        yield name, f"{where}.seLinuxOptions.type", f"SELinux type {selinux['type']}", "container_t or unset"
    for key in ("user", "role"):
        if selinux.get(key):
            yield name, f"{where}.seLinuxOptions.{key}", "custom SELinux user/role", f"unset {key}"
    seccomp = (sc.get("seccompProfile") or {}).get("type")
    if seccomp is not None and seccomp not in SECCOMP_TYPES:
        yield name, f"{where}.seccompProfile.type", f"seccomp {seccomp}", "RuntimeDefault or Localhost"


def _check_restricted(pod: Mapping[str, Any]) -> Iterator[tuple[str, str, str, str]]:
    psc = pod.get("securityContext") or {}
    for index, volume in enumerate(pod.get("volumes") or []):
        kinds = sorted(set(volume) - {"name"})
        bad = [k for k in kinds if k not in RESTRICTED_VOLUMES]
        if bad:
            yield (
                "",
                f"volumes[{index}].{bad[0]}",
                f"volume type {bad[0]} of {volume.get('name')!r}",
                ("use configMap, secret, emptyDir, projected, downwardAPI, csi, ephemeral or a PVC"),
            )
    pod_non_root = psc.get("runAsNonRoot")
    pod_seccomp = (psc.get("seccompProfile") or {}).get("type")
    if psc.get("runAsUser") == 0:
        yield "", "securityContext.runAsUser", "runs as UID 0", "a non-zero runAsUser"
    for list_name, index, container in _containers(pod):
        name = str(container.get("name", index))
        where = f"{list_name}[{index}].securityContext"
        csc = container.get("securityContext") or {}
        if csc.get("allowPrivilegeEscalation") is not False:
            yield (
                name,
                f"{where}.allowPrivilegeEscalation",
                "must be false",
                "allowPrivilegeEscalation: false",
            )
        non_root = csc.get("runAsNonRoot", pod_non_root)
        if non_root is not True:
            yield (
                name,
                f"{where}.runAsNonRoot",
                "must be true (here or in the pod securityContext)",
                ("runAsNonRoot: true"),
            )
        if csc.get("runAsUser") == 0:
            yield name, f"{where}.runAsUser", "runs as UID 0", "a non-zero runAsUser"
        seccomp = (csc.get("seccompProfile") or {}).get("type", pod_seccomp)
        if seccomp not in SECCOMP_TYPES:
            yield (
                name,
                f"{where}.seccompProfile.type",
                "must be RuntimeDefault or Localhost (here or on the pod)",
                ("seccompProfile: {type: RuntimeDefault}"),
            )
        caps = csc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            yield name, f"{where}.capabilities.drop", "must drop ALL", "capabilities: {drop: [ALL]}"
        extra = sorted(set(caps.get("add") or []) - {"NET_BIND_SERVICE"})
        if extra:
            yield name, f"{where}.capabilities.add", f"adds {', '.join(extra)}", "add only NET_BIND_SERVICE"


def check_pod(template: PodTemplate, level: str) -> list[Violation]:
    """Violations of ``level`` by one pod template (none for privileged)."""
    if level not in LEVELS:
        raise ValueError(f"unknown Pod Security level {level!r} for namespace {template.namespace}")
    found: list[tuple[str, str, str, str]] = []
    if level in ("baseline", "restricted"):
        found.extend(_check_baseline(template.spec, template.metadata))
    if level == "restricted":
        found.extend(_check_restricted(template.spec))
    return [
        Violation(template.namespace, level, template.ref, c, f"{template.path}.{f}", m, fix, template.source)
        for c, f, m, fix in found
    ]


def namespace_levels(objects: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Enforced level of each Namespace in the render."""
    levels: dict[str, str] = {}
    for obj in objects:
        if obj.get("kind") == "Namespace" and obj.get("apiVersion") == "v1":
            meta = obj.get("metadata") or {}
            levels[meta.get("name", "")] = (meta.get("labels") or {}).get(ENFORCE_LABEL, DEFAULT_LEVEL)
    return levels


def check_objects(
    objects: Iterable[tuple[str, Mapping[str, Any]]],
) -> tuple[dict[str, str], list[Violation], int]:
    """(levels per namespace, violations, number of pod templates) over (source, object) pairs."""
    pairs = list(objects)
    levels = namespace_levels(obj for _, obj in pairs)
    violations: list[Violation] = []
    templates = render_pod_templates(pairs)
    for template in templates:
        violations.extend(check_pod(template, levels.get(template.namespace, DEFAULT_LEVEL)))
    return levels, violations, len(templates)


def describe(violations: Iterable[Violation]) -> str:
    return "\n".join(f"  - {v}" for v in violations) or "  (none)"
