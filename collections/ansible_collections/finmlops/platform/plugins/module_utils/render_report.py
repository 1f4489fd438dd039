"""Judge a whole render the way a cluster would, and summarise it for a person.

Runs, over every object of a render folder (ours and the expanded charts'):
Pod Security admission per namespace (pod_security), cross-references and
unpullable images (render_refs), required network flows on the real pod
labels (render_flows). The summary lists objects by component and kind, the
images (and which are not pinned by digest), the level and violations per
namespace, and the problem counts.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ansible_collections.finmlops.platform.plugins.module_utils import pod_security, render_flows, render_refs
from ansible_collections.finmlops.platform.plugins.module_utils.chart_expand import CHART_ANNOTATION
from ansible_collections.finmlops.platform.plugins.module_utils.manifest_validation import (
    iter_manifest_files,
    load_documents,
)
from ansible_collections.finmlops.platform.plugins.module_utils.pod_templates import render_pod_templates


@dataclass
class RenderReport:
    objects: int = 0
    by_component: dict[str, dict[str, int]] = field(default_factory=dict)
    images: dict[str, list[str]] = field(default_factory=dict)  # image -> objects using it
    levels: dict[str, str] = field(default_factory=dict)
    pods_per_namespace: dict[str, int] = field(default_factory=dict)
    pod_security: list[pod_security.Violation] = field(default_factory=list)
    references: list[render_refs.Problem] = field(default_factory=list)
    flows: list[render_flows.FlowProblem] = field(default_factory=list)
    flow_pairs: int = 0
    known: list[dict[str, Any]] = field(default_factory=list)  # problems matched by a known-problem entry
    stale_known: list[Mapping[str, Any]] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.pod_security or self.references or self.flows)

    def unpinned_images(self) -> list[str]:
        return sorted(i for i in self.images if "@sha256:" not in i)


def load_render(paths: Iterable[str], exclude: Iterable[str] = ()) -> list[tuple[str, dict[str, Any]]]:
    docs, errors = load_documents(iter_manifest_files(paths, exclude))
    if errors:
        raise ValueError("; ".join(str(e) for e in errors))
    return [(s, d) for s, _, d in docs if isinstance(d, dict)]


def component_of(source: str, obj: Mapping[str, Any]) -> str:
    chart = ((obj.get("metadata") or {}).get("annotations") or {}).get(CHART_ANNOTATION)
    folder = Path(source).parent.name
    return f"{folder} (chart {chart})" if chart else folder


def _is_known(entry: Mapping[str, Any], problem: Mapping[str, str]) -> bool:
    return all(str(entry[k]) in str(problem.get(k, "")) for k in ("object", "path", "missing") if k in entry)


def check_render(
    objects: list[tuple[str, dict[str, Any]]],
    provided: Iterable[Mapping[str, Any]] = (),
    unpullable_images: Iterable[Mapping[str, str]] = (),
    flows: Iterable[Mapping[str, Any]] = (),
    known_problems: Iterable[Mapping[str, Any]] = (),
) -> RenderReport:
    report = RenderReport(objects=len(objects))
    by_component: dict[str, Counter[str]] = defaultdict(Counter)
    images: dict[str, list[str]] = defaultdict(list)
    for source, obj in objects:
        by_component[component_of(source, obj)][str(obj.get("kind"))] += 1
    templates = render_pod_templates(objects)
    for template in templates:
        report.pods_per_namespace[template.namespace] = (
            report.pods_per_namespace.get(template.namespace, 0) + 1
        )
        for list_name in ("initContainers", "containers", "ephemeralContainers"):
            for container in template.spec.get(list_name) or []:
                if container.get("image"):
                    images[str(container["image"])].append(template.ref)
    report.by_component = {k: dict(sorted(v.items())) for k, v in sorted(by_component.items())}
    report.images = {k: sorted(set(v)) for k, v in sorted(images.items())}
    report.levels, report.pod_security, _ = pod_security.check_objects(objects)
    problems = render_refs.check_references(objects, provided)
    problems += render_refs.image_problems(objects, unpullable_images)
    known = list(known_problems)
    used: set[int] = set()
    for problem in problems:
        matches = [i for i, entry in enumerate(known) if _is_known(entry, problem.as_dict())]
        if matches:
            used.update(matches)
            report.known.append({**problem.as_dict(), "reason": known[matches[0]].get("reason", "")})
        else:
            report.references.append(problem)
    report.stale_known = [entry for i, entry in enumerate(known) if i not in used]
    report.flows, report.flow_pairs = render_flows.check_flows(objects, flows)
    return report


def summary_lines(report: RenderReport, seconds: float | None = None) -> list[str]:
    lines = [f"objects: {report.objects}"]
    for component, kinds in report.by_component.items():
        lines.append(f"  {component}: " + ", ".join(f"{k}={n}" for k, n in kinds.items()))
    unpinned = set(report.unpinned_images())
    lines.append(f"images: {len(report.images)} ({len(unpinned)} not pinned by digest)")
    for image in report.images:
        lines.append(f"  {image}{'' if image not in unpinned else '  [tag only]'}")
    lines.append("pod security (enforced level per namespace: pod templates, violations):")
    namespaces = sorted(set(report.levels) | set(report.pods_per_namespace))
    per_ns = Counter(v.namespace for v in report.pod_security)
    for ns in namespaces:
        level = report.levels.get(ns, pod_security.DEFAULT_LEVEL + " (no label)")
        lines.append(
            f"  {ns}: {level}: {report.pods_per_namespace.get(ns, 0)} pods, {per_ns.get(ns, 0)} violations"
        )
    lines.append(f"pod security violations: {len(report.pod_security)}")
    lines.append(f"reference problems: {len(report.references)}")
    if report.known:
        lines.append(f"known problems (temporary list, not counted): {len(report.known)}")
        for reason, count in Counter(k["reason"] for k in report.known).items():
            first = next(k for k in report.known if k["reason"] == reason)
            lines.append(f"  - {count} x {first['missing']} (e.g. {first['object']}): {reason}")
    for entry in report.stale_known:
        lines.append(f"  stale known-problem entry (no longer found, remove it): {dict(entry)}")
    lines.append(f"flow problems: {len(report.flows)} ({report.flow_pairs} pod pairs evaluated)")
    if seconds is not None:
        lines.append(f"render wall time: {seconds:.1f} s")
    return lines


def problem_lines(report: RenderReport) -> list[str]:
    lines = [f"pod security: {v}" for v in report.pod_security]
    lines += [f"reference: {p}" for p in report.references]
    lines += [f"network: {f}" for f in report.flows]
    return lines
