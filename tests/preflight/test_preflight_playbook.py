"""playbooks/preflight.yml end to end, on copies of inventory/sample made in tmp_path.

The rules themselves are covered by test_preflight_checks.py; these runs prove the playbook wiring (what
the role reads from hosts.yml, group_vars and extra vars, that it fails the run naming the problem, and
that it contacts no host). The host_checks run uses this machine over a local connection, never a
remote host.
"""

from __future__ import annotations

import json
import re
import socket
import sys

import pytest
from loopback import free_port
from preflight_helpers import edit_yaml


def output(proc) -> str:
    return proc.stdout + proc.stderr


def recap_hosts(text: str) -> set[str]:
    recap = text.split("PLAY RECAP", 1)[1]
    return {line.split()[0] for line in recap.splitlines()[1:] if ":" in line and "ok=" in line}


def test_sample_inventory_passes_without_contacting_hosts(inventory_copy, run_preflight):
    proc = run_preflight(inventory_copy())
    assert proc.returncode == 0, output(proc)
    # Only the controller appears: no play ran a task on a node.
    assert recap_hosts(proc.stdout) == {"localhost"}, proc.stdout


def test_every_problem_is_reported_in_one_failed_run(inventory_copy, run_preflight):
    # One mistake in each place the role reads from: hosts.yml groups,
    # group_vars and extra vars.
    inventory = inventory_copy()
    edit_yaml(
        inventory / "hosts.yml",
        lambda data: data["k3s_cluster"]["children"]["server"]["hosts"].pop("k3s-server-3"),
    )
    edit_yaml(
        inventory / "group_vars/all/metallb.yml",
        lambda data: data["metallb_address_pools"][0].update(
            addresses=["192.168.1.10-192.168.1.30", "bogus"]
        ),
    )
    proc = run_preflight(inventory, "-e", "k3s_version=v1.33.1")
    text = output(proc)
    assert proc.returncode != 0
    assert "server: 2 server(s) (k3s-server-1, k3s-server-2) with embedded etcd" in text
    assert "Fix: use an odd number of servers" in text
    assert "[platform]: entry 192.168.1.10-192.168.1.30 contains the ansible_host of k3s-agent-1" in text
    assert "metallb_address_pools[platform]: entry 'bogus' is neither a range nor a CIDR" in text
    assert "metallb_ip_reservations.mlflow: 192.168.1.200 is outside every MetalLB pool" in text
    assert "k3s_version: 'v1.33.1' is not a k3s release tag" in text


def test_placeholder_secret_fails_and_real_secrets_stay_hidden(inventory_copy, run_preflight):
    inventory = inventory_copy()
    real = "Zq7pW2xR9kL4mN8vB3cT6yH1"
    (inventory / "group_vars/all/vault.yml").write_text(
        f"---\nvault_k3s_token: changeme\nvault_postgres_password: {real}\n"
    )
    proc = run_preflight(inventory, "-vvv")
    text = output(proc)
    assert proc.returncode != 0
    assert "vault_k3s_token: is still a placeholder value" in text
    assert "vault_postgres_password: is" not in text
    assert real not in text


def local_host(address: str, **host_vars) -> dict:
    # become is off: the test connects locally as the current user, and no
    # sudo is needed or assumed.
    return {
        "ansible_host": address,
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "preflight_become": False,
        **host_vars,
    }


@pytest.mark.slow
def test_host_checks_pass_a_suitable_host_and_report_every_problem_of_another(inventory_copy, run_preflight):
    # Two "servers" that are both this machine, over a local connection: one
    # with thresholds any machine meets, one with a port taken and
    # requirements none meets. One run covers the pass and the fail path.
    inventory = inventory_copy()
    modest = {
        "preflight_min_vcpus": 1,
        "preflight_min_memory_server_mb": 1,
        "preflight_min_disk_free_gb": 0.001,
        "preflight_server_ports": [free_port()],
    }
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        demanding = {
            **modest,
            "preflight_server_ports": [port],
            "preflight_min_memory_server_mb": 10**9,
            "preflight_supported_os_families": ["Solaris"],
        }
        hosts = {
            "node-good": local_host("127.0.0.1", **modest),
            "node-bad": local_host("127.0.0.2", **demanding),
        }
        (inventory / "hosts.yml").write_text(
            json.dumps({"k3s_cluster": {"children": {"server": {"hosts": hosts}}}})
        )
        edit_yaml(
            inventory / "group_vars/all/k3s.yml",
            lambda data: data.update(k3s_api_endpoint="127.0.0.1", k3s_allow_unsafe_server_count=True),
        )
        edit_yaml(
            inventory / "group_vars/all/network.yml", lambda data: data.update(k3s_node_cidr="127.0.0.0/8")
        )
        edit_yaml(
            inventory / "group_vars/all/metallb.yml",
            lambda data: data.update(
                metallb_address_pools=[{"name": "platform", "addresses": ["127.0.1.200-127.0.1.220"]}],
                metallb_ip_reservations={"mlflow": "127.0.1.200"},
            ),
        )
        proc = run_preflight(inventory, "--tags", "host_checks")
    text = output(proc)
    assert proc.returncode != 0
    recap = text.split("PLAY RECAP", 1)[1]
    assert re.search(r"node-good\s+: ok=\d+ .* failed=0", recap), recap
    assert re.search(r"node-bad\s+: ok=\d+ .* failed=1", recap), recap
    assert f"node-bad: TCP port {port} is already in use by" in text
    assert "a server needs 1000000000 MiB. Fix: add memory, or lower preflight_min_memory_server_mb" in text
    assert "node-bad: OS family" in text
    assert "is not supported. Fix: use a Solaris family distribution" in text


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        # No registry and no archives: the trainer and serving images are localhost/ only.
        (
            lambda data: data.update(ml_image_registry=""),
            "ml_trainer_image: localhost/financial-mlops-trainer",
        ),
        (
            lambda data: data.update(mlserver_image="docker.io/seldonio/mlserver:1.7.1"),
            "mlserver_image: docker.io/seldonio/mlserver:1.7.1 is the upstream MLServer image",
        ),
    ],
    ids=["localhost-without-archives", "upstream-mlserver"],
)
def test_unpullable_application_images_fail_before_any_host(inventory_copy, run_preflight, change, expected):
    inventory = inventory_copy()
    edit_yaml(inventory / "group_vars/all/images.yml", change)
    proc = run_preflight(inventory)
    assert proc.returncode != 0
    assert expected in output(proc)
    assert "Fix: " in output(proc)
    assert recap_hosts(proc.stdout) == {"localhost"}, proc.stdout
