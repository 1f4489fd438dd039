"""Readiness and redaction helpers used by the k8s_apply spine."""

from __future__ import annotations

import pytest
from ansible_collections.finmlops.platform.plugins.module_utils.k8s_objects import (
    REDACTED,
    object_ref,
    poll_retries,
    redact_secret,
    resource_ready,
)


def test_secret_values_are_redacted_keys_kept() -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "mlflow"},
        "data": {"password": "c2VjcmV0"},
        "stringData": {"username": "mlflow"},
    }
    redacted = redact_secret(secret)
    assert redacted["stringData"] == {"username": REDACTED, "password": REDACTED}
    assert "data" not in redacted
    assert secret["data"] == {"password": "c2VjcmV0"}, "the input must not be modified"


def test_other_kinds_are_untouched() -> None:
    cm = {"kind": "ConfigMap", "data": {"a": "b"}}
    assert redact_secret(cm) is cm


def _deployment(replicas=2, updated=2, available=2, generation=3, observed=3):
    return {
        "kind": "Deployment",
        "metadata": {"generation": generation},
        "spec": {"replicas": replicas},
        "status": {
            "observedGeneration": observed,
            "updatedReplicas": updated,
            "availableReplicas": available,
        },
    }


@pytest.mark.parametrize(
    ("obj", "ready"),
    [
        (_deployment(), True),
        (_deployment(available=1), False),
        (_deployment(observed=2), False),
        (_deployment(updated=1), False),
    ],
)
def test_deployment_rollout(obj, ready) -> None:
    assert resource_ready(obj, "rollout") is ready


def test_daemonset_rollout_needs_every_node() -> None:
    ds = {
        "kind": "DaemonSet",
        "metadata": {"generation": 1},
        "status": {
            "observedGeneration": 1,
            "desiredNumberScheduled": 5,
            "updatedNumberScheduled": 5,
            "numberAvailable": 4,
        },
    }
    assert not resource_ready(ds, "rollout")
    ds["status"]["numberAvailable"] = 5
    assert resource_ready(ds, "rollout")


def test_condition_readiness() -> None:
    status = {"kind": "TigeraStatus", "status": {"conditions": [{"type": "Available", "status": "True"}]}}
    assert resource_ready(status, "Available")
    assert not resource_ready(status, "Ready")
    assert resource_ready(
        {"status": {"conditions": [{"type": "Ready", "status": "False"}]}}, "Ready", "False"
    )


def test_rollout_on_a_custom_resource_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="rollout readiness needs one of"):
        resource_ready({"kind": "Model"}, "rollout")


def test_poll_retries_and_object_ref() -> None:
    assert poll_retries(300, 5) == 61
    assert poll_retries(10, 0) == 11
    assert object_ref({"kind": "Node", "metadata": {"name": "n1"}}) == "Node/n1"
    assert object_ref({"kind": "Pod", "metadata": {"name": "p", "namespace": "x"}}) == "Pod/x/p"
