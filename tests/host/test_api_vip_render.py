"""What k3s_server/k3s_agent render for k3s_api_vip and the etcd snapshots (inventory/sample + -e).

Runs tests/host/render_api_vip.yml (controller only). The kube-vip manifest is
validated against the Kubernetes 1.33 schemas (strict); molecule/default
checks the same files on nodes.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from ansible_collections.finmlops.platform.plugins.module_utils import manifest_validation as mv

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = ROOT / "tests/host/render_api_vip.yml"
VIP = "192.168.1.10"
SERVERS = ("k3s-server-1", "k3s-server-2", "k3s-server-3")
AGENTS = ("k3s-agent-1", "k3s-agent-2")


def render(out: Path, extra: dict) -> dict[str, dict]:
    out.mkdir()
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    cmd = [
        str(Path(sys.executable).with_name("ansible-playbook")),
        "-i",
        str(ROOT / "inventory/sample"),
        str(PLAYBOOK),
        "-e",
        json.dumps({"render_out": str(out), **extra}),
    ]
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    return {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")}


@pytest.fixture(scope="module")
def with_vip(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    return render(
        tmp_path_factory.mktemp("vip") / "out",
        {
            "k3s_api_vip": VIP,
            "k3s_api_endpoint": VIP,
            "k3s_server_etcd_s3": True,
            "k3s_server_etcd_s3_endpoint": "minio.lab.example:9000",
            "k3s_server_etcd_s3_bucket": "etcd",
            "k3s_server_etcd_s3_folder": "prod",
            "vault_etcd_s3_access_key": "render-access",
            "vault_etcd_s3_secret_key": "render-secret-value",
        },
    )


@pytest.mark.slow
def test_every_node_uses_the_vip_and_every_server_signs_it(with_vip: dict[str, dict]) -> None:
    assert "server" not in with_vip["k3s-server-1"]["config"]
    for name in (*SERVERS[1:], *AGENTS):
        assert with_vip[name]["config"]["server"] == f"https://{VIP}:6443", name
    for name in SERVERS:
        assert VIP in with_vip[name]["config"]["tls-san"], name


@pytest.mark.slow
def test_kube_vip_manifest_is_valid_pinned_arp_and_control_plane_only(with_vip: dict[str, dict]) -> None:
    docs = with_vip["k3s-server-1"]["kube_vip"]
    assert mv.validate_objects(docs, strict=True).errors == []
    assert [d["kind"] for d in docs] == ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "DaemonSet"]
    spec = docs[-1]["spec"]["template"]["spec"]
    container = spec["containers"][0]
    assert re.fullmatch(r"ghcr\.io/kube-vip/kube-vip:v\d+\.\d+\.\d+@sha256:[0-9a-f]{64}", container["image"])
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["address"] == VIP and env["vip_arp"] == "true" and env["vip_interface"] == "eth0"
    assert (env["cp_enable"], env["svc_enable"]) == ("true", "false")  # MetalLB keeps the Services
    assert spec["hostNetwork"] is True
    terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    assert terms[0]["matchExpressions"][0]["key"] == "node-role.kubernetes.io/control-plane"
    assert all(with_vip[name]["kube_vip"] == docs for name in SERVERS)


@pytest.mark.slow
def test_snapshots_are_scheduled_and_the_s3_secret_is_only_in_its_dropin(with_vip: dict[str, dict]) -> None:
    for name in SERVERS:
        node = with_vip[name]
        assert node["snapshots"] == {
            "etcd-snapshot-schedule-cron": "0 */6 * * *",
            "etcd-snapshot-retention": 10,
            "etcd-s3": True,
            "etcd-s3-endpoint": "minio.lab.example:9000",
            "etcd-s3-bucket": "etcd",
            "etcd-s3-region": "us-east-1",
            "etcd-s3-folder": "prod",
        }
        assert node["credentials"] == {
            "etcd-s3-access-key": "render-access",
            "etcd-s3-secret-key": "render-secret-value",
        }
        assert "render-secret-value" not in json.dumps([node["config"], node["snapshots"], node["kube_vip"]])


@pytest.mark.slow
def test_defaults_schedule_snapshots_without_s3_and_sample_has_no_vip(tmp_path: Path) -> None:
    nodes = render(tmp_path / "out", {})
    snapshots = nodes["k3s-server-1"]["snapshots"]
    assert snapshots == {"etcd-snapshot-schedule-cron": "0 */6 * * *", "etcd-snapshot-retention": 10}
    assert nodes["k3s-server-2"]["config"]["server"] == "https://192.168.1.11:6443"
    assert "" not in nodes["k3s-server-2"]["config"]["tls-san"]
    off = render(tmp_path / "off", {"k3s_server_etcd_snapshot_cron": ""})
    assert off["k3s-server-1"]["snapshots"] == {"etcd-disable-snapshots": True}
