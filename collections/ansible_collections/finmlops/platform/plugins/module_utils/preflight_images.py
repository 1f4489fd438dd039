"""Preflight: can the cluster nodes get the application images the inventory names?

Pure logic on inventory data (nothing is contacted). Two seams it closes:

* an image under ``localhost/`` exists only in the podman store of the
  machine that built it; a node gets it only from an archive placed in the
  k3s image import folder (``k3s_image_archives``) and only when its pull
  policy does not force a pull;
* the Seldon Server that claims the ``financial-lstm`` capability must run
  our serving image: the upstream ``seldonio/mlserver`` image does not contain
  our runtime (the project's ML package), so the Models would schedule there
  and fail to load.

The default image names mirror roles/ml_trainer and roles/mlserver defaults
(tests/preflight checks that they agree).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

TRAINER_IMAGE_NAME = "financial-mlops-trainer"
MLSERVER_IMAGE_NAME = "financial-mlops-mlserver"
# Capability our Models require (CAPABILITY of the ML package's serving
# module); the collection never imports the ML package, so it is repeated here.
SERVING_CAPABILITY = "financial-lstm"
# mlserver_capabilities default (roles/mlserver/defaults/main.yml).
DEFAULT_MLSERVER_CAPABILITIES = ("financial-lstm", "mlserver", "python")
UPSTREAM_MLSERVER = re.compile(r"(^|/)seldonio/mlserver([:@]|$)")

# (subject, what is wrong, how to fix it): preflight.py turns them into problems.
Problem = tuple[str, str, str]


def _repository(image: str) -> str:
    """``host/ns/name:tag@digest`` -> ``host/ns/name``."""
    without_digest = image.split("@", 1)[0]
    last = without_digest.rsplit("/", 1)[-1]
    if ":" in last:
        without_digest = without_digest[: len(without_digest) - len(last)] + last.split(":", 1)[0]
    return without_digest


def effective_images(settings: Mapping[str, Any]) -> dict[str, str]:
    """ml_trainer_image and mlserver_image as the roles will see them (inventory value, else default)."""
    registry = str(settings.get("ml_image_registry") or "localhost").rstrip("/")
    return {
        "ml_trainer_image": str(settings.get("ml_trainer_image") or f"{registry}/{TRAINER_IMAGE_NAME}"),
        "mlserver_image": str(settings.get("mlserver_image") or f"{registry}/{MLSERVER_IMAGE_NAME}"),
    }


def _archive_for(repository: str, archives: list[str]) -> str | None:
    name = repository.rsplit("/", 1)[-1]
    return next((a for a in archives if PurePosixPath(a).name.startswith(name)), None)


def image_problems(settings: Mapping[str, Any]) -> list[Problem]:
    """Every application image a node could not get, with the fix."""
    problems: list[Problem] = []
    raw_archives = settings.get("k3s_image_archives") or []
    if not isinstance(raw_archives, list) or not all(isinstance(a, str) for a in raw_archives):
        return [
            (
                "k3s_image_archives",
                f"is {raw_archives!r}, not a list of archive paths",
                "list the controller paths of the image archives "
                "(make images ARCHIVES=1 writes build/images/*.tar)",
            )
        ]
    archives: list[str] = raw_archives
    images = effective_images(settings)
    pull_policies = {
        "ml_trainer_image": settings.get("ml_trainer_image_pull_policy") or "IfNotPresent",
        "mlserver_image": "IfNotPresent",
    }
    for variable, image in images.items():
        repository = _repository(image)
        if not (repository.startswith("localhost/") or "/" not in repository):
            continue
        archive = _archive_for(repository, archives)
        if archive is None:
            problems.append(
                (
                    variable,
                    f"{image} is an image only the machine that built it has (localhost/ or no registry), "
                    "and no k3s_image_archives entry delivers it to the nodes",
                    "set ml_image_registry to the registry/namespace the nodes pull from and push there "
                    "(make images ML_IMAGE_REGISTRY=<registry>/<namespace>), or without a registry save the "
                    "images (make images ARCHIVES=1 writes build/images/<name>-<tag>.tar) and list them in "
                    "k3s_image_archives",
                )
            )
        elif pull_policies[variable] == "Always":
            problems.append(
                (
                    "ml_trainer_image_pull_policy",
                    f"is Always while {image} comes from the archive {archive}, so every pull fails",
                    "set ml_trainer_image_pull_policy: IfNotPresent (the image is imported from the archive)",
                )
            )
    capabilities = settings.get("mlserver_capabilities", list(DEFAULT_MLSERVER_CAPABILITIES))
    if (
        isinstance(capabilities, list)
        and SERVING_CAPABILITY in capabilities
        and UPSTREAM_MLSERVER.search(_repository(images["mlserver_image"]))
    ):
        problems.append(
            (
                "mlserver_image",
                f"{images['mlserver_image']} is the upstream MLServer image, which does not contain "
                f"our serving runtime, yet the Server claims the {SERVING_CAPABILITY!r} capability: our "
                "Models would be scheduled on it and fail to load their runtime",
                "remove mlserver_image from the inventory so it defaults to our serving image "
                f"(<ml_image_registry>/{MLSERVER_IMAGE_NAME}), or set it to a build of "
                "containers/Containerfile.mlserver",
            )
        )
    return problems
