"""Build an MLServer model folder (bundle files + model-settings.json) from a bundle or from the registry.

The folder is self-contained: ``mlserver start DIR`` serves it, and the
same folder uploaded as the run's ``serving/`` artifacts is what a Seldon
Model's storageUri points at.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlflow.tracking import MlflowClient

from financial_mlops.bundle import BUNDLE_FILES, load_bundle
from financial_mlops.serving.registry import download_bundle, resolve_version
from financial_mlops.serving.settings import (
    MODEL_SETTINGS_FILE,
    RuntimeConfig,
    build_model_settings,
    write_model_settings,
)


@dataclass(frozen=True)
class ExportResult:
    out_dir: Path
    model_name: str
    version: str | None
    run_id: str | None

    def to_dict(self) -> dict[str, str | None]:
        return {
            "out_dir": str(self.out_dir),
            "model": self.model_name,
            "version": self.version,
            "run_id": self.run_id,
        }


def build_serving_dir(
    bundle_dir: str | Path,
    out_dir: str | Path,
    name: str,
    version: str | None = None,
    config: RuntimeConfig | None = None,
    provenance: dict[str, str] | None = None,
) -> Path:
    """Copy a bundle into ``out_dir`` and write its model-settings.json.

    The bundle is loaded once first, so a folder is only written for a
    bundle the runtime will be able to load.
    """
    bundle_dir, out_dir = Path(bundle_dir), Path(out_dir)
    bundle = load_bundle(bundle_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for fname in BUNDLE_FILES:
        if bundle_dir.resolve() != out_dir.resolve():
            shutil.copyfile(bundle_dir / fname, out_dir / fname)
    write_model_settings(
        out_dir, build_model_settings(name, version, bundle.feature_spec, config, provenance)
    )
    return out_dir


def export_from_registry(
    client: MlflowClient,
    name: str,
    out_dir: str | Path,
    alias: str | None = None,
    version: str | None = None,
    config: RuntimeConfig | None = None,
) -> ExportResult:
    """Write the MLServer folder for ``name`` at ``version`` (or behind ``alias``)."""
    mv = resolve_version(client, name, alias=alias, version=version)
    provenance = {"registered_model": name, "version": str(mv.version), "run_id": str(mv.run_id)}
    if alias:
        provenance["exported_alias"] = alias
    with tempfile.TemporaryDirectory(prefix="finmlops-export-") as tmp:
        bundle_dir = download_bundle(client, mv.run_id, tmp)
        out = build_serving_dir(bundle_dir, out_dir, name, str(mv.version), config, provenance)
    return ExportResult(out_dir=out, model_name=name, version=str(mv.version), run_id=mv.run_id)


__all__ = ["MODEL_SETTINGS_FILE", "ExportResult", "build_serving_dir", "export_from_registry"]
