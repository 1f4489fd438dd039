"""verify.yml's table logic on fixtures."""

from __future__ import annotations

from pathlib import Path

from ansible_collections.finmlops.platform.plugins.module_utils.doctor import expectations
from ansible_collections.finmlops.platform.plugins.module_utils.doctor.snapshot import Snapshot
from ansible_collections.finmlops.platform.plugins.module_utils.doctor.verify import format_table, verify_rows

FIXTURES = Path(__file__).parent / "fixtures"
PROBE_OK = {"url": "http://192.168.1.200:5000/health", "status": 200}


def rows_for(name: str, probe: dict | None = PROBE_OK, **overrides) -> list[dict[str, str]]:
    snap = Snapshot.load(str(FIXTURES / f"{name}.yaml"))
    ctx = expectations(snap, overrides)
    return verify_rows(
        snap,
        ctx["metallb_ip_reservations"],
        ctx["metallb_address_pools"],
        ctx["expected_nodes"],
        ctx["k3s_version"],
        probe,
    )


def failed(rows):
    return {(r["check"], r["target"]) for r in rows if r["state"] == "FAIL"}


def test_healthy_cluster_passes_every_check():
    rows = rows_for("healthy")
    assert failed(rows) == set()
    checks = {r["check"] for r in rows}
    assert checks == {
        "CNI is Calico",
        "TigeraStatus calico",
        "calico-node on node",
        "LoadBalancer IP",
        "node",
        "Seldon Server",
        "Seldon Model",
        "Argo controller",
        "MLflow via LB IP",
    }
    assert sum(1 for r in rows if r["check"] == "node") == 5
    table = format_table(rows)
    assert table[0].split()[:3] == ["STATE", "CHECK", "TARGET"]
    assert table[-1] == f"{len(rows)} checks, 0 failed"


def test_broken_fixtures_fail_the_right_rows():
    assert ("calico-node on node", "k3s-agent-1") in failed(rows_for("network-blocked"))
    assert ("LoadBalancer IP", "Service/financial-ml/seldon-mesh") in failed(rows_for("loadbalancer-ip"))
    assert ("Seldon Server", "Server/financial-ml/financial-mlserver") in failed(rows_for("server-not-ready"))
    assert ("Seldon Model", "Model/financial-ml/lstm-baseline") in failed(rows_for("model-before-server"))


def test_node_version_role_and_mlflow_probe():
    rows = rows_for(
        "healthy",
        probe={"url": "http://192.168.1.200:5000/health", "status": -1, "msg": "Connection refused"},
        k3s_version="v1.33.2+k3s1",
        expected_nodes={"k3s-server-1": "agent"},
    )
    bad = failed(rows)
    assert ("MLflow via LB IP", "http://192.168.1.200:5000/health") in bad
    server1 = next(r for r in rows if r["check"] == "node" and r["target"] == "k3s-server-1")
    assert "expected role agent" in server1["detail"] and "expected v1.33.2+k3s1" in server1["detail"]
    assert ("node", "k3s-agent-2") in bad  # in the cluster but not in the inventory
