"""Redaction of snapshots: Secret values never leave the cluster.

A saved snapshot keeps every Secret's keys but replaces each value with a
marker that records only format facts the doctor needs (valid base64, empty,
trailing newline), never the value or its length. Annotations that embed a
whole object (``kubectl.kubernetes.io/last-applied-configuration`` of a
Secret, Helm release data) are scrubbed too, and so are env values of
workloads whose names look like credentials.
"""

from __future__ import annotations

import base64
import binascii
import copy
import re
from typing import Any

MARKER_PREFIX = "REDACTED"
# Annotations that carry a serialized copy of an object (and so its secrets).
SCRUBBED_ANNOTATIONS = (
    "kubectl.kubernetes.io/last-applied-configuration",
    "meta.helm.sh/release-values",
)
_SECRET_ENV = re.compile(r"(PASSWORD|SECRET|TOKEN|ACCESS_KEY|PRIVATE_KEY|CREDENTIAL)", re.I)
_SECRET_TEXT = re.compile(
    r"(?P<key>(?:password|secret|token|access_key|secret_key|accesskey|secretkey)[\"']?\s*[:=]\s*[\"']?)"
    r"(?P<value>[^\s\"',}]+)",
    re.I,
)


def _facts(raw: str, in_data: bool) -> dict[str, str]:
    facts = {"base64": "n/a"}
    text = raw
    if in_data:
        try:
            text = base64.b64decode(raw, validate=True).decode("utf-8", errors="replace")
            facts["base64"] = "valid"
        except (binascii.Error, ValueError):
            facts["base64"] = "invalid"
    facts["empty"] = "yes" if text == "" else "no"
    facts["trailing-newline"] = "yes" if text and text != text.rstrip() else "no"
    return facts


def marker(raw: Any, in_data: bool) -> str:
    """``REDACTED(base64=valid,empty=no,trailing-newline=no)`` for one value."""
    facts = _facts(str(raw if raw is not None else ""), in_data)
    return f"{MARKER_PREFIX}(" + ",".join(f"{k}={v}" for k, v in facts.items()) + ")"


def parse_marker(value: Any) -> dict[str, str] | None:
    """The facts of a redaction marker, or None when ``value`` is not one."""
    if not isinstance(value, str) or not value.startswith(MARKER_PREFIX + "(") or not value.endswith(")"):
        return None
    body = value[len(MARKER_PREFIX) + 1 : -1]
    return dict(part.split("=", 1) for part in body.split(",") if "=" in part)


def _scrub_annotations(meta: dict[str, Any]) -> None:
    annotations = meta.get("annotations")
    if not isinstance(annotations, dict):
        return
    for key in list(annotations):
        if key in SCRUBBED_ANNOTATIONS or key.startswith("helm.sh/release"):
            annotations[key] = f"{MARKER_PREFIX}(annotation)"
        elif isinstance(annotations[key], str):
            annotations[key] = _SECRET_TEXT.sub(
                lambda m: m.group("key") + f"{MARKER_PREFIX}(text)", annotations[key]
            )


def _scrub_env(value: Any) -> None:
    """Literal env values named like credentials inside any pod template."""
    if isinstance(value, dict):
        name = value.get("name")
        if "value" in value and isinstance(name, str) and _SECRET_ENV.search(name):
            value["value"] = marker(value["value"], in_data=False)
        for item in value.values():
            _scrub_env(item)
    elif isinstance(value, list):
        for item in value:
            _scrub_env(item)


def redact_object(obj: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``obj`` safe to write to disk and to share."""
    clean = copy.deepcopy(obj)
    meta = clean.get("metadata")
    if isinstance(meta, dict):
        _scrub_annotations(meta)
        # managedFields repeat every field an owner set, values included.
        meta.pop("managedFields", None)
    if clean.get("kind") == "Secret":
        for field, in_data in (("data", True), ("stringData", False)):
            values = clean.get(field)
            if isinstance(values, dict):
                clean[field] = {k: marker(v, in_data) for k, v in values.items()}
    elif clean.get("kind") == "ConfigMap":
        for field in ("data",):
            values = clean.get(field)
            if isinstance(values, dict):
                clean[field] = {
                    k: _SECRET_TEXT.sub(lambda m: m.group("key") + f"{MARKER_PREFIX}(text)", v)
                    if isinstance(v, str)
                    else v
                    for k, v in values.items()
                }
        clean.pop("binaryData", None)
    for field in ("spec", "status"):
        if field in clean:
            _scrub_env(clean[field])
    return clean


def redact_snapshot(doc: dict[str, Any]) -> dict[str, Any]:
    """Redact every object of a snapshot document (other fields kept)."""
    clean = dict(doc)
    clean["objects"] = [redact_object(o) for o in doc.get("objects") or []]
    clean["redacted"] = True
    return clean
