"""Every diagnosis on its broken fixture, and nothing false on the healthy one."""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible_collections.finmlops.platform.plugins.module_utils.doctor import has_errors, run
from ansible_collections.finmlops.platform.plugins.module_utils.doctor.finding import Finding
from ansible_collections.finmlops.platform.plugins.module_utils.doctor.request import render_request
from ansible_collections.finmlops.platform.plugins.module_utils.doctor.snapshot import Snapshot

FIXTURES = Path(__file__).parent / "fixtures"


def diagnose(name: str) -> list[Finding]:
    return run(Snapshot.load(str(FIXTURES / f"{name}.yaml")))


def only(findings: list[Finding], finding_id: str) -> Finding:
    matching = [f for f in findings if f.id == finding_id]
    assert len(matching) == 1, [f.id for f in findings]
    return matching[0]


def test_healthy_snapshot_has_no_findings():
    findings = diagnose("healthy")
    assert findings == []
    assert not has_errors(findings)


# fixture -> the exact set of finding ids it must produce (no more: extra ids are false positives).
EXPECTED = {
    "model-requirements": {"seldon-model-requirements-unmet"},
    "server-not-ready": {"seldon-server-not-ready", "seldon-model-waiting-for-server"},
    "serverconfig-missing": {"seldon-serverconfig-missing", "seldon-model-waiting-for-server"},
    "model-before-server": {"seldon-model-created-before-server"},
    "network-blocked": {
        "network-policy-blocks-seldon-flow",
        "network-policy-blocks-api-server",
        "calico-node-not-ready",
        "seldon-server-not-ready",
    },
    "storage-errors": {
        "storage-client-wrong-address",
        "storage-secret-invalid",
        "storage-service-ip-not-reserved",
        "storage-uri-not-model-dir",
    },
    "inference-404": {
        "inference-404-version-suffix",
        "inference-404-experiment-header",
        "inference-404-missing-header",
        "inference-404-experiment-missing-model",
    },
    "namespace-terminating": {"namespace-stuck-terminating"},
    "loadbalancer-ip": {"loadbalancer-ip-not-reserved", "loadbalancer-ip-outside-pools"},
}


@pytest.mark.parametrize("fixture", sorted(EXPECTED))
def test_broken_fixture_yields_exactly_its_findings(fixture):
    findings = diagnose(fixture)
    assert {f.id for f in findings} == EXPECTED[fixture]
    assert has_errors(findings)
    for finding in findings:
        assert finding.evidence and all(isinstance(e, str) and e for e in finding.evidence)
        assert finding.fix.strip()


def test_requirements_unmet_names_capabilities_and_patch():
    finding = only(diagnose("model-requirements"), "seldon-model-requirements-unmet")
    assert "Model/financial-ml/lstm-enhanced spec.requirements=['pytorch']" in finding.evidence
    assert any("financial-lstm" in e and "ServerConfig financial-ml/mlserver" in e for e in finding.evidence)
    assert any("no matching servers are available" in e for e in finding.evidence)
    assert 'extraCapabilities: ["pytorch"]' in finding.fix
    assert "kubectl -n financial-ml patch model lstm-enhanced" in finding.fix
    assert not finding.needs_cluster_admin


def test_server_not_ready_shows_statefulset_and_container():
    findings = diagnose("server-not-ready")
    server = only(findings, "seldon-server-not-ready")
    assert any("StatefulSet/financial-ml/financial-mlserver readyReplicas=0" in e for e in server.evidence)
    assert any("CrashLoopBackOff" in e for e in server.evidence)
    waiting = [f for f in findings if f.id == "seldon-model-waiting-for-server"]
    assert sorted(f.title.split()[1] for f in waiting) == ["lstm-baseline", "lstm-enhanced"]


def test_serverconfig_missing_points_at_the_other_namespace():
    finding = only(diagnose("serverconfig-missing"), "seldon-serverconfig-missing")
    assert "no ServerConfig/financial-ml/mlserver in the snapshot" in finding.evidence
    assert any("ServerConfig/seldon-system/mlserver" in e for e in finding.evidence)
    assert finding.needs_cluster_admin


def test_model_before_server_uses_creation_order():
    finding = only(diagnose("model-before-server"), "seldon-model-created-before-server")
    assert (
        "Model/financial-ml/lstm-baseline metadata.creationTimestamp=2026-11-20T09:10:00Z" in finding.evidence
    )
    assert any("2026-11-20T09:30:00Z (later)" in e for e in finding.evidence)
    assert "kubectl -n financial-ml delete model lstm-baseline" in finding.fix


def test_network_path_analysis_names_policies_ports_and_gives_policy():
    findings = diagnose("network-blocked")
    flows = {f.title for f in findings if f.id == "network-policy-blocks-seldon-flow"}
    assert "NetworkPolicy blocks agent-to-scheduler (9005/TCP) in financial-ml" in flows
    agent = next(f for f in findings if "agent-to-scheduler" in f.title)
    assert any("financial-ml/default-deny" in e and "egress denied" in e for e in agent.evidence)
    assert any("DeadlineExceeded" in e for e in agent.evidence)
    assert "port: 9005" in agent.fix and "app.kubernetes.io/name: seldon-scheduler" in agent.fix
    assert agent.needs_cluster_admin
    # The controller's ingress to the scheduler is still allowed by allow-seldon-controller.
    assert not any("controller-to-scheduler" in t for t in flows)
    api = only(findings, "network-policy-blocks-api-server")
    assert "cidr: 192.168.1.11/32" in api.fix and "port: 6443" in api.fix
    calico = only(findings, "calico-node-not-ready")
    assert "k3s-agent-1" in calico.title
    assert any("financial-mlserver-0" in e for e in calico.evidence)


def test_storage_findings_carry_addresses_keys_and_uri():
    findings = diagnose("storage-errors")
    address = only(findings, "storage-client-wrong-address")
    assert any("http://192.168.1.150:5000" in e for e in address.evidence)
    assert "http://mlflow.mlflow.svc.cluster.local:5000" in address.fix
    ip = only(findings, "storage-service-ip-not-reserved")
    assert "inventory metallb_ip_reservations.minio=192.168.1.201" in ip.evidence
    assert "metallb.io/loadBalancerIPs=192.168.1.201" in ip.fix
    secrets = {f.title: f for f in findings if f.id == "storage-secret-invalid"}
    evidence = [e for f in secrets.values() for e in f.evidence]
    assert (
        "Secret/mlflow/mlflow-s3 has keys ['AWS_ACCESS_KEY_ID']; missing ['AWS_SECRET_ACCESS_KEY']"
        in evidence
    )
    assert "Secret/mlflow/minio-root data.rootPassword is not valid base64" in evidence
    assert any("data.password ends with a newline" in e for e in evidence)
    uri = only(findings, "storage-uri-not-model-dir")
    assert any(e.endswith("/model.pt") for e in uri.evidence)
    assert "artifacts/mlserver-model." in uri.fix


def test_inference_404_explains_each_request():
    findings = diagnose("inference-404")
    suffix = only(findings, "inference-404-version-suffix")
    assert "-H 'seldon-model: lstm-baseline'" in suffix.fix
    experiment = only(findings, "inference-404-experiment-header")
    assert "seldon-model: lstm-ab.experiment" in experiment.fix
    missing = only(findings, "inference-404-experiment-missing-model")
    assert "lstm-lightweight" in missing.title


def test_namespace_terminating_lists_finalizers_and_patch():
    finding = only(diagnose("namespace-terminating"), "namespace-stuck-terminating")
    assert any("metadata.finalizers=['workflows.argoproj.io/artifact-gc']" in e for e in finding.evidence)
    assert any("NamespaceFinalizersRemaining" in e for e in finding.evidence)
    assert (
        "kubectl -n financial-mlops-pytorch patch workflow.argoproj.io financial-training-pipeline-x7k2p "
        '--type=merge -p \'{"metadata":{"finalizers":null}}\'' in finding.fix
    )


def test_loadbalancer_reservation_and_pool():
    findings = diagnose("loadbalancer-ip")
    mesh = only(findings, "loadbalancer-ip-not-reserved")
    assert "inventory metallb_ip_reservations.seldon-mesh=192.168.1.203" in mesh.evidence
    assert "metallb.io/loadBalancerIPs=192.168.1.203" in mesh.fix
    outside = only(findings, "loadbalancer-ip-outside-pools")
    assert "10.0.0.50" in outside.title and outside.needs_cluster_admin


def test_inventory_context_overrides_snapshot_context():
    snap = Snapshot.load(str(FIXTURES / "healthy.yaml"))
    findings = run(snap, {"metallb_ip_reservations": {"mlflow": "192.168.1.209"}})
    assert [f.id for f in findings] == ["storage-service-ip-not-reserved"]


def test_request_document_lists_only_cluster_admin_findings():
    findings = diagnose("network-blocked")
    text = render_request(findings, "financial-mlops", "ops", "2026-11-20T10:00:00Z", "fixture")
    wanted = [f for f in findings if f.needs_cluster_admin]
    assert f"- Changes requested: {len(wanted)}" in text
    assert text.count("\n## ") == len(wanted)
    assert "seldon-server-not-ready" not in text  # a namespace owner fixes that one
    assert "NetworkPolicies of the platform namespaces are owned by the platform team" in text
    assert "cidr: 192.168.1.11/32" in text
    empty = render_request([], "financial-mlops", "ops", "", "")
    assert "no request is needed" in empty
