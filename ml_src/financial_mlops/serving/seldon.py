"""Seldon Core v2 ``Model`` and ``Experiment`` manifests generated from the model registry.

Nothing here is typed in by hand: each Model's storageUri is the champion
version's run artifact URI (``<artifact_uri>/serving``) translated to the
cluster's artifact store, and ``requirements`` is the runtime's capability,
which the ``financial-mlserver`` Server advertises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from mlflow.tracking import MlflowClient

from financial_mlops.serving import CAPABILITY, CHAMPION_ALIAS, SERVING_ARTIFACT_PATH
from financial_mlops.serving.registry import RegistryError, alias_version, list_artifact_paths
from financial_mlops.serving.settings import MODEL_SETTINGS_FILE
from financial_mlops.tracking import registered_model_name

SELDON_API_VERSION = "mlops.seldon.io/v1alpha1"
DEFAULT_NAMESPACE = "financial-ml"
DEFAULT_SECRET_NAME = "seldon-rclone-s3"
# Where the MLflow server stores proxied artifacts (its --artifacts-destination).
DEFAULT_ARTIFACTS_DESTINATION = "s3://mlflow-artifacts"
DEFAULT_EXPERIMENT_NAME = "financial-lstm-ab"
ANNOTATION_PREFIX = "financial-mlops.io"


class StorageNotServable(ValueError):
    """The registry stores artifacts somewhere the cluster cannot read from."""


@dataclass(frozen=True)
class SeldonOptions:
    namespace: str = DEFAULT_NAMESPACE
    secret_name: str = DEFAULT_SECRET_NAME
    artifacts_destination: str = DEFAULT_ARTIFACTS_DESTINATION
    # Accept file:// artifact stores (one-machine previews); the URIs then only
    # make sense on that machine, so this is never the default.
    allow_local_storage: bool = False
    # Check that serving/model-settings.json exists before pointing Seldon at it.
    verify_artifacts: bool = True
    replicas: int = 1


@dataclass(frozen=True)
class ABSplit:
    """Experiment candidates as (variant, weight); the first is the Experiment's default."""

    candidates: tuple[tuple[str, int], ...]
    name: str = DEFAULT_EXPERIMENT_NAME

    def __post_init__(self) -> None:
        variants = [v for v, _ in self.candidates]
        if len(self.candidates) < 2 or len(set(variants)) != len(variants):
            raise ValueError(f"an A/B split needs at least two different variants, got {variants}")
        weights = [w for _, w in self.candidates]
        if any(w < 0 for w in weights) or sum(weights) <= 0:
            raise ValueError(f"A/B weights must be >= 0 and not all 0, got {weights}")

    @classmethod
    def parse(cls, text: str, name: str = DEFAULT_EXPERIMENT_NAME) -> ABSplit:
        """``"baseline=70,enhanced=30"`` -> ABSplit."""
        pairs = []
        for part in filter(None, (p.strip() for p in text.split(","))):
            variant, sep, weight = part.partition("=")
            if not sep or not weight.strip().isdigit():
                raise ValueError(f"A/B split item {part!r} must be VARIANT=WEIGHT (e.g. baseline=70)")
            pairs.append((variant.strip(), int(weight)))
        return cls(tuple(pairs), name)


def cluster_storage_uri(artifact_uri: str, options: SeldonOptions) -> str:
    """Translate a run's artifact URI (as MLflow reports it) into one the Seldon agent's rclone can read."""
    parsed = urlparse(artifact_uri)
    if parsed.scheme == "mlflow-artifacts":
        # Proxied artifacts: the server maps mlflow-artifacts:/<path> onto
        # its --artifacts-destination; host/port (if any) name the server.
        return options.artifacts_destination.rstrip("/") + "/" + parsed.path.lstrip("/")
    if parsed.scheme in {"s3", "gs"}:
        return artifact_uri
    if parsed.scheme in {"", "file"} and options.allow_local_storage:
        return artifact_uri
    raise StorageNotServable(
        f"the run's artifacts live at {artifact_uri!r}, which the cluster cannot read. Use the cluster's "
        "MLflow (MLFLOW_TRACKING_URI=http://... with artifacts in MinIO) or, for a local preview only, "
        "allow local storage (--allow-local-storage / serving_allow_local_storage=true)"
    )


def _labels(variant: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "financial-lstm",
        "app.kubernetes.io/component": "model",
        "app.kubernetes.io/part-of": "financial-mlops",
        "app.kubernetes.io/managed-by": "finmlops",
        f"{ANNOTATION_PREFIX}/variant": variant,
    }


@dataclass
class ModelRef:
    variant: str
    name: str
    version: str
    run_id: str
    storage_uri: str


def champion_ref(client: MlflowClient, variant: str, options: SeldonOptions) -> ModelRef | None:
    """Where the champion of ``variant`` is served from; None if the variant has no champion."""
    name = registered_model_name(variant)
    mv = alias_version(client, name, CHAMPION_ALIAS)
    if mv is None:
        return None
    artifact_uri = client.get_run(mv.run_id).info.artifact_uri
    if options.verify_artifacts:
        present = list_artifact_paths(client, mv.run_id, SERVING_ARTIFACT_PATH)
        if f"{SERVING_ARTIFACT_PATH}/{MODEL_SETTINGS_FILE}" not in present:
            raise RegistryError(
                f"{name} v{mv.version} (run {mv.run_id}) has no "
                f"{SERVING_ARTIFACT_PATH}/{MODEL_SETTINGS_FILE}; "
                f"promote it with `python -m financial_mlops promote --model {name} --version {mv.version}`"
            )
    storage = cluster_storage_uri(artifact_uri.rstrip("/") + "/" + SERVING_ARTIFACT_PATH, options)
    return ModelRef(variant, name, str(mv.version), str(mv.run_id), storage)


def model_manifest(ref: ModelRef, options: SeldonOptions) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "storageUri": ref.storage_uri,
        "requirements": [CAPABILITY],
        "replicas": options.replicas,
    }
    if ref.storage_uri.startswith(("s3://", "gs://")):
        spec["secretName"] = options.secret_name
    return {
        "apiVersion": SELDON_API_VERSION,
        "kind": "Model",
        "metadata": {
            "name": ref.name,
            "namespace": options.namespace,
            "labels": _labels(ref.variant),
            "annotations": {
                f"{ANNOTATION_PREFIX}/registered-model": ref.name,
                f"{ANNOTATION_PREFIX}/model-version": ref.version,
                f"{ANNOTATION_PREFIX}/run-id": ref.run_id,
                f"{ANNOTATION_PREFIX}/alias": CHAMPION_ALIAS,
            },
        },
        "spec": spec,
    }


def experiment_manifest(split: ABSplit, refs: dict[str, ModelRef], options: SeldonOptions) -> dict[str, Any]:
    candidates = [{"name": refs[v].name, "weight": w} for v, w in split.candidates]
    return {
        "apiVersion": SELDON_API_VERSION,
        "kind": "Experiment",
        "metadata": {
            "name": split.name,
            "namespace": options.namespace,
            "labels": {
                "app.kubernetes.io/name": "financial-lstm",
                "app.kubernetes.io/component": "experiment",
                "app.kubernetes.io/part-of": "financial-mlops",
                "app.kubernetes.io/managed-by": "finmlops",
            },
            "annotations": {
                f"{ANNOTATION_PREFIX}/versions": ",".join(
                    f"{refs[v].name}=v{refs[v].version}" for v, _ in split.candidates
                )
            },
        },
        # The default candidate takes over the endpoint of its Model, so
        # clients keep calling financial-lstm-<default variant>.
        "spec": {"default": refs[split.candidates[0][0]].name, "candidates": candidates},
    }


@dataclass
class SeldonPlan:
    manifests: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"manifests": self.manifests, "notes": self.notes}


def build_seldon_manifests(
    client: MlflowClient,
    variants: list[str],
    split: ABSplit | None = None,
    options: SeldonOptions | None = None,
) -> SeldonPlan:
    """Models for ``variants`` (each must have a champion) plus the A/B Experiment.

    The Experiment is generated when every one of its variants has a
    champion; otherwise it is left out and ``notes`` says why, so promoting
    the first variant does not need the second to exist yet.
    """
    options = options or SeldonOptions()
    plan = SeldonPlan()
    refs: dict[str, ModelRef] = {}
    for variant in variants:
        ref = champion_ref(client, variant, options)
        if ref is None:
            raise RegistryError(
                f"{registered_model_name(variant)} has no {CHAMPION_ALIAS!r} alias; promote a version first "
                f"(playbooks/day2/promote-model.yml -e variant={variant})"
            )
        refs[variant] = ref
    if split is not None:
        for variant, _ in split.candidates:
            if variant not in refs:
                ref = champion_ref(client, variant, options)
                if ref is None:
                    plan.notes.append(
                        f"Experiment {split.name} not generated: "
                        f"{registered_model_name(variant)} has no champion yet"
                    )
                    continue
                refs[variant] = ref
    plan.manifests = [model_manifest(refs[v], options) for v in sorted(refs)]
    if split is not None and all(v in refs for v, _ in split.candidates):
        plan.manifests.append(experiment_manifest(split, refs, options))
    return plan
