"""Inference 404s through Seldon's envoy (service seldon-mesh, port 80 -> 9000).

Envoy routes on the ``seldon-model`` header: ``<model>`` for a Model,
``<experiment>.experiment`` for an Experiment. The path's model name must be
the Model's name; ``<name>_<version>`` is the name the scheduler loads into
MLServer and is not routable from outside. A request without the header, or
naming an Experiment without the ``.experiment`` suffix, gets a 404 from
envoy. Recorded request samples (``requests`` in the snapshot: method, path,
headers, status) make the diagnosis concrete; Experiments pointing at
missing Models are found from the objects alone.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from ansible_collections.finmlops.platform.plugins.module_utils.doctor.finding import Finding
from ansible_collections.finmlops.platform.plugins.module_utils.doctor.snapshot import (
    SERVING_NS,
    Snapshot,
    name_of,
    namespace_of,
    ref,
)

HEADER = "seldon-model"
_PATH = re.compile(r"/v2/models/(?P<name>[^/]+)(?:/versions/(?P<version>[^/]+))?/infer")
_VERSION_SUFFIX = re.compile(r"^(?P<base>.+)_(?P<version>\d+)$")


def _headers(sample: dict[str, Any]) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in (sample.get("headers") or {}).items()}


def _curl(name: str, header: str) -> str:
    return (
        f"curl -s -H 'Content-Type: application/json' -H '{HEADER}: {header}' "
        f"http://<seldon-mesh IP>/v2/models/{name}/infer -d @request.json"
    )


def _sample_finding(
    snap: Snapshot,
    sample: dict[str, Any],
    models: dict[str, dict[str, Any]],
    experiments: dict[str, dict[str, Any]],
) -> Finding | None:
    path = str(sample.get("path") or "")
    match = _PATH.search(path)
    if not match:
        return None
    name = match.group("name")
    header = _headers(sample).get(HEADER)
    method = sample.get("method", "POST")
    shown = f"recorded request {method} {path} {HEADER}={header!r} -> {sample.get('status')}"
    evidence = [shown]
    experiment_name = (header or "").removesuffix(".experiment")
    if header and header.endswith(".experiment"):
        if experiment_name in experiments:
            return None
        evidence.append(
            f"no Experiment {experiment_name} in {SERVING_NS}; Experiments: {sorted(experiments)}"
        )
        return Finding(
            id="inference-404-unknown-experiment",
            severity="error",
            title=f"Requests name Experiment {experiment_name}, which does not exist",
            evidence=evidence,
            fix="Use an existing experiment: "
            + (
                _curl(name, sorted(experiments)[0] + ".experiment")
                if experiments
                else "create the Experiment first"
            ),
            objects=[],
        )
    if header in experiments or (not header and name in experiments):
        target = header or name
        evidence.append(
            f"Experiment/{namespace_of(experiments[target])}/{target} exists; envoy routes "
            f"experiments only on {HEADER}: {target}.experiment"
        )
        return Finding(
            id="inference-404-experiment-header",
            severity="error",
            title=f"Requests to Experiment {target} lack the '{HEADER}: {target}.experiment' header",
            evidence=evidence,
            fix="Send the experiment header:\n  " + _curl(name, f"{target}.experiment"),
        )
    suffix = _VERSION_SUFFIX.match(name)
    if suffix and suffix.group("base") in models and name not in models:
        base = suffix.group("base")
        evidence.append(
            f"{ref(models[base])} exists; {name} is the scheduler's internal "
            f"<model>_<version> name (version {suffix.group('version')}), not routable through envoy"
        )
        return Finding(
            id="inference-404-version-suffix",
            severity="error",
            title=f"Requests use the versioned name {name} instead of the Model name {base}",
            evidence=evidence,
            fix="Call the Model by its name:\n  " + _curl(base, base),
        )
    if name not in models:
        close = difflib.get_close_matches(name, list(models), n=1)
        evidence.append(f"no Model {name} in {SERVING_NS}; Models: {sorted(models)}")
        return Finding(
            id="inference-404-unknown-model",
            severity="error",
            title=f"Requests name Model {name}, which does not exist",
            evidence=evidence,
            fix=("Use the Model's name:\n  " + _curl(close[0], close[0]))
            if close
            else "Deploy the Model first (mlserver role) or fix the name in the client.",
        )
    if not header:
        evidence.append(f"{ref(models[name])} exists; envoy needs the {HEADER} header to route")
        return Finding(
            id="inference-404-missing-header",
            severity="error",
            title=f"Requests to Model {name} lack the '{HEADER}: {name}' header",
            evidence=evidence,
            fix="Send the routing header:\n  " + _curl(name, name),
        )
    if header != name and header in models:
        return None
    return None


def _experiment_findings(
    experiments: dict[str, dict[str, Any]], models: dict[str, dict[str, Any]]
) -> list[Finding]:
    findings = []
    for name, experiment in experiments.items():
        spec = experiment.get("spec") or {}
        wanted = [c.get("name") for c in spec.get("candidates") or []]
        if spec.get("mirror"):
            wanted.append((spec["mirror"] or {}).get("name"))
        missing = sorted(m for m in wanted if m and m not in models)
        if not missing:
            continue
        findings.append(
            Finding(
                id="inference-404-experiment-missing-model",
                severity="error",
                title=f"Experiment {name} routes to Models that do not exist: {missing}",
                evidence=[
                    f"{ref(experiment)} "
                    f"spec.candidates={[c.get('name') for c in spec.get('candidates') or []]}",
                    f"Models in {namespace_of(experiment)}: {sorted(models)}",
                ],
                fix=(
                    f"Deploy {missing} or edit the candidates: kubectl -n "
                    f"{namespace_of(experiment)} edit experiment "
                    f"{name} (the mlserver role generates Experiments from the registry aliases "
                    "champion/challenger)"
                ),
                objects=[ref(experiment)],
            )
        )
    return findings


def diagnose(snap: Snapshot) -> list[Finding]:
    models = {name_of(m): m for m in snap.of_kind("Model", SERVING_NS)}
    experiments = {name_of(e): e for e in snap.of_kind("Experiment", SERVING_NS)}
    findings = _experiment_findings(experiments, models)
    for sample in snap.requests:
        if int(sample.get("status") or 0) != 404:
            continue
        finding = _sample_finding(snap, sample, models, experiments)
        if finding is not None and all(f.title != finding.title for f in findings):
            findings.append(finding)
    return findings
