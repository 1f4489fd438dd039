"""What the host-plane roles render for inventory/sample, per node and per CNI.

Runs tests/host/render_host_templates.yml (controller only, no host is
contacted) and checks the rendered config.yaml, CNI drop-in, kernel modules
and firewall rules. molecule/default checks the same files on real nodes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = ROOT / "tests/host/render_host_templates.yml"
SERVERS = {"k3s-server-1": "192.168.1.11", "k3s-server-2": "192.168.1.12", "k3s-server-3": "192.168.1.13"}
AGENTS = {"k3s-agent-1": "192.168.1.21", "k3s-agent-2": "192.168.1.22"}
API = "https://192.168.1.11:6443"


def render(tmp_path: Path, cni: str) -> dict[str, dict]:
    out = tmp_path / cni
    out.mkdir()
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    cmd = [
        str(Path(sys.executable).with_name("ansible-playbook")),
        "-i",
        str(ROOT / "inventory/sample"),
        str(PLAYBOOK),
        "-e",
        f"render_out={out} k3s_cni={cni}",
    ]
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")}


@pytest.fixture(scope="module")
def calico(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    return render(tmp_path_factory.mktemp("render"), "calico")


@pytest.mark.slow
def test_first_server_initialises_etcd_and_the_others_join(calico: dict[str, dict]) -> None:
    first = calico["k3s-server-1"]["config"]
    assert first["cluster-init"] is True and "server" not in first
    for name in ("k3s-server-2", "k3s-server-3", *AGENTS):
        config = calico[name]["config"]
        assert config["server"] == API and "cluster-init" not in config, name


@pytest.mark.slow
def test_every_node_reads_the_token_from_its_file_only(calico: dict[str, dict]) -> None:
    for name, addresses in {**SERVERS, **AGENTS}.items():
        config = calico[name]["config"]
        assert config["token-file"] == "/etc/rancher/k3s/token"
        assert not {"token", "agent-token"} & config.keys()
        assert config["node-name"] == name and config["node-ip"] == addresses


@pytest.mark.slow
def test_servers_disable_servicelb_traefik_and_sign_the_endpoint(calico: dict[str, dict]) -> None:
    for name, address in SERVERS.items():
        config = calico[name]["config"]
        assert config["disable"] == ["servicelb", "traefik"]
        assert config["tls-san"][:2] == ["192.168.1.11", address] or config["tls-san"] == ["192.168.1.11"]
        assert (config["cluster-cidr"], config["service-cidr"]) == ("10.42.0.0/16", "10.43.0.0/16")
        assert "flannel-backend" not in config  # CNI settings live in the drop-in only
    assert "disable" not in calico["k3s-agent-1"]["config"]


@pytest.mark.slow
def test_cni_dropin_modules_and_firewall_follow_k3s_cni(calico: dict[str, dict], tmp_path: Path) -> None:
    flannel = render(tmp_path, "flannel")
    assert calico["k3s-server-1"]["cni"] == {"flannel-backend": "none", "disable-network-policy": True}
    assert flannel["k3s-server-1"]["cni"] == {"flannel-backend": "vxlan"}
    assert {"overlay", "br_netfilter", "ipip", "vxlan"} <= set(calico["k3s-agent-1"]["modules"])
    assert flannel["k3s-agent-1"]["modules"] == ["overlay", "br_netfilter", "vxlan"]

    def ports(rules: list[dict]) -> set[str]:
        return {f"{r['port']}/{r['proto']}" for r in rules}

    assert {"4789/udp", "179/tcp", "5473/tcp"} <= ports(calico["k3s-agent-1"]["firewall"])
    assert "8472/udp" not in ports(calico["k3s-agent-1"]["firewall"])
    assert "8472/udp" in ports(flannel["k3s-agent-1"]["firewall"])
    server_rules = {f"{r['port']}/{r['proto']}": r for r in calico["k3s-server-2"]["firewall"]}
    assert server_rules["2379:2380/tcp"]["sources"] == list(SERVERS.values())
    assert "6443/tcp" in server_rules
    assert not {"6443/tcp", "2379:2380/tcp"} & ports(calico["k3s-agent-1"]["firewall"])
    assert {"10250/tcp", "7946/tcp", "7946/udp"} <= ports(calico["k3s-agent-2"]["firewall"])
