"""The publish step's apply-and-wait logic (serving/publish.py) against a TEST DOUBLE of the Kubernetes API.

No API server can run here, so ``FakeCustomObjects`` stands in for
``kubernetes.client.CustomObjectsApi``: it records the server-side apply
calls and answers reads with the Model statuses a test scripts.
"""

from __future__ import annotations

from typing import Any

import pytest
from financial_mlops.serving import CAPABILITY
from financial_mlops.serving.publish import FIELD_MANAGER, PublishFailed, publish
from financial_mlops.serving.seldon import DEFAULT_SECRET_NAME, ModelRef, SeldonOptions, model_manifest

NS = "financial-ml"


class FakeCustomObjects:
    """Test double: records applies; get returns the next scripted status of each Model."""

    def __init__(self, statuses: dict[str, list[dict[str, Any]]], refuse: int | None = None) -> None:
        self.statuses = statuses
        self.applied: list[dict[str, Any]] = []
        self.refuse = refuse

    def patch_namespaced_custom_object(self, group, version, namespace, plural, name, body, **kwargs):
        if self.refuse:
            error = RuntimeError("refused")
            error.status, error.reason, error.body = self.refuse, "Forbidden", '{"message": "denied"}'  # type: ignore[attr-defined]
            raise error
        self.applied.append({"group": group, "version": version, "namespace": namespace, "plural": plural,
                             "name": name, "body": body, **kwargs})  # fmt: skip
        return body

    def get_namespaced_custom_object(self, group, version, namespace, plural, name):
        script = self.statuses[name]
        status = script.pop(0) if len(script) > 1 else script[0]
        return {"metadata": {"name": name}, "status": status}


def ready(status: str, reason: str = "", message: str = "") -> dict[str, Any]:
    return {"conditions": [{"type": "Ready", "status": status, "reason": reason, "message": message}]}


@pytest.fixture
def manifests() -> list[dict[str, Any]]:
    ref = ModelRef(
        "baseline", "financial-lstm-baseline", "7", "run-1", "s3://mlflow-artifacts/1/run-1/artifacts/serving"
    )
    return [model_manifest(ref, SeldonOptions())]


def test_apply_is_server_side_and_waits_until_ready(manifests) -> None:
    api = FakeCustomObjects({"financial-lstm-baseline": [ready("False", "ModelProgressing"), ready("True")]})
    result = publish(manifests, "apply", NS, api, timeout=30, poll=0)
    (call,) = api.applied
    assert (call["group"], call["version"], call["plural"], call["namespace"]) == (
        "mlops.seldon.io", "v1alpha1", "models", NS,
    )  # fmt: skip
    assert call["field_manager"] == FIELD_MANAGER and call["force"] is True
    assert call["_content_type"] == "application/apply-patch+yaml"
    assert call["body"]["spec"]["secretName"] == DEFAULT_SECRET_NAME
    assert call["body"]["spec"]["requirements"] == [CAPABILITY]
    assert result.ready and result.served == {"financial-lstm-baseline": "7"}


def test_a_failed_model_fails_with_its_own_condition_message(manifests) -> None:
    message = "failed to download s3://mlflow-artifacts/1/run-1/artifacts/serving: AccessDenied"
    api = FakeCustomObjects({"financial-lstm-baseline": [ready("False", "ModelFailed", message)]})
    with pytest.raises(PublishFailed, match="AccessDenied") as err:
        publish(manifests, "apply", NS, api, timeout=30, poll=0)
    assert "Model financial-lstm-baseline Ready=False (ModelFailed)" in str(err.value)


def test_a_model_that_never_gets_ready_times_out_naming_its_status(manifests) -> None:
    api = FakeCustomObjects({"financial-lstm-baseline": [ready("False", "ModelProgressing", "loading")]})
    with pytest.raises(PublishFailed, match=r"not Ready after 0s: .*ModelProgressing.*loading"):
        publish(manifests, "apply", NS, api, timeout=0, poll=0)


def test_a_refused_apply_names_the_object_and_the_role(manifests) -> None:
    api = FakeCustomObjects({}, refuse=403)
    with pytest.raises(
        PublishFailed, match="Model financial-ml/financial-lstm-baseline was refused: HTTP 403"
    ) as err:
        publish(manifests, "apply", NS, api, timeout=0, poll=0)
    assert "seldon-model-publisher" in str(err.value)


def test_render_touches_no_cluster(manifests) -> None:
    result = publish(manifests, "render", NS, api=None)
    assert result.objects == ["Model/financial-lstm-baseline"] and not result.ready
    with pytest.raises(ValueError, match="apply or render"):
        publish(manifests, "dry-run", NS)


def test_the_storage_secret_has_one_name_everywhere() -> None:
    """seldon.py's default, the mlserver role (which creates it), the pipeline parameter, model_lifecycle."""
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[2]
    mlserver = yaml.safe_load((root / "roles/mlserver/defaults/main.yml").read_text())
    steps = yaml.safe_load((root / "roles/ml_trainer/files/pipeline-steps.yml").read_text())
    trainer = yaml.safe_load((root / "roles/ml_trainer/defaults/main.yml").read_text())
    assert mlserver["mlserver_storage_secret"] == DEFAULT_SECRET_NAME
    assert steps["parameters"]["storage-secret"]["default"] == DEFAULT_SECRET_NAME
    assert trainer["ml_trainer_parameter_defaults"]["storage-secret"] == (
        "{{ mlserver_storage_secret | default('" + DEFAULT_SECRET_NAME + "') }}"
    )
    # promote-model.yml and rollback-model.yml publish through the model_lifecycle role.
    lifecycle = (root / "roles/model_lifecycle/defaults/main.yml").read_text()
    assert "mlserver_storage_secret" in lifecycle and "seldon-rclone-s3" not in lifecycle
