"""Calico and MetalLB render to manifests that pass the pinned schemas, with the intended settings."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from ansible_collections.finmlops.platform.plugins.module_utils import manifest_validation as mv

PLAYBOOK = Path(__file__).with_name("render_networking.yml")


def _render(project_root: Path, env: dict[str, str], out: Path, *extra: str) -> dict[str, list[dict]]:
    cmd = [
        "ansible-playbook", "-i", str(project_root / "inventory" / "sample"), str(PLAYBOOK),
        "-e", "platform_mode=render", "-e", f"platform_render_dir={out}", *extra,
    ]  # fmt: skip
    run = subprocess.run(cmd, cwd=project_root, env=env, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    folders: dict[str, list[dict]] = {}
    for path in sorted(out.glob("*/*.yaml")):
        folders.setdefault(path.parent.name, []).extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return folders


def _by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


@pytest.mark.slow
def test_default_render_is_valid_and_pinned(tmp_path, project_root, ansible_env, schema_dir) -> None:
    folders = _render(project_root, ansible_env, tmp_path)
    assert list(folders) == ["10-calico-operator", "11-calico", "20-metallb", "21-metallb-config"]
    every = [d for docs in folders.values() for d in docs]
    report = mv.validate_objects(every, schema_dir)
    assert report.errors == []

    chart = _by_kind(folders["10-calico-operator"], "HelmChart")[0]["spec"]
    assert (chart["chart"], chart["version"], chart["bootstrap"]) == ("tigera-operator", "v3.30.7", True)
    assert chart["repo"] == "https://docs.tigera.io/calico/charts"
    values = yaml.safe_load(chart["valuesContent"])
    assert values["installation"] == {"enabled": False} and values["apiServer"] == {"enabled": False}
    assert values["kubernetesServiceEndpoint"] == {"host": "192.168.1.11", "port": "6443"}

    install = _by_kind(folders["11-calico"], "Installation")[0]["spec"]
    net = install["calicoNetwork"]
    assert net["ipPools"] == [{
        "name": "default-ipv4-ippool", "cidr": "10.42.0.0/16", "blockSize": 26,
        "encapsulation": "VXLANCrossSubnet", "natOutgoing": "Enabled", "nodeSelector": "all()",
    }]  # fmt: skip
    assert (net["mtu"], net["bgp"], net["containerIPForwarding"]) == (1450, "Disabled", "Enabled")
    assert net["nodeAddressAutodetectionV4"] == {"cidrs": ["192.168.1.0/24"]}
    assert _by_kind(folders["11-calico"], "APIServer")

    mlb = _by_kind(folders["20-metallb"], "HelmChart")[0]["spec"]
    assert (mlb["chart"], mlb["version"], mlb["repo"]) == (
        "metallb",
        "0.15.3",
        "https://metallb.github.io/metallb",
    )
    config = folders["21-metallb-config"]
    pool = _by_kind(config, "IPAddressPool")[0]["spec"]
    assert pool == {"addresses": ["192.168.1.200-192.168.1.220"], "avoidBuggyIPs": True, "autoAssign": True}
    assert _by_kind(config, "L2Advertisement")[0]["spec"]["ipAddressPools"] == ["platform"]
    assert not _by_kind(config, "BGPPeer")


@pytest.mark.slow
def test_bgp_and_ipip_render_is_valid(tmp_path, project_root, ansible_env, schema_dir) -> None:
    peers = [{"name": "router-1", "peer_address": "192.168.1.1", "peer_asn": 64512, "my_asn": 64513,
              "hold_time": "90s", "node_selector": {"node-role.kubernetes.io/worker": "true"}}]  # fmt: skip
    pools = [{"name": "bgp", "addresses": ["172.20.0.0/24"], "auto_assign": False}]
    extra = {"metallb_mode": "bgp", "metallb_bgp_peers": peers, "calico_encapsulation": "IPIP",
             "metallb_address_pools": pools,
             "metallb_ip_reservations": {"mlflow": "172.20.0.10"}}  # fmt: skip
    folders = _render(project_root, ansible_env, tmp_path, "-e", json.dumps(extra))
    every = [d for docs in folders.values() for d in docs]
    assert mv.validate_objects(every, schema_dir).errors == []
    net = _by_kind(folders["11-calico"], "Installation")[0]["spec"]["calicoNetwork"]
    assert (net["mtu"], net["bgp"], net["ipPools"][0]["encapsulation"]) == (1480, "Enabled", "IPIP")
    peer = _by_kind(folders["21-metallb-config"], "BGPPeer")[0]
    assert peer["apiVersion"] == "metallb.io/v1beta2"
    assert peer["spec"] == {
        "myASN": 64513, "peerASN": 64512, "peerAddress": "192.168.1.1", "peerPort": 179, "holdTime": "90s",
        "nodeSelectors": [{"matchLabels": {"node-role.kubernetes.io/worker": "true"}}],
    }  # fmt: skip
    assert _by_kind(folders["21-metallb-config"], "BGPAdvertisement")[0]["spec"]["aggregationLength"] == 32
    assert _by_kind(folders["21-metallb-config"], "IPAddressPool")[0]["spec"]["autoAssign"] is False
    assert not _by_kind(folders["21-metallb-config"], "L2Advertisement")


@pytest.mark.slow
def test_bad_inventory_is_refused_with_the_fix(tmp_path, project_root, ansible_env) -> None:
    extra = {"metallb_ip_reservations": {"mlflow": "192.168.1.250"}, "calico_encapsulation": "VXLAN"}
    cmd = ["ansible-playbook", "-i", str(project_root / "inventory" / "sample"), str(PLAYBOOK),
           "-e", "platform_mode=render", "-e", f"platform_render_dir={tmp_path}",
           "-e", json.dumps(extra)]  # fmt: skip
    run = subprocess.run(cmd, cwd=project_root, env=ansible_env, capture_output=True, text=True, timeout=180)
    assert run.returncode != 0
    assert "metallb_ip_reservations[mlflow]: 192.168.1.250 is in no metallb_address_pools range" in run.stdout
