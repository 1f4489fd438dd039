"""The k3s TEST DOUBLE and its air-gap bundle behave as the molecule scenarios rely on.

The double runs as a subprocess under a temporary root (K3S_DOUBLE_ROOT) on a
free loopback port, exactly the code the molecule nodes run.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from loopback import free_port

DOUBLE_DIR = Path(__file__).resolve().parents[1] / "k3s_double"
sys.path.insert(0, str(DOUBLE_DIR))

import make_airgap  # noqa: E402

VERSION = "v1.33.1+k3s1"
TOKEN = "K10-test-token-value-0123456789abcdef"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("airgap")
    make_airgap.build(VERSION, dest)
    return dest


class Node:
    """One double installation: its own root, config and process."""

    def __init__(self, root: Path, binary: Path, port: int) -> None:
        self.root, self.binary, self.port = root, binary, port
        self.env = {
            **os.environ,
            "K3S_DOUBLE_ROOT": str(root),
            "K3S_DOUBLE_API_PORT": str(port),
            "K3S_DOUBLE_LISTEN": "127.0.0.1",
        }
        self.env.pop("NOTIFY_SOCKET", None)
        self.proc: subprocess.Popen[str] | None = None

    def configure(
        self,
        config: dict[str, object],
        dropins: dict[str, dict[str, object]] | None = None,
        token_value: str = TOKEN,
    ) -> None:
        conf_dir = self.root / "etc/rancher/k3s"
        (conf_dir / "config.yaml.d").mkdir(parents=True, exist_ok=True)
        token = conf_dir / "token"
        token.write_text(token_value + "\n")
        token.chmod(0o600)
        (conf_dir / "config.yaml").write_text(yaml.safe_dump({"token-file": str(token), **config}))
        for name, content in (dropins or {}).items():
            (conf_dir / "config.yaml.d" / name).write_text(yaml.safe_dump(content))

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.binary), *args], env=self.env, capture_output=True, text=True, timeout=30
        )

    def start(self, role: str) -> None:
        self.proc = subprocess.Popen(
            [str(self.binary), role], env=self.env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def record(self) -> dict[str, object]:
        return json.loads((self.root / "var/lib/rancher/k3s/test-double/invocation.json").read_text())


def wait_until(check, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.1)


@pytest.fixture
def cluster(tmp_path: Path, bundle: Path) -> Iterator[tuple[Node, Node]]:
    port = free_port()
    server = Node(tmp_path / "server", bundle / "k3s", port)
    agent = Node(tmp_path / "agent", bundle / "k3s", free_port())
    yield server, agent
    agent.stop()
    server.stop()


def test_bundle_lists_the_sha256_of_each_asset(bundle: Path) -> None:
    sums = dict(reversed(line.split()) for line in (bundle / "sha256sum-amd64.txt").read_text().splitlines())
    assert set(sums) == {"k3s", "k3s-airgap-images-amd64.tar"}
    for name, digest in sums.items():
        assert hashlib.sha256((bundle / name).read_bytes()).hexdigest() == digest
    assert os.access(bundle / "k3s", os.X_OK)


def test_bundle_is_deterministic_and_versioned(tmp_path: Path, bundle: Path) -> None:
    again = make_airgap.build(VERSION, tmp_path / "again")
    other = make_airgap.build("v1.33.2+k3s1", tmp_path / "other")
    assert again == make_airgap.build(VERSION, bundle)
    assert other["k3s"] != again["k3s"]


def test_bundle_refuses_a_version_that_is_not_a_k3s_tag(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a k3s release tag"):
        make_airgap.build("1.33", tmp_path)


def test_version_answers_the_embedded_version(bundle: Path) -> None:
    out = subprocess.run(
        [str(bundle / "k3s"), "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert out.startswith(f"k3s version {VERSION} ")


def test_server_and_agent_register_and_answer_kubectl(cluster: tuple[Node, Node]) -> None:
    server, agent = cluster
    server.configure(
        {"node-name": "s1", "cluster-init": True},
        {"10-cni.yaml": {"flannel-backend": "none", "disable-network-policy": True}},
    )
    server.start("server")
    wait_until(lambda: server.run("kubectl", "get", "node", "s1", "-o", "name").returncode == 0)
    agent.configure({"node-name": "a1", "server": f"https://127.0.0.1:{server.port}"})
    agent.start("agent")
    wait_until(lambda: server.run("kubectl", "get", "node", "a1", "-o", "name").returncode == 0)

    assert server.run("kubectl", "get", "nodes", "-o", "name").stdout.split() == ["node/a1", "node/s1"]
    version = server.run("kubectl", "get", "node", "a1", "-o", "jsonpath={.status.nodeInfo.kubeletVersion}")
    assert version.stdout == VERSION
    table = server.run("kubectl", "get", "node", "s1").stdout
    assert "NotReady" in table and "control-plane,etcd,master" in table
    missing = server.run("kubectl", "get", "node", "nobody")
    assert missing.returncode == 1 and 'nodes "nobody" not found' in missing.stderr

    record = server.record()
    assert record["argv"][1:] == ["server"]
    assert record["config"]["flannel-backend"] == "none"  # the drop-in is merged
    assert record["token"] == {
        "inline_token": False,
        "token_file": str(server.root / "etc/rancher/k3s/token"),
        "token_file_mode": "0o600",
        "token_file_uid": os.getuid(),
        "format": "short",
        "user": None,
    }
    kubeconfig = server.root / "etc/rancher/k3s/k3s.yaml"
    assert oct(kubeconfig.stat().st_mode & 0o777) == "0o600"
    for path in (server.root / "var").rglob("*"):
        if path.is_file():
            assert TOKEN not in path.read_text(), f"{path} holds the token"


def test_snapshot_save_and_restore(cluster: tuple[Node, Node]) -> None:
    server, _ = cluster
    server.configure({"node-name": "s1", "cluster-init": True})
    server.start("server")
    wait_until(lambda: server.run("kubectl", "get", "node", "s1", "-o", "name").returncode == 0)
    saved = server.run("etcd-snapshot", "save", "--name", "before")
    assert saved.returncode == 0 and "saved" in saved.stdout
    snapshot = next((server.root / "var/lib/rancher/k3s/server/db/snapshots").glob("before-s1-*"))

    refused = server.run("server", "--cluster-reset", f"--cluster-reset-restore-path={snapshot}")
    assert refused.returncode == 1 and "stop the k3s service" in refused.stderr
    server.stop()
    (server.root / "var/lib/rancher/k3s/test-double/nodes.json").write_text("{}")
    restored = server.run("server", "--cluster-reset", f"--cluster-reset-restore-path={snapshot}")
    assert restored.returncode == 0, restored.stderr
    assert "s1" in json.loads((server.root / "var/lib/rancher/k3s/test-double/nodes.json").read_text())


def test_refuses_what_k3s_refuses(cluster: tuple[Node, Node]) -> None:
    _, agent = cluster
    agent.configure({"node-name": "a1"})
    no_server = agent.run("agent")
    assert no_server.returncode == 1 and "--server is required" in no_server.stderr
    flags = agent.run("agent", "--server", "https://127.0.0.1:1")
    assert flags.returncode == 1 and "must use config.yaml" in flags.stderr


AGENT_PASSWORD = "agent-password-fedcba9876543210"


def _secure_cluster(server: Node) -> str:
    """Start a cluster-init server with a separate agent token; return its CA hash."""
    agent_token = server.root / "etc/rancher/k3s/agent-token"
    server.configure(
        {
            "node-name": "s1",
            "cluster-init": True,
            "agent-token-file": str(agent_token),
            "secrets-encryption": True,
        }
    )
    agent_token.write_text(AGENT_PASSWORD + "\n")
    agent_token.chmod(0o600)
    server.start("server")
    wait_until(lambda: server.run("kubectl", "get", "node", "s1", "-o", "name").returncode == 0)
    ca = server.root / "var/lib/rancher/k3s/server/tls/server-ca.crt"
    assert ca.read_text().startswith("-----BEGIN CERTIFICATE-----")
    return hashlib.sha256(ca.read_bytes()).hexdigest()


def test_agent_joins_with_its_own_token_pinning_the_cluster_ca(cluster: tuple[Node, Node]) -> None:
    server, agent = cluster
    ca_hash = _secure_cluster(server)
    agent.configure(
        {"node-name": "a1", "server": f"https://127.0.0.1:{server.port}"},
        token_value=f"K10{ca_hash}::node:{AGENT_PASSWORD}",
    )
    agent.start("agent")
    wait_until(lambda: server.run("kubectl", "get", "node", "a1", "-o", "name").returncode == 0)
    assert agent.record()["token"]["format"] == "secure" and agent.record()["token"]["user"] == "node"
    assert server.record()["agent_token"]["token_file_mode"] == "0o600"
    encryption = server.root / "var/lib/rancher/k3s/server/cred/encryption-config.json"
    assert oct(encryption.stat().st_mode & 0o777) == "0o600"
    for node in (server, agent):
        for path in (node.root / "var").rglob("*"):
            if path.is_file():
                text = path.read_text(errors="replace")
                assert AGENT_PASSWORD not in text and TOKEN not in text, f"{path} holds a token"


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("K10{wrong}::node:" + AGENT_PASSWORD, "token CA hash does not match"),
        ("K10{right}::node:not-the-agent-password", "401 Unauthorized"),
        ("K10{right}::server:" + AGENT_PASSWORD, "401 Unauthorized"),
    ],
    ids=["other-ca", "wrong-password", "agent-token-as-server"],
)
def test_a_join_with_the_wrong_ca_or_credentials_fails(
    cluster: tuple[Node, Node], token: str, message: str
) -> None:
    server, agent = cluster
    ca_hash = _secure_cluster(server)
    agent.configure(
        {"node-name": "a1", "server": f"https://127.0.0.1:{server.port}"},
        token_value=token.format(right=ca_hash, wrong="0" * 64),
    )
    refused = agent.run("agent")
    assert refused.returncode == 1 and message in refused.stderr
    assert server.run("kubectl", "get", "node", "a1").returncode == 1


def test_first_server_cannot_start_with_a_secure_token(cluster: tuple[Node, Node]) -> None:
    server, _ = cluster
    server.configure({"node-name": "s1", "cluster-init": True}, token_value=f"K10{'a' * 64}::server:{TOKEN}")
    refused = server.run("server")
    assert refused.returncode == 1 and "before the cluster CA exists" in refused.stderr
