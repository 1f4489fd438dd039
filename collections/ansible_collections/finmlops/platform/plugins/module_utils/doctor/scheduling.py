"""Model not scheduled ("Failed to schedule model as no matching servers are available").

The Seldon scheduler places a Model on a Server whose capabilities include
every entry of ``spec.requirements`` (and the named ``spec.server`` if set).
A Server's capabilities are ``spec.capabilities`` when given, otherwise the
agent's ``SELDON_SERVER_CAPABILITIES`` from its ServerConfig, plus
``spec.extraCapabilities``. The ServerConfig is looked up in the Server's
namespace. A Model created before any matching Server was Ready is marked
ScheduleFailed and stays so until it is re-applied.
"""

from __future__ import annotations

import json
from typing import Any

from ansible_collections.finmlops.platform.plugins.module_utils import seldon_capabilities
from ansible_collections.finmlops.platform.plugins.module_utils.doctor.finding import Finding
from ansible_collections.finmlops.platform.plugins.module_utils.doctor.snapshot import (
    Snapshot,
    condition,
    condition_true,
    describe_condition,
    name_of,
    namespace_of,
    parse_time,
    ref,
)

NO_MATCH_TEXT = "no matching servers"


def model_ready(model: dict[str, Any]) -> bool:
    return condition_true(model, "ModelReady") or condition_true(model, "Ready")


def model_status_text(model: dict[str, Any]) -> str:
    parts = []
    for ctype in ("ModelReady", "Ready"):
        cond = condition(model, ctype) or {}
        parts.extend(str(cond.get(k, "")) for k in ("reason", "message"))
    return " ".join(parts)


def server_capabilities(snap: Snapshot, server: dict[str, Any]) -> tuple[list[str], str]:
    """Capabilities of a Server and where they come from (for evidence)."""
    configs = {(namespace_of(c), name_of(c)): c for c in snap.of_kind("ServerConfig")}
    found = seldon_capabilities.server_capabilities(server, configs, namespace_of(server))
    return sorted(found.capabilities), found.source


def server_ready(server: dict[str, Any]) -> bool:
    return condition_true(server, "Ready")


def _server_not_ready_evidence(snap: Snapshot, server: dict[str, Any]) -> list[str]:
    evidence = [describe_condition(server, "Ready")]
    status = server.get("status") or {}
    evidence.append(
        f"{ref(server)} status.replicas={status.get('replicas', 0)} "
        f"status.availableReplicas={status.get('availableReplicas', 0)}"
    )
    sts = snap.get("StatefulSet", namespace_of(server), name_of(server))
    if sts is not None:
        sts_status = sts.get("status") or {}
        evidence.append(
            f"{ref(sts)} readyReplicas={sts_status.get('readyReplicas', 0)} of "
            f"spec.replicas={(sts.get('spec') or {}).get('replicas', 1)}"
        )
    for pod in snap.of_kind("Pod", namespace_of(server)):
        owners = (pod.get("metadata") or {}).get("ownerReferences") or []
        if not any(o.get("kind") == "StatefulSet" and o.get("name") == name_of(server) for o in owners):
            continue
        for cstatus in (pod.get("status") or {}).get("containerStatuses") or []:
            waiting = (cstatus.get("state") or {}).get("waiting")
            if not cstatus.get("ready"):
                why = (
                    f" waiting: {waiting.get('reason')} {waiting.get('message', '')}".rstrip()
                    if waiting
                    else ""
                )
                evidence.append(
                    f"{ref(pod)} container {cstatus.get('name')} ready=false "
                    f"restartCount={cstatus.get('restartCount', 0)}{why}"
                )
    return evidence


def diagnose(snap: Snapshot) -> list[Finding]:
    findings: list[Finding] = []
    reported_servers: set[str] = set()
    for server in snap.of_kind("Server"):
        config_name = (server.get("spec") or {}).get("serverConfig", "")
        if config_name and snap.get("ServerConfig", namespace_of(server), config_name) is None:
            others = sorted(ref(c) for c in snap.of_kind("ServerConfig") if name_of(c) == config_name)
            evidence = [
                f"{ref(server)} spec.serverConfig={config_name}",
                f"no ServerConfig/{namespace_of(server)}/{config_name} in the snapshot",
            ]
            evidence.append(
                f"found elsewhere: {', '.join(others)} (Seldon reads ServerConfigs from the "
                "Server's namespace)"
                if others
                else "no ServerConfig of that name in any namespace"
            )
            findings.append(
                Finding(
                    id="seldon-serverconfig-missing",
                    severity="error",
                    title=f"ServerConfig {config_name} missing in namespace {namespace_of(server)}",
                    evidence=evidence,
                    fix=(
                        f"Create ServerConfig {config_name} in namespace {namespace_of(server)} "
                        "(the SeldonRuntime "
                        "installs it there): re-run the seldon role\n"
                        "  ansible-playbook site.yml --tags seldon\n"
                        f"or copy it: kubectl get serverconfig {config_name} -n seldon-system -o yaml | "
                        f"sed 's/namespace: seldon-system/namespace: {namespace_of(server)}/' | "
                        "kubectl apply -f -"
                    ),
                    needs_cluster_admin=True,
                    objects=[ref(server)],
                )
            )
            reported_servers.add(ref(server))
        elif not server_ready(server):
            findings.append(
                Finding(
                    id="seldon-server-not-ready",
                    severity="error",
                    title=f"Seldon Server {name_of(server)} is not Ready",
                    evidence=_server_not_ready_evidence(snap, server),
                    fix=(
                        f"kubectl -n {namespace_of(server)} describe server {name_of(server)}; fix "
                        "the failing "
                        f"container shown above, then: kubectl -n {namespace_of(server)} rollout status "
                        f"statefulset/{name_of(server)}"
                    ),
                    objects=[ref(server)],
                )
            )
            reported_servers.add(ref(server))

    for model in snap.of_kind("Model"):
        if model_ready(model):
            continue
        findings.extend(_diagnose_model(snap, model, reported_servers))
    return findings


def _diagnose_model(snap: Snapshot, model: dict[str, Any], reported_servers: set[str]) -> list[Finding]:
    namespace = namespace_of(model)
    spec = model.get("spec") or {}
    requirements = list(spec.get("requirements") or [])
    status_line = describe_condition(model, "ModelReady")
    no_match = NO_MATCH_TEXT in model_status_text(model).lower()
    servers = list(snap.of_kind("Server", namespace))
    if spec.get("server"):
        servers = [s for s in servers if name_of(s) == spec["server"]]

    if not servers:
        wanted = f"Server {spec['server']}" if spec.get("server") else "any Server"
        return [
            Finding(
                id="seldon-model-no-server",
                severity="error",
                title=f"Model {name_of(model)} has no Server to run on in namespace {namespace}",
                evidence=[status_line, f"{ref(model)} wants {wanted}; Servers in {namespace}: none"],
                fix=(
                    f"Deploy the Server in {namespace} (ansible-playbook site.yml --tags "
                    "mlserver), then re-apply the Model"
                ),
                objects=[ref(model)],
            )
        ]

    matching = []
    evidence = [status_line, f"{ref(model)} spec.requirements={requirements}"]
    for server in servers:
        caps, source = server_capabilities(snap, server)
        missing = [r for r in requirements if r not in caps]
        evidence.append(f"{ref(server)} capabilities={caps} (from {source})")
        if not missing:
            matching.append(server)
    if not matching:
        target = servers[0]
        caps, _ = server_capabilities(snap, target)
        missing = [r for r in requirements if r not in caps]
        kept = [c for c in requirements if c in caps] or (
            ["financial-lstm"] if "financial-lstm" in caps else caps[:1]
        )
        return [
            Finding(
                id="seldon-model-requirements-unmet",
                severity="error",
                title=f"No Server offers the requirements {missing} of Model {name_of(model)}",
                evidence=evidence,
                fix=(
                    "Either point the Model at a capability the Server offers (the platform Server offers "
                    "'financial-lstm'):\n"
                    f"  kubectl -n {namespace} patch model {name_of(model)} --type=merge -p "
                    f"'{json.dumps({'spec': {'requirements': kept}})}'\n"
                    f"or add the capability to the Server: spec.extraCapabilities: {json.dumps(missing)} on "
                    f"{ref(target)} (set it in the mlserver role's variables and re-run it)"
                ),
                objects=[ref(model)] + [ref(s) for s in servers],
            )
        ]

    unready = [s for s in matching if not server_ready(s)]
    if len(unready) == len(matching):
        if all(ref(s) in reported_servers for s in unready):
            # The Server finding already carries the evidence; point at it.
            return [
                Finding(
                    id="seldon-model-waiting-for-server",
                    severity="error",
                    title=f"Model {name_of(model)} cannot be scheduled: its Server is not Ready",
                    evidence=[status_line] + [describe_condition(s, "Ready") for s in unready],
                    fix="Fix the Server first (see the seldon-server-not-ready / seldon-serverconfig-missing "
                    "finding); the scheduler places the Model once the Server's agent subscribes.",
                    objects=[ref(model)] + [ref(s) for s in unready],
                )
            ]
        return []

    ready_server = next(s for s in matching if server_ready(s))
    model_created = parse_time((model.get("metadata") or {}).get("creationTimestamp"))
    server_created = parse_time((ready_server.get("metadata") or {}).get("creationTimestamp"))
    if no_match and model_created and server_created and model_created < server_created:
        return [
            Finding(
                id="seldon-model-created-before-server",
                severity="error",
                title=(
                    f"Model {name_of(model)} was created before Server {name_of(ready_server)} "
                    "and never retried"
                ),
                evidence=[
                    status_line,
                    f"{ref(model)} metadata.creationTimestamp={model['metadata']['creationTimestamp']}",
                    f"{ref(ready_server)} metadata.creationTimestamp="
                    f"{ready_server['metadata']['creationTimestamp']} (later)",
                    describe_condition(ready_server, "Ready"),
                    f"{ref(ready_server)} capabilities cover {requirements}",
                ],
                fix=(
                    f"Re-submit the Model now that the Server is Ready:\n"
                    f"  kubectl -n {namespace} get model {name_of(model)} -o yaml > "
                    f"/tmp/{name_of(model)}.yaml\n"
                    f"  kubectl -n {namespace} delete model {name_of(model)}\n"
                    f"  kubectl -n {namespace} apply -f /tmp/{name_of(model)}.yaml\n"
                    "and keep the apply order Server -> Model (the mlserver role waits for the Server)."
                ),
                objects=[ref(model), ref(ready_server)],
            )
        ]
    if no_match:
        return [
            Finding(
                id="seldon-model-not-scheduled",
                severity="error",
                title=(
                    f"Model {name_of(model)} reports no matching servers although "
                    f"{name_of(ready_server)} matches"
                ),
                evidence=[*evidence, describe_condition(ready_server, "Ready")],
                fix=(
                    f"The Server's agent is probably not subscribed to the scheduler: check the "
                    f"scheduler/agent network findings, then kubectl -n {namespace} logs "
                    f"statefulset/{name_of(ready_server)} -c agent"
                ),
                objects=[ref(model), ref(ready_server)],
            )
        ]
    return []
