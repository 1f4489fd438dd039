"""The remaining finding kinds, each from a one-change variant of the healthy snapshot."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible_collections.finmlops.platform.plugins.module_utils.doctor import run
from ansible_collections.finmlops.platform.plugins.module_utils.doctor.snapshot import Snapshot, SnapshotError

HEALTHY = Path(__file__).parent / "fixtures" / "healthy.yaml"
NO_MATCH = "Failed to schedule model as no matching servers are available"


@pytest.fixture()
def doc():
    return yaml.safe_load(HEALTHY.read_text())


def find(doc, kind, name, namespace=None):
    return next(
        o
        for o in doc["objects"]
        if o["kind"] == kind and o["metadata"]["name"] == name and o["metadata"].get("namespace") == namespace
    )


def ids(doc):
    return [f.id for f in run(Snapshot.from_document(doc))]


def unready(model, message=NO_MATCH):
    for cond in model["status"]["conditions"]:
        cond.update({"status": "False", "reason": "ScheduleFailed", "message": message})


def test_model_pinned_to_a_missing_server(doc):
    model = find(doc, "Model", "lstm-baseline", "financial-ml")
    model["spec"]["server"] = "triton"
    unready(model)
    assert ids(doc) == ["seldon-model-no-server"]


def test_model_not_scheduled_although_a_ready_server_matches(doc):
    unready(find(doc, "Model", "lstm-baseline", "financial-ml"))
    assert ids(doc) == ["seldon-model-not-scheduled"]


def test_missing_secret(doc):
    doc["objects"].remove(find(doc, "Secret", "mlflow-s3", "mlflow"))
    assert ids(doc) == ["storage-secret-missing"]


def test_unknown_model_and_experiment_in_requests(doc):
    doc["requests"] = [
        {"path": "/v2/models/lstm-basline/infer", "headers": {"seldon-model": "lstm-basline"}, "status": 404},
        {"path": "/v2/models/x/infer", "headers": {"seldon-model": "lstm-abc.experiment"}, "status": 404},
    ]
    findings = run(Snapshot.from_document(doc))
    assert sorted(f.id for f in findings) == [
        "inference-404-unknown-experiment",
        "inference-404-unknown-model",
    ]
    unknown = next(f for f in findings if f.id == "inference-404-unknown-model")
    assert "seldon-model: lstm-baseline" in unknown.fix  # closest existing name


def test_pending_and_unpinned_load_balancers(doc):
    argo = find(doc, "Service", "argo-server", "argo")
    argo["status"]["loadBalancer"]["ingress"] = []
    del doc["context"]["metallb_ip_reservations"]["argo-server"]
    find(doc, "Service", "seldon-mesh", "financial-ml")["metadata"]["annotations"] = {}
    findings = {f.id: f for f in run(Snapshot.from_document(doc))}
    assert set(findings) == {"loadbalancer-ip-pending", "loadbalancer-ip-unpinned"}
    assert findings["loadbalancer-ip-unpinned"].severity == "warning"


def test_snapshot_without_objects_list_is_rejected_with_a_hint():
    with pytest.raises(SnapshotError, match=r"playbooks/day2/snapshot\.yml"):
        Snapshot.from_document({"items": []})
