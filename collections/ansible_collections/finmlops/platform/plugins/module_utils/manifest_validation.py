"""Strict validation of Kubernetes manifests, offline.

Built-in kinds are checked against the Kubernetes v1.33 schemas bundled with
``kubernetes-validate`` (strict flavour: unknown fields are errors). Custom
resources are checked against the pinned upstream CRDs (Calico, MetalLB,
Seldon Core v2, Argo Workflows, k3s HelmChart) read from a schema folder,
converted from OpenAPI v3 to JSON Schema the way the API server would apply
them with strict field validation. Unknown apiVersion/kind is an error: a
typo in a group or version must never be waved through.

Every error of every document is reported, each with the file, the document
index, kind/namespace/name and the JSON path of the offending field.
"""

from __future__ import annotations

import copy
import fnmatch
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

try:  # C loader: the pinned Calico Installation CRD alone is 1.3 MB.
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML without libyaml
    _Loader = yaml.SafeLoader

SCHEMA_DIR_ENV = "FINMLOPS_SCHEMA_DIR"
DEFAULT_K8S_VERSION = "1.33"
# Argo ships two CRD flavours; "minimal" preserves unknown fields and would
# validate nothing, so the full structural schemas win when both are present.
_PREFERRED_FLAVOUR_DIRS = ("full",)
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
_PATH_SEGMENT_NAMED = {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}


def _drop_nulls(node: Any) -> Any:
    """The API server prunes null values of non-nullable fields of custom
    resources before validating them; charts that template an empty map as
    ``labels:`` (null) are accepted by a cluster, so they are here too."""
    if isinstance(node, dict):
        return {k: _drop_nulls(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [_drop_nulls(v) for v in node]
    return node


@dataclass(frozen=True)
class ManifestError:
    """One problem in one document."""

    source: str
    index: int
    ref: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}[{self.index}] {self.ref} at {self.path}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.source,
            "document": self.index,
            "object": self.ref,
            "path": self.path,
            "message": self.message,
        }


@dataclass
class ValidationReport:
    documents: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    errors: list[ManifestError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        kinds = ", ".join(f"{k}={v}" for k, v in sorted(self.by_kind.items()))
        return f"{self.documents} documents ({kinds}), {len(self.errors)} errors"


# --------------------------------------------------------------------------
# CRD (OpenAPI v3 structural schema) -> JSON Schema
# --------------------------------------------------------------------------


def crd_to_jsonschema(node: Any, strict: bool = True) -> Any:
    """Convert a CRD ``openAPIV3Schema`` node into Draft 2020-12 JSON Schema.

    - ``nullable: true`` admits ``null``;
    - ``x-kubernetes-int-or-string`` admits integers and strings;
    - ``x-kubernetes-preserve-unknown-fields`` keeps unknown fields allowed;
    - ``x-kubernetes-embedded-resource`` admits apiVersion/kind/metadata;
    - with ``strict``, objects that declare ``properties`` reject unknown
      fields, as the API server does with strict field validation.
    ``format`` and CEL rules are not evaluated.
    """
    if isinstance(node, list):
        return [crd_to_jsonschema(item, strict) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key.startswith("x-kubernetes-") or key in ("nullable", "format", "description", "example"):
            continue
        if key in ("properties", "patternProperties", "$defs", "definitions"):
            out[key] = {name: crd_to_jsonschema(sub, strict) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not"):
            out[key] = crd_to_jsonschema(value, strict) if isinstance(value, dict | list) else value
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [crd_to_jsonschema(sub, strict) for sub in value]
        else:
            out[key] = value
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}, *out.get("anyOf", [])]
    if node.get("x-kubernetes-embedded-resource"):
        props = out.setdefault("properties", {})
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props.setdefault("metadata", {"type": "object"})
    preserve = bool(node.get("x-kubernetes-preserve-unknown-fields"))
    if strict and "properties" in out and "additionalProperties" not in out and not preserve:
        out["additionalProperties"] = False
    if node.get("nullable") and "type" in out:
        types = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = [*types, "null"]
    return out


def _root_schema(openapi: dict[str, Any], strict: bool) -> dict[str, Any]:
    schema = crd_to_jsonschema(copy.deepcopy(openapi), strict)
    props = schema.setdefault("properties", {})
    # Every object may carry these regardless of what the CRD declares.
    props.setdefault("apiVersion", {"type": "string"})
    props.setdefault("kind", {"type": "string"})
    props["metadata"] = {"type": "object"}  # checked by _metadata_errors
    props.pop("status", None)  # status is written by controllers, never by us
    if strict:
        schema["additionalProperties"] = False
    return schema


# --------------------------------------------------------------------------
# Schema registry
# --------------------------------------------------------------------------


@dataclass
class CrdSchema:
    group: str
    version: str
    kind: str
    scope: str
    source: str
    openapi: dict[str, Any]
    _compiled: dict[bool, Any] = field(default_factory=dict, repr=False)

    def validator(self, strict: bool):
        from jsonschema import Draft202012Validator

        if strict not in self._compiled:
            self._compiled[strict] = Draft202012Validator(_root_schema(self.openapi, strict))
        return self._compiled[strict]


class SchemaRegistry:
    """Pinned CRD schemas indexed by (apiVersion, kind)."""

    def __init__(self) -> None:
        self._crds: dict[tuple[str, str], CrdSchema] = {}

    @classmethod
    def from_dir(cls, schema_dir: str | os.PathLike[str]) -> SchemaRegistry:
        root = Path(schema_dir)
        if not root.is_dir():
            raise FileNotFoundError(
                f"schema folder {root} does not exist. Point {SCHEMA_DIR_ENV} (or the module's schema_dir) "
                "at the pinned CRD schemas, e.g. ../shared/schemas, or fetch them into .cache/schemas "
                "with `make pinned`."
            )
        registry = cls()
        files = sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
        # Preferred flavours last so they override a less strict duplicate.
        files.sort(key=lambda p: any(part in _PREFERRED_FLAVOUR_DIRS for part in p.parts))
        for path in files:
            with path.open(encoding="utf-8") as handle:
                for doc in yaml.load_all(handle, Loader=_Loader):
                    if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                        registry.add_crd(doc, str(path))
        if not registry._crds:
            raise ValueError(f"no CustomResourceDefinition found under {root}")
        return registry

    def add_crd(self, crd: dict[str, Any], source: str) -> None:
        spec = crd.get("spec") or {}
        group = spec.get("group", "")
        kind = (spec.get("names") or {}).get("kind", "")
        for version in spec.get("versions") or []:
            if not version.get("served", True):
                continue
            openapi = (version.get("schema") or {}).get("openAPIV3Schema")
            if not isinstance(openapi, dict):
                continue
            api_version = f"{group}/{version['name']}"
            self._crds[(api_version, kind)] = CrdSchema(
                group, version["name"], kind, spec.get("scope", "Namespaced"), source, openapi
            )

    def get(self, api_version: str, kind: str) -> CrdSchema | None:
        return self._crds.get((api_version, kind))

    def kinds(self) -> list[tuple[str, str]]:
        return sorted(self._crds)

    def copy(self) -> SchemaRegistry:
        clone = SchemaRegistry()
        clone._crds = dict(self._crds)
        return clone


_REGISTRY_CACHE: dict[str, SchemaRegistry] = {}


def load_registry(schema_dir: str | os.PathLike[str]) -> SchemaRegistry:
    key = str(Path(schema_dir).resolve())
    if key not in _REGISTRY_CACHE:
        _REGISTRY_CACHE[key] = SchemaRegistry.from_dir(key)
    return _REGISTRY_CACHE[key]


def default_schema_dir() -> str:
    """$FINMLOPS_SCHEMA_DIR, else ../shared/schemas beside the project root."""
    env = os.environ.get(SCHEMA_DIR_ENV)
    if env:
        return env
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file() and (parent / "collections").is_dir():
            return str(parent.parent / "shared" / "schemas")
    return str(Path.cwd().parent / "shared" / "schemas")


# --------------------------------------------------------------------------
# Built-in kinds (kubernetes-validate's bundled schemas)
# --------------------------------------------------------------------------


class BuiltinSchemas:
    """Strict Kubernetes schemas of one version, compiled once per kind."""

    def __init__(self, k8s_version: str = DEFAULT_K8S_VERSION) -> None:
        from kubernetes_validate import utils as kv

        versions = [v for v in kv.all_versions() if kv.major_minor(v) == kv.major_minor(k8s_version)]
        if not versions:
            raise ValueError(
                f"kubernetes-validate has no schemas for Kubernetes {k8s_version}; "
                f"available: {', '.join(kv.all_versions())}"
            )
        self._kv = kv
        self._dir = f"v{versions[-1]}-local-strict"
        self._validators: dict[tuple[str, str], Any] = {}
        self._defs: Any = None

    def validator(self, api_version: str, kind: str):
        key = (api_version, kind)
        if key in self._validators:
            return self._validators[key]
        from jsonschema import Draft202012Validator
        from referencing import Registry, Resource

        # kubernetes-validate names files <kind>-<first label of group>-<version>.json
        short = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
        try:
            schema = self._kv.schema_contents(
                f"kubernetes-json-schema/{self._dir}/{kind.lower()}-{short}.json", DEFAULT_K8S_VERSION
            )
        except FileNotFoundError:
            self._validators[key] = None
            return None
        if self._defs is None:
            self._defs = self._kv.schema_contents(
                f"kubernetes-json-schema/{self._dir}/_definitions.json", DEFAULT_K8S_VERSION
            )
        registry = Resource.from_contents(schema) @ (Resource.from_contents(self._defs) @ Registry())
        validator = Draft202012Validator(schema, registry=registry)
        # The group short-name scheme is ambiguous (apps.example.com/v1 maps
        # like apps/v1): accept the schema only when it declares this exact
        # apiVersion/kind.
        gvk = schema.get("x-kubernetes-group-version-kind") or []
        group, _, version = api_version.rpartition("/")
        if gvk and not any(g.get("group", "") == group and g.get("version") == version for g in gvk):
            validator = None
        self._validators[key] = validator
        return validator


# --------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------


def _json_path(parts: Iterable[Any]) -> str:
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _ref(doc: dict[str, Any]) -> str:
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    ns = meta.get("namespace")
    name = meta.get("name", "<no name>")
    return f"{doc.get('kind', '<no kind>')}/{ns + '/' if ns else ''}{name}"


def _metadata_errors(doc: dict[str, Any], check_maps: bool) -> Iterator[tuple[str, str]]:
    """Name/namespace format (no schema checks them) and, for custom
    resources whose CRD types metadata as a bare object, label/annotation
    value types (built-in schemas already check those)."""
    meta = doc.get("metadata")
    if not isinstance(meta, dict):
        yield "$.metadata", "metadata is required and must be a mapping"
        return
    name = meta.get("name")
    if not name and not meta.get("generateName"):
        yield "$.metadata.name", "metadata.name is required"
    elif doc.get("kind") in _PATH_SEGMENT_NAMED and isinstance(name, str):
        # The API server validates RBAC names as path segments only
        # (e.g. MetalLB's "metallb:controller" ClusterRole is valid).
        if name in (".", "..") or "/" in name or "%" in name:
            yield "$.metadata.name", f"{name!r} is not a valid name (no '/' or '%', not '.' or '..')"
    elif name and (not isinstance(name, str) or len(name) > 253 or not _DNS_SUBDOMAIN.match(name)):
        yield (
            "$.metadata.name",
            f"{name!r} is not a valid name (lowercase RFC 1123 subdomain, at most 253 chars)",
        )
    namespace = meta.get("namespace")
    if namespace is not None and (not isinstance(namespace, str) or not _DNS_LABEL.match(namespace)):
        yield "$.metadata.namespace", f"{namespace!r} is not a valid namespace (RFC 1123 label)"
    for field_name in ("labels", "annotations") if check_maps else ():
        values = meta.get(field_name)
        if values is None:
            continue
        if not isinstance(values, dict):
            yield f"$.metadata.{field_name}", f"{field_name} must be a mapping of strings"
            continue
        for key, value in values.items():
            if not isinstance(value, str):
                yield (
                    f"$.metadata.{field_name}.{key}",
                    f"value {value!r} must be a string (quote it in YAML)",
                )


class ManifestValidator:
    def __init__(
        self,
        schema_dir: str | os.PathLike[str] | None = None,
        k8s_version: str = DEFAULT_K8S_VERSION,
        strict: bool = True,
    ) -> None:
        self.registry = load_registry(schema_dir or default_schema_dir())
        self.builtin = BuiltinSchemas(k8s_version)
        self.strict = strict
        self.k8s_version = k8s_version

    def _with_local_crds(self, docs: list[tuple[str, int, Any]]) -> ManifestValidator:
        """CRDs present in the input set make their kinds known, as on a cluster."""
        crds = [d for _, _, d in docs if isinstance(d, dict) and d.get("kind") == "CustomResourceDefinition"]
        if not crds:
            return self
        clone = copy.copy(self)
        clone.registry = self.registry.copy()
        for crd in crds:
            clone.registry.add_crd(crd, "<input>")
        return clone

    def validate_document(self, doc: Any, source: str = "<memory>", index: int = 0) -> list[ManifestError]:
        if not isinstance(doc, dict):
            return [ManifestError(source, index, "<not a mapping>", "$", "a manifest must be a YAML mapping")]
        ref = _ref(doc)
        api_version, kind = doc.get("apiVersion"), doc.get("kind")
        missing = [
            f for f, v in (("apiVersion", api_version), ("kind", kind)) if not isinstance(v, str) or not v
        ]
        if missing:
            return [ManifestError(source, index, ref, f"$.{m}", f"{m} is required") for m in missing]
        crd = self.registry.get(api_version, kind)
        errors = [ManifestError(source, index, ref, p, m) for p, m in _metadata_errors(doc, crd is not None)]
        if crd is not None:
            validator = crd.validator(self.strict)
            namespace = (doc.get("metadata") or {}).get("namespace")
            if crd.scope == "Cluster" and namespace:
                errors.append(
                    ManifestError(
                        source,
                        index,
                        ref,
                        "$.metadata.namespace",
                        f"{kind} is cluster-scoped; remove namespace",
                    )
                )
        else:
            validator = self.builtin.validator(api_version, kind)
        if validator is None:
            known = sorted({av for av, k in self.registry.kinds() if k == kind})
            hint = f" Known apiVersions for {kind}: {', '.join(known)}." if known else ""
            errors.append(
                ManifestError(
                    source,
                    index,
                    ref,
                    "$.apiVersion",
                    f"unknown apiVersion/kind {api_version} {kind}: not a Kubernetes "
                    f"{self.k8s_version} built-in kind and not in the pinned CRD schemas.{hint}",
                )
            )
            return errors
        checked = _drop_nulls(doc) if crd is not None else doc
        for err in sorted(validator.iter_errors(checked), key=lambda e: list(e.absolute_path)):
            errors.append(ManifestError(source, index, ref, _json_path(err.absolute_path), _message(err)))
        return errors

    def validate_documents(self, docs: list[tuple[str, int, Any]]) -> ValidationReport:
        validator = self._with_local_crds(docs)
        report = ValidationReport()
        for source, index, doc in docs:
            if doc is None:
                continue
            report.documents += 1
            kind = doc.get("kind", "?") if isinstance(doc, dict) else "?"
            report.by_kind[kind] = report.by_kind.get(kind, 0) + 1
            report.errors.extend(validator.validate_document(doc, source, index))
        return report


def _message(err: Any) -> str:
    """Shorter, operator-friendly jsonschema messages."""
    if err.validator == "additionalProperties" and err.validator_value is False:
        allowed = sorted((err.schema.get("properties") or {}).keys())
        extra = sorted(set(err.instance) - set(allowed)) if isinstance(err.instance, dict) else []
        shown = ", ".join(allowed[:25]) + (" ..." if len(allowed) > 25 else "")
        return f"unknown field(s) {', '.join(map(repr, extra))}; allowed here: {shown}"
    if err.validator == "required":
        return err.message.replace("is a required property", "is required but missing")
    if err.validator in ("oneOf", "anyOf") and err.context:
        best = min(err.context, key=lambda e: len(list(e.absolute_path)))
        return f"{err.instance!r} matches none of the allowed forms (e.g. {best.message})"
    return err.message


# --------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------


def iter_manifest_files(paths: Iterable[str | os.PathLike[str]], exclude: Iterable[str] = ()) -> list[Path]:
    patterns = list(exclude)
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            candidates = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in _MANIFEST_SUFFIXES)
        elif path.is_file():
            candidates = [path]
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
        for cand in candidates:
            if not any(
                fnmatch.fnmatch(cand.name, pat) or fnmatch.fnmatch(str(cand), pat) for pat in patterns
            ):
                found.append(cand)
    return found


def load_documents(files: Iterable[Path]) -> tuple[list[tuple[str, int, Any]], list[ManifestError]]:
    docs: list[tuple[str, int, Any]] = []
    errors: list[ManifestError] = []
    for path in files:
        try:
            with path.open(encoding="utf-8") as handle:
                loaded = list(yaml.load_all(handle, Loader=_Loader))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
            errors.append(ManifestError(str(path), 0, "<unparsable>", where, f"invalid YAML: {exc}"))
            continue
        index = 0
        for doc in loaded:
            if doc is None:
                continue
            # `kind: List` wraps items; kustomization files are build config, not objects.
            if isinstance(doc, dict) and doc.get("kind") == "List" and isinstance(doc.get("items"), list):
                for item in doc["items"]:
                    docs.append((str(path), index, item))
                    index += 1
                continue
            if isinstance(doc, dict) and doc.get("kind") == "Kustomization":
                continue
            docs.append((str(path), index, doc))
            index += 1
    return docs, errors


def validate_paths(
    paths: Iterable[str | os.PathLike[str]],
    schema_dir: str | os.PathLike[str] | None = None,
    exclude: Iterable[str] = (),
    k8s_version: str = DEFAULT_K8S_VERSION,
    strict: bool = True,
) -> ValidationReport:
    files = iter_manifest_files(paths, exclude)
    docs, load_errors = load_documents(files)
    report = ManifestValidator(schema_dir, k8s_version, strict).validate_documents(docs)
    report.errors[:0] = load_errors
    return report


def validate_objects(
    objects: Iterable[Any],
    schema_dir: str | os.PathLike[str] | None = None,
    k8s_version: str = DEFAULT_K8S_VERSION,
    strict: bool = True,
    source: str = "<memory>",
) -> ValidationReport:
    docs = [(source, i, obj) for i, obj in enumerate(objects)]
    return ManifestValidator(schema_dir, k8s_version, strict).validate_documents(docs)
