"""Match Seldon Core v2 Model requirements against Server capabilities.

The Seldon scheduler places a Model only on a Server (in the Model's
namespace) whose capabilities include every entry of the Model's
``requirements``; otherwise the Model stays unavailable with "no matching
servers available". This module finds that before anything is applied,
e.g. the old system's ``sklearn`` vs ``scikit-learn`` mismatch.

Server capabilities follow the operator's rules: ``spec.capabilities`` when
set replaces the ServerConfig's SELDON_SERVER_CAPABILITIES (agent env);
``spec.extraCapabilities`` adds to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

SELDON_GROUP = "mlops.seldon.io/"
CAPABILITIES_ENV = "SELDON_SERVER_CAPABILITIES"


@dataclass
class ServerCapabilities:
    namespace: str
    name: str
    capabilities: set[str]
    source: str


@dataclass
class CapabilityProblem:
    model: str
    missing: list[str]
    servers_checked: list[str]
    detail: str = ""

    def message(self) -> str:
        checked = ", ".join(self.servers_checked) or "none (no Server in the namespace)"
        missing = ", ".join(self.missing)
        text = (
            f"Model {self.model}: no Server provides requirement(s) [{missing}]; servers checked: {checked}. "
            "Fix the Model's spec.requirements or add the capability to a Server "
            "(spec.capabilities / spec.extraCapabilities)."
        )
        return f"{text} {self.detail}".strip()


@dataclass
class CheckResult:
    problems: list[CapabilityProblem] = field(default_factory=list)
    models_checked: list[str] = field(default_factory=list)
    servers: list[ServerCapabilities] = field(default_factory=list)


def _is(doc: Mapping[str, Any], kind: str) -> bool:
    return doc.get("kind") == kind and str(doc.get("apiVersion", "")).startswith(SELDON_GROUP)


def _ns(doc: Mapping[str, Any], default_namespace: str) -> str:
    return (doc.get("metadata") or {}).get("namespace") or default_namespace


def _split(value: str) -> set[str]:
    return {item.strip() for item in value.split(",") if item.strip()}


def _config_capabilities(config: Mapping[str, Any]) -> set[str] | None:
    for container in ((config.get("spec") or {}).get("podSpec") or {}).get("containers") or []:
        for env in container.get("env") or []:
            if env.get("name") == CAPABILITIES_ENV and "value" in env:
                return _split(str(env["value"]))
    return None


def server_capabilities(
    server: Mapping[str, Any],
    server_configs: Mapping[tuple[str, str], Mapping[str, Any]],
    default_namespace: str,
) -> ServerCapabilities:
    spec = server.get("spec") or {}
    namespace = _ns(server, default_namespace)
    name = server["metadata"]["name"]
    extra = set(spec.get("extraCapabilities") or [])
    if spec.get("capabilities"):
        return ServerCapabilities(namespace, name, set(spec["capabilities"]) | extra, "spec.capabilities")
    config_name = spec.get("serverConfig", "")
    config = server_configs.get((namespace, config_name))
    base = _config_capabilities(config) if config else None
    if base is None:
        source = f"ServerConfig {namespace}/{config_name} not among the checked documents"
        return ServerCapabilities(namespace, name, extra, source)
    return ServerCapabilities(namespace, name, base | extra, f"ServerConfig {namespace}/{config_name}")


def check_documents(
    documents: Iterable[Mapping[str, Any]], default_namespace: str = "default"
) -> CheckResult:
    """Check every Seldon Model in ``documents`` against the Servers in them."""
    docs = [d for d in documents if isinstance(d, Mapping)]
    configs = {(_ns(d, default_namespace), d["metadata"]["name"]): d for d in docs if _is(d, "ServerConfig")}
    result = CheckResult()
    result.servers = [server_capabilities(d, configs, default_namespace) for d in docs if _is(d, "Server")]
    for model in (d for d in docs if _is(d, "Model")):
        namespace = _ns(model, default_namespace)
        model_id = f"{namespace}/{model['metadata']['name']}"
        result.models_checked.append(model_id)
        spec = model.get("spec") or {}
        required = list(dict.fromkeys(spec.get("requirements") or []))
        candidates = [s for s in result.servers if s.namespace == namespace]
        detail = ""
        if spec.get("server"):
            candidates = [s for s in candidates if s.name == spec["server"]]
            detail = f"The Model pins spec.server={spec['server']}."
        if any(not set(required) - s.capabilities for s in candidates):
            continue
        if candidates:
            best = min(candidates, key=lambda s: len(set(required) - s.capabilities))
            missing = [r for r in required if r not in best.capabilities]
            unknown = [s for s in candidates if "not among" in s.source]
            if unknown:
                detail += " Capabilities unknown for: " + ", ".join(f"{s.name} ({s.source})" for s in unknown)
        else:
            missing = required or ["<any server>"]
        checked = [f"{s.namespace}/{s.name} [{', '.join(sorted(s.capabilities))}]" for s in candidates]
        result.problems.append(CapabilityProblem(model_id, missing, checked, detail.strip()))
    return result
