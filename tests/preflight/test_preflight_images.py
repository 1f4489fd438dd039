"""Preflight refuses application images the cluster nodes cannot get (module_utils/preflight_images.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from ansible_collections.finmlops.platform.plugins.module_utils.preflight import Inventory, check_inventory
from ansible_collections.finmlops.platform.plugins.module_utils.preflight_images import (
    DEFAULT_MLSERVER_CAPABILITIES,
    MLSERVER_IMAGE_NAME,
    TRAINER_IMAGE_NAME,
    effective_images,
)

ROOT = Path(__file__).resolve().parents[2]
MESSAGE = re.compile(r"^\S[^:]*: .+\. Fix: .+$")


def problems(sample) -> list[str]:
    found = check_inventory(Inventory(**sample)).problems
    assert all(MESSAGE.match(p) for p in found), found
    return found


def test_sample_inventory_images_come_from_its_registry(sample):
    images = effective_images(sample["settings"])
    registry = sample["settings"]["ml_image_registry"]
    assert images["ml_trainer_image"].startswith(f"{registry}/")
    assert images["mlserver_image"].startswith(f"{registry}/")
    assert problems(sample) == []


def test_localhost_images_without_archives_are_refused_with_both_fixes(sample):
    del sample["settings"]["ml_image_registry"]
    found = problems(sample)
    assert [p.split(":", 1)[0] for p in found] == ["ml_trainer_image", "mlserver_image"], found
    assert "localhost/financial-mlops-trainer" in found[0]
    assert "ML_IMAGE_REGISTRY" in found[0] and "k3s_image_archives" in found[0]


def test_localhost_images_delivered_as_archives_pass(sample):
    sample["settings"]["ml_image_registry"] = ""
    sample["settings"]["k3s_image_archives"] = [
        "build/images/financial-mlops-trainer-0.1.0.tar",
        "build/images/financial-mlops-mlserver-0.1.0.tar",
    ]
    assert problems(sample) == []
    sample["settings"]["ml_trainer_image_pull_policy"] = "Always"
    (found,) = problems(sample)
    assert found.startswith("ml_trainer_image_pull_policy: is Always") and "IfNotPresent" in found


def test_an_archive_for_one_image_does_not_cover_the_other(sample):
    sample["settings"]["ml_trainer_image"] = "localhost/financial-mlops-trainer:0.1.0"
    sample["settings"]["k3s_image_archives"] = ["/srv/images/financial-mlops-mlserver-0.1.0.tar"]
    (found,) = problems(sample)
    assert found.startswith("ml_trainer_image: localhost/financial-mlops-trainer:0.1.0 is an image only")


@pytest.mark.parametrize(
    "image",
    [
        "docker.io/seldonio/mlserver:1.7.1",
        "seldonio/mlserver:1.7.1",
        "mirror.lan/seldonio/mlserver@sha256:" + "a" * 64,
    ],
)
def test_upstream_mlserver_for_the_financial_lstm_server_is_refused(sample, image):
    sample["settings"]["mlserver_image"] = image
    (found,) = problems(sample)
    assert found.startswith(f"mlserver_image: {image} is the upstream MLServer image")
    assert "serving runtime" in found and "Containerfile.mlserver" in found
    # A Server that does not claim the capability may run the upstream image.
    sample["settings"]["mlserver_capabilities"] = ["mlserver", "python"]
    assert problems(sample) == []


def test_archives_that_are_not_a_list_are_reported(sample):
    sample["settings"]["k3s_image_archives"] = "build/images/financial-mlops-trainer-0.1.0.tar"
    (found,) = problems(sample)
    assert found.startswith("k3s_image_archives: is ")


def test_default_names_agree_with_the_roles():
    trainer = yaml.safe_load((ROOT / "roles/ml_trainer/defaults/main.yml").read_text())
    mlserver = yaml.safe_load((ROOT / "roles/mlserver/defaults/main.yml").read_text())
    assert f"/{TRAINER_IMAGE_NAME}:" in trainer["ml_trainer_image"]
    assert f"/{MLSERVER_IMAGE_NAME}:" in mlserver["mlserver_image"]
    assert (
        "ml_image_registry" in trainer["ml_trainer_image"]
        and "ml_image_registry" in mlserver["mlserver_image"]
    )
    assert tuple(mlserver["mlserver_capabilities"]) == DEFAULT_MLSERVER_CAPABILITIES
