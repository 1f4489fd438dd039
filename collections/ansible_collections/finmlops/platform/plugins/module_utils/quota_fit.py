"""LimitRange defaulting and ResourceQuota fit, computed like the API server.

The old system removed its ResourceQuotas because Argo's init/wait containers
had no requests/limits and the quota admission rejected the pods. These
functions let tests (and operators) prove, before anything is applied, that
every container of a pod ends up with requests and limits after the
LimitRanger admission plugin has defaulted it, and that the pod fits the
namespace quota.

Quantities are compared as exact decimals (Fraction), never floats.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import Any

_SUFFIXES = {
    "": Fraction(1),
    "m": Fraction(1, 1000),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
    "Ki": Fraction(2**10),
    "Mi": Fraction(2**20),
    "Gi": Fraction(2**30),
    "Ti": Fraction(2**40),
    "Pi": Fraction(2**50),
    "Ei": Fraction(2**60),
}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$")

# Resources the tenancy quota constrains, as ResourceQuota keys.
QUOTA_KEYS = ("requests.cpu", "requests.memory", "limits.cpu", "limits.memory")


def parse_quantity(value: str | int | float) -> Fraction:
    """Parse a Kubernetes quantity ("500m", "2Gi", 1) into an exact number."""
    if isinstance(value, int | float):
        return Fraction(str(value))
    match = _QUANTITY.match(str(value).strip())
    if not match:
        raise ValueError(f"not a Kubernetes quantity: {value!r}")
    number, suffix = match.groups()
    return Fraction(number) * _SUFFIXES[suffix or ""]


def _container_limit_range(limit_ranges: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {"default": {}, "defaultRequest": {}, "max": {}, "min": {}}
    for lr in limit_ranges:
        for item in (lr.get("spec") or {}).get("limits") or []:
            if item.get("type") != "Container":
                continue
            for key in merged:
                merged[key].update(item.get(key) or {})
    return merged


def apply_limit_range(
    container: Mapping[str, Any], limit_ranges: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """Resources of a container after LimitRanger defaulting.

    Missing limits take the LimitRange ``default``; missing requests take the
    container's own limit when set (API server defaulting), else
    ``defaultRequest``, else the ``default`` limit.
    """
    lr = _container_limit_range(limit_ranges)
    resources = container.get("resources") or {}
    limits = dict(resources.get("limits") or {})
    requests = dict(resources.get("requests") or {})
    for name, value in lr["default"].items():
        limits.setdefault(name, value)
    for name in set(lr["defaultRequest"]) | set(lr["default"]) | set(limits):
        if name in requests:
            continue
        if name in (resources.get("limits") or {}):
            requests[name] = resources["limits"][name]
        elif name in lr["defaultRequest"]:
            requests[name] = lr["defaultRequest"][name]
        elif name in limits:
            requests[name] = limits[name]
    return {"requests": requests, "limits": limits}


def _pod_containers(pod_spec: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    init = [("init", c) for c in pod_spec.get("initContainers") or []]
    return init + [("main", c) for c in pod_spec.get("containers") or []]


def pod_usage(pod_spec: Mapping[str, Any], limit_ranges: Iterable[Mapping[str, Any]]) -> dict[str, Fraction]:
    """Quota usage of a pod: max(sum of app containers, largest init container)."""
    limit_ranges = list(limit_ranges)
    totals = {key: Fraction(0) for key in QUOTA_KEYS}
    init_peak = {key: Fraction(0) for key in QUOTA_KEYS}
    for kind, container in _pod_containers(pod_spec):
        res = apply_limit_range(container, limit_ranges)
        for key in QUOTA_KEYS:
            section, name = key.split(".")
            amount = parse_quantity(res[section].get(name, 0))
            if kind == "main":
                totals[key] += amount
            else:
                init_peak[key] = max(init_peak[key], amount)
    return {key: max(totals[key], init_peak[key]) for key in QUOTA_KEYS}


def check_pod(
    pod_spec: Mapping[str, Any],
    limit_ranges: Iterable[Mapping[str, Any]],
    quotas: Iterable[Mapping[str, Any]],
    used: Mapping[str, Fraction] | None = None,
) -> list[str]:
    """Problems that would make quota admission reject the pod (empty = admitted).

    A ResourceQuota on requests.X / limits.X rejects any container without
    that request/limit after defaulting, and any pod that pushes usage over
    the hard value.
    """
    limit_ranges = list(limit_ranges)
    quotas = list(quotas)
    hard: dict[str, Fraction] = {}
    for quota in quotas:
        for key, value in ((quota.get("spec") or {}).get("hard") or {}).items():
            if key in QUOTA_KEYS:
                amount = parse_quantity(value)
                hard[key] = min(hard.get(key, amount), amount)
    problems: list[str] = []
    maximum = _container_limit_range(limit_ranges)["max"]
    for kind, container in _pod_containers(pod_spec):
        res = apply_limit_range(container, limit_ranges)
        cname = container.get("name")
        for resource, limit in res["limits"].items():
            request = res["requests"].get(resource)
            if request is not None and parse_quantity(request) > parse_quantity(limit):
                problems.append(
                    f"{kind} container {cname!r}: {resource} request {request} exceeds its limit {limit} "
                    "(after LimitRange defaulting); the API server rejects the pod"
                )
            if resource in maximum and parse_quantity(limit) > parse_quantity(maximum[resource]):
                problems.append(
                    f"{kind} container {cname!r}: {resource} limit {limit} is over the LimitRange max "
                    f"{maximum[resource]}"
                )
        for key in hard:
            section, name = key.split(".")
            if name not in res[section]:
                problems.append(
                    f"{kind} container {container.get('name')!r} has no {key} after LimitRange "
                    f"defaulting; the quota admission rejects the pod"
                )
    usage = pod_usage(pod_spec, limit_ranges)
    for key, limit in hard.items():
        total = usage[key] + (used or {}).get(key, Fraction(0))
        if total > limit:
            problems.append(f"{key}: pod needs {float(usage[key]):g}, quota {float(limit):g} exceeded")
    return problems
