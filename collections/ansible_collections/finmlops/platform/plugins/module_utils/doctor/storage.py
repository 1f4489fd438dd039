"""Storage errors: wrong MLflow/MinIO addresses, broken Secrets, bad storageUri.

Clients reach MLflow (5000) and MinIO (9000) by service DNS name, the
Service's ClusterIP, or its reserved LoadBalancer IP; an address pinned to
anything else (typically an old LoadBalancer IP after IP churn) times out.
Secrets must carry the keys the platform's workloads read, with values that
are valid base64 (``data``) and no trailing newline (``echo`` without ``-n``).
Seldon downloads ``spec.storageUri`` with rclone as a directory: it must name
the model directory (holding model-settings.json and the artifacts), not a
file inside it or a bare bucket.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

from ansible_collections.finmlops.platform.plugins.module_utils.doctor.finding import Finding
from ansible_collections.finmlops.platform.plugins.module_utils.doctor.snapshot import (
    MLFLOW_NS,
    Snapshot,
    name_of,
    namespace_of,
    ref,
)
from ansible_collections.finmlops.platform.plugins.module_utils.redact import parse_marker

# Secret name -> keys the platform's workloads read (namespace: mlflow unless noted).
REQUIRED_SECRET_KEYS: dict[str, list[str]] = {
    "mlflow-postgres": ["username", "password"],
    "minio-root": ["rootUser", "rootPassword"],
    "mlflow-s3": ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
}
# Service name -> port clients use.
STORAGE_SERVICES = {"mlflow": 5000, "minio": 9000}
KNOWN_BUCKETS = {"mlflow-artifacts", "argo-artifacts"}
_FILE_SUFFIX = re.compile(r"\.(pt|pth|pkl|joblib|onnx|json|bin|h5|safetensors|yaml|yml|txt)$", re.I)
_URL = re.compile(r"\b(?:https?|s3)://[^\s\"',]+")


def _walk_strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk_strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk_strings(item, f"{path}[{index}]")


def _service_addresses(snap: Snapshot, name: str, reservations: dict[str, str]) -> tuple[set[str], set[str]]:
    """Acceptable hosts for a service, and the set of its current LB IPs."""
    hosts = {name, f"{name}.{MLFLOW_NS}", f"{name}.{MLFLOW_NS}.svc", f"{name}.{MLFLOW_NS}.svc.cluster.local"}
    lb_ips: set[str] = set()
    service = snap.get("Service", MLFLOW_NS, name)
    if service is not None:
        if (service.get("spec") or {}).get("clusterIP"):
            hosts.add(service["spec"]["clusterIP"])
        for ingress in ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
            if ingress.get("ip"):
                lb_ips.add(ingress["ip"])
    if reservations.get(name):
        hosts.add(reservations[name])
    return hosts | lb_ips, lb_ips


def _address_findings(snap: Snapshot, reservations: dict[str, str]) -> list[Finding]:
    findings = []
    scanned_kinds = ("ConfigMap", "Deployment", "StatefulSet", "WorkflowTemplate", "CronWorkflow", "Workflow")
    for service, port in STORAGE_SERVICES.items():
        accepted, lb_ips = _service_addresses(snap, service, reservations)
        reserved = reservations.get(service)
        if reserved and lb_ips and reserved not in lb_ips:
            findings.append(
                Finding(
                    id="storage-service-ip-not-reserved",
                    severity="error",
                    title=f"{service} LoadBalancer IP {sorted(lb_ips)} is not its reservation {reserved}",
                    evidence=[
                        f"Service/{MLFLOW_NS}/{service} status.loadBalancer.ingress={sorted(lb_ips)}",
                        f"inventory metallb_ip_reservations.{service}={reserved}",
                    ],
                    fix=(
                        f"kubectl -n {MLFLOW_NS} annotate service {service} "
                        f"metallb.io/loadBalancerIPs={reserved} "
                        "--overwrite  (the mlflow role sets this annotation; re-run it to keep it)"
                    ),
                    needs_cluster_admin=False,
                    objects=[f"Service/{MLFLOW_NS}/{service}"],
                )
            )
        for kind in scanned_kinds:
            for obj in snap.of_kind(kind):
                for path, text in _walk_strings(
                    obj.get("spec") if kind != "ConfigMap" else obj.get("data"),
                    "spec" if kind != "ConfigMap" else "data",
                ):
                    for url in _URL.findall(text):
                        parsed = urlparse(url)
                        if parsed.scheme not in ("http", "https") or parsed.port != port:
                            continue
                        host = parsed.hostname or ""
                        if not re.fullmatch(r"[0-9.]+", host) or host in accepted:
                            continue
                        good = reserved or f"{service}.{MLFLOW_NS}.svc.cluster.local"
                        findings.append(
                            Finding(
                                id="storage-client-wrong-address",
                                severity="error",
                                title=(
                                    f"{ref(obj)} points at {service} through {host}, which is "
                                    f"not {service}'s address"
                                ),
                                evidence=[
                                    f"{ref(obj)} {path} contains {url}",
                                    f"Service/{MLFLOW_NS}/{service} answers on "
                                    f"{sorted(a for a in accepted if a[0].isdigit())}"
                                    f" and by DNS name {service}.{MLFLOW_NS}.svc.cluster.local",
                                ],
                                fix=(
                                    f"Replace {parsed.scheme}://{host}:{port} with "
                                    f"http://{service}.{MLFLOW_NS}.svc.cluster.local:{port} in "
                                    f"{ref(obj)} {path} "
                                    "(in-cluster clients should use the DNS name; outside clients "
                                    "the reserved "
                                    f"IP {good}) and re-run the role that renders it."
                                ),
                                objects=[ref(obj)],
                            )
                        )
    return findings


def value_problems(raw: Any, in_data: bool) -> list[str]:
    """Format problems of one Secret value (raw or a redaction marker)."""
    marker = parse_marker(raw)
    if marker is not None:
        problems = []
        if marker.get("base64") == "invalid":
            problems.append("is not valid base64")
        if marker.get("empty") == "yes":
            problems.append("is empty")
        if marker.get("trailing-newline") == "yes":
            problems.append("ends with a newline/whitespace (created with echo without -n?)")
        return problems
    text = str(raw)
    if in_data:
        try:
            decoded = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return ["is not valid base64"]
        if not decoded:
            return ["is empty"]
        if decoded != decoded.rstrip():
            return ["ends with a newline/whitespace (created with echo without -n?)"]
        return []
    if not text:
        return ["is empty"]
    return ["ends with a newline/whitespace (created with echo without -n?)"] if text != text.rstrip() else []


def _secret_findings(snap: Snapshot) -> list[Finding]:
    findings = []
    if "Secret" not in snap.kinds():
        return findings
    for name, keys in REQUIRED_SECRET_KEYS.items():
        secret = snap.get("Secret", MLFLOW_NS, name)
        if secret is None:
            findings.append(
                Finding(
                    id="storage-secret-missing",
                    severity="error",
                    title=f"Secret {MLFLOW_NS}/{name} is missing",
                    evidence=[f"no Secret/{MLFLOW_NS}/{name} in the snapshot; required keys: {keys}"],
                    fix="Re-run the mlflow role (it creates the Secret from platform_secrets): "
                    "ansible-playbook site.yml --tags mlflow",
                    objects=[f"Secret/{MLFLOW_NS}/{name}"],
                )
            )
            continue
        values = {**(secret.get("stringData") or {}), **(secret.get("data") or {})}
        missing = [k for k in keys if k not in values]
        evidence = []
        if missing:
            evidence.append(f"{ref(secret)} has keys {sorted(values)}; missing {missing}")
        for key in keys:
            if key in values:
                in_data = key in (secret.get("data") or {})
                evidence.extend(
                    f"{ref(secret)} {'data' if in_data else 'stringData'}.{key} {problem}"
                    for problem in value_problems(values[key], in_data)
                )
        if evidence:
            findings.append(
                Finding(
                    id="storage-secret-invalid",
                    severity="error",
                    title=f"Secret {MLFLOW_NS}/{name} does not carry valid {keys}",
                    evidence=evidence,
                    fix=(
                        f"Recreate it from the platform secrets (keys {keys}, values without newline): "
                        "ansible-playbook site.yml --tags mlflow; or by hand: kubectl -n mlflow "
                        "create secret "
                        f"generic {name} --from-file=<key>=<0600 file> --dry-run=client -o yaml | "
                        "kubectl apply -f -; "
                        f"then restart its users: kubectl -n {MLFLOW_NS} rollout restart deployment/mlflow"
                    ),
                    objects=[ref(secret)],
                )
            )
    return findings


def _storage_uri_findings(snap: Snapshot) -> list[Finding]:
    findings = []
    for model in snap.of_kind("Model"):
        spec = model.get("spec") or {}
        uri = str(spec.get("storageUri") or "")
        parsed = urlparse(uri)
        problems = []
        path = parsed.path.strip("/")
        if parsed.scheme not in ("s3", "gs", "gcs", "https", "http", "file", "azure", "minio"):
            problems.append(f"scheme {parsed.scheme or '(none)'} is not one rclone can download")
        elif not path:
            problems.append("names a bare bucket, not a model directory")
        elif _FILE_SUFFIX.search(path) or path.endswith("/MLmodel"):
            problems.append(f"ends with a file ({path.rsplit('/', 1)[-1]}), not the model directory")
        if parsed.scheme == "s3" and parsed.netloc and parsed.netloc not in KNOWN_BUCKETS:
            problems.append(
                f"bucket {parsed.netloc} is not one of the platform's buckets {sorted(KNOWN_BUCKETS)}"
            )
        secret_name = spec.get("secretName")
        if (
            secret_name
            and "Secret" in snap.kinds()
            and snap.get("Secret", namespace_of(model), secret_name) is None
        ):
            problems.append(f"spec.secretName {secret_name} does not exist in {namespace_of(model)}")
        if not problems:
            continue
        directory = uri.rsplit("/", 1)[0] if _FILE_SUFFIX.search(path) else uri
        findings.append(
            Finding(
                id="storage-uri-not-model-dir",
                severity="error",
                title=f"Model {name_of(model)} storageUri cannot be loaded: {problems[0]}",
                evidence=[f"{ref(model)} spec.storageUri={uri}"] + [f"storageUri {p}" for p in problems],
                fix=(
                    "Point storageUri at the model directory written by the trainer (it holds "
                    "model-settings.json), "
                    f"e.g. {directory}. Model manifests are generated from the MLflow registry: "
                    "re-run the mlserver "
                    "role (ansible-playbook site.yml --tags mlserver) instead of editing the URI by hand."
                ),
                objects=[ref(model)],
            )
        )
    return findings


def diagnose(snap: Snapshot, reservations: dict[str, str]) -> list[Finding]:
    return _address_findings(snap, reservations) + _secret_findings(snap) + _storage_uri_findings(snap)
