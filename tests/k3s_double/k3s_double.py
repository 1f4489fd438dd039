#!/usr/bin/python3
"""k3s TEST DOUBLE: stands in for the k3s binary in molecule scenarios only.

No k3s binary can be obtained on the machines this project is tested on, so
the host-plane roles are exercised against this program instead. It is a
test double, never shipped and never installed outside molecule containers.
make_airgap.py copies it into an air-gap bundle named like the real release
assets, with the version it must report written into K3S_DOUBLE_VERSION.

What it does (see README.md next to it for the contract):
- `k3s --version` answers with the embedded version;
- `k3s server` / `k3s agent` read /etc/rancher/k3s/config.yaml plus the
  config.yaml.d/*.yaml drop-ins like k3s does, refuse what k3s refuses (no
  token for a joining node, agent without `server`), record how they were
  started under /var/lib/rancher/k3s/test-double/, notify systemd when ready
  (Type=notify), and keep running until stopped;
- servers listen on 6443 and keep a node registry; every node registers with
  the server named by `server:` (or with itself when it has cluster-init);
  servers write /etc/rancher/k3s/k3s.yaml like k3s does;
- `k3s kubectl get node[s] [NAME] [-o name|-o jsonpath=...]` answers from the
  registry of the local server; nodes are NotReady because there is no CNI;
- `k3s etcd-snapshot save [--name N]` writes the registry as a snapshot file;
  `k3s server --cluster-reset --cluster-reset-restore-path=P` restores it;
- the cluster-init server creates a (placeholder) cluster CA at
  /var/lib/rancher/k3s/server/tls/server-ca.crt; a node joining with a
  secure token (K10<sha256 of that file>::<user>:<password>) fetches the CA
  from the server and refuses to join when the hash differs, as k3s does;
  the server accepts a join only with its server token (user `server`) or,
  for agents, its agent token (user `node`; agent-token-file).
The token is read to check the CA pin and the credentials, but never
written anywhere: only a digest of the password crosses the wire, and the
records hold the token's form (secure/short, user), never its value.
"""

from __future__ import annotations

import base64
import glob
import hashlib
import json
import os
import signal
import socket
import socketserver
import stat
import sys
import threading
import time
from pathlib import Path
from typing import Any

import yaml

K3S_DOUBLE_VERSION = "v0.0.0+testdouble"

# Unit tests run the double as a normal user under a temporary root and on a
# free port; on the molecule nodes both variables are unset.
ROOT = Path(os.environ.get("K3S_DOUBLE_ROOT", "/"))
CONFIG_FILE = ROOT / "etc/rancher/k3s/config.yaml"
CONFIG_DROPIN_DIR = ROOT / "etc/rancher/k3s/config.yaml.d"
DATA_DIR = ROOT / "var/lib/rancher/k3s"
STATE_DIR = DATA_DIR / "test-double"
REGISTRY_FILE = STATE_DIR / "nodes.json"
SNAPSHOT_DIR = DATA_DIR / "server" / "db" / "snapshots"
KUBECONFIG_FILE = ROOT / "etc/rancher/k3s/k3s.yaml"
CA_FILE = DATA_DIR / "server" / "tls" / "server-ca.crt"
ENCRYPTION_CONFIG = DATA_DIR / "server" / "cred" / "encryption-config.json"
SECURE_PREFIX = "K10"
API_PORT = int(os.environ.get("K3S_DOUBLE_API_PORT", "6443"))
SERVER_ROLES = "control-plane,etcd,master"
# Settings never copied into the records (they are secrets).
SECRET_KEYS = frozenset({"token", "agent-token", "etcd-s3-access-key", "etcd-s3-secret-key"})

_registry_lock = threading.Lock()


def fail(message: str, code: int = 1) -> None:
    """Exit like k3s does on a fatal error (message on stderr)."""
    print(f'level=fatal msg="{message}" (k3s test double)', file=sys.stderr)
    sys.exit(code)


def load_config() -> dict[str, Any]:
    """Merge config.yaml and the sorted drop-ins; later files win per key."""
    merged: dict[str, Any] = {}
    files = [CONFIG_FILE] if CONFIG_FILE.exists() else []
    files += [Path(p) for p in sorted(glob.glob(str(CONFIG_DROPIN_DIR / "*.yaml")))]
    for path in files:
        content = yaml.safe_load(path.read_text()) or {}
        if not isinstance(content, dict):
            fail(f"config file {path} is not a mapping")
        merged.update(content)
    return merged


def node_name(config: dict[str, Any]) -> str:
    return str(config.get("node-name") or socket.gethostname())


def write_json(path: Path, data: Any, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.chmod(mode)
    tmp.replace(path)


def read_registry() -> dict[str, Any]:
    if REGISTRY_FILE.exists():
        return json.loads(REGISTRY_FILE.read_text())
    return {}


def register(record: dict[str, Any]) -> None:
    with _registry_lock:
        nodes = read_registry()
        nodes[record["name"]] = record
        write_json(REGISTRY_FILE, nodes)


def sd_notify(state: str) -> None:
    """Tell systemd the service is ready (the k3s units are Type=notify)."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.connect(address)
        sock.sendall(state.encode())


def parse_token(token: str) -> dict[str, str | None]:
    """Split a k3s token: secure `K10<ca hash>::<user>:<password>` or short `<password>`."""
    token = token.strip()
    if token.startswith(SECURE_PREFIX) and "::" in token:
        ca_hash, _, credentials = token[len(SECURE_PREFIX) :].partition("::")
        user, sep, password = credentials.partition(":")
        if not sep:  # a bearer token has no user part
            user, password = "", credentials
        return {"format": "secure", "ca_hash": ca_hash, "user": user, "password": password}
    return {"format": "short", "ca_hash": None, "user": None, "password": token}


def read_token(path: str | None) -> dict[str, str | None] | None:
    if not path or not os.path.exists(path):
        return None
    return parse_token(Path(path).read_text())


def digest(value: str | None) -> str:
    return hashlib.sha256((value or "").encode()).hexdigest()


def token_file_record(config: dict[str, Any], key: str = "token-file") -> dict[str, Any]:
    """Describe the token source: file, mode, owner and form, never the value."""
    record: dict[str, Any] = {
        "inline_token": key.removesuffix("-file") in config,
        "token_file": config.get(key),
    }
    path = config.get(key)
    if path and os.path.exists(path):
        st = os.stat(path)
        record.update(token_file_mode=oct(stat.S_IMODE(st.st_mode)), token_file_uid=st.st_uid)
        parsed = read_token(path) or {}
        record.update(format=parsed.get("format"), user=parsed.get("user"))
    return record


def ensure_ca(config: dict[str, Any]) -> None:
    """cluster-init makes the cluster CA once (a placeholder PEM; the hash is what joins pin)."""
    if CA_FILE.exists():
        return
    token = read_token(config.get("token-file"))
    if token and token["format"] == "secure":
        fail(
            "the secure token format cannot be used before the cluster CA exists: "
            "start the first server with a short token"
        )
    body = base64.b64encode(b"k3s TEST DOUBLE cluster CA " + os.urandom(24).hex().encode()).decode()
    CA_FILE.parent.mkdir(parents=True, exist_ok=True)
    CA_FILE.write_text(f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n")
    CA_FILE.chmod(0o644)


def accepted_digests(config: dict[str, Any]) -> dict[str, str]:
    """user -> sha256 of the password a joining node must present to this server."""
    server = read_token(config.get("token-file")) or {}
    agent = read_token(config.get("agent-token-file")) or server
    return {"server": digest(server.get("password")), "node": digest(agent.get("password"))}


def check_config(role: str, config: dict[str, Any]) -> None:
    """Refuse the configurations the real k3s refuses at start-up."""
    has_token = bool(config.get("token")) or bool(config.get("token-file"))
    for key in ("token-file", "agent-token-file"):
        path = config.get(key)
        if path and not os.path.exists(path):
            fail(f"{key} {path} does not exist")
    if role == "agent" and not config.get("server"):
        fail("--server is required")
    if config.get("server") and not has_token:
        fail("--token is required when joining a cluster")


def record_start(role: str, config: dict[str, Any], argv: list[str]) -> None:
    record = {
        "role": role,
        "version": K3S_DOUBLE_VERSION,
        "argv": argv,
        "config": {k: v for k, v in config.items() if k not in SECRET_KEYS},
        "token": token_file_record(config),
        **(
            {"agent_token": token_file_record(config, "agent-token-file")}
            if "agent-token-file" in config
            else {}
        ),
        "pid": os.getpid(),
        "started_at": time.time(),
    }
    write_json(STATE_DIR / "invocation.json", record)
    with (STATE_DIR / "starts.log").open("a") as log:
        log.write(json.dumps({"role": role, "version": K3S_DOUBLE_VERSION, "at": time.time()}) + "\n")


def own_record(role: str, config: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": node_name(config),
        "roles": SERVER_ROLES if role == "server" else "<none>",
        "version": K3S_DOUBLE_VERSION,
        "node_ip": config.get("node-ip"),
        "registered_at": time.time(),
    }


class _RegistrationHandler(socketserver.StreamRequestHandler):
    """One line per connection: `CACERTS` or `REGISTER <json>`; anything else is closed."""

    timeout = 5

    def handle(self) -> None:
        try:
            line = self.rfile.readline(65536).decode().strip()
        except (OSError, UnicodeDecodeError):
            return
        if line == "CACERTS":
            self.wfile.write(base64.b64encode(CA_FILE.read_bytes()) + b"\n")
        elif line.startswith("REGISTER "):
            request = json.loads(line[len("REGISTER ") :])
            auth = request.pop("auth", {})
            expected = accepted_digests(load_config()).get(str(auth.get("user")))
            if expected is None or auth.get("password_sha256") != expected:
                self.wfile.write(f"DENIED 401 Unauthorized for user {auth.get('user')!r}\n".encode())
                return
            register(request)
            self.wfile.write(b"OK\n")


class _ApiServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def server_address(url: str) -> tuple[str, int]:
    """host and port of an https://host:port URL (IPv6 in brackets)."""
    hostport = url.split("://", 1)[-1].split("/", 1)[0]
    if hostport.startswith("["):
        host, _, rest = hostport[1:].partition("]")
        port = rest.lstrip(":") or str(API_PORT)
    else:
        host, _, port = hostport.partition(":")
    return host, int(port or API_PORT)


def _ask(host: str, port: int, line: bytes) -> str:
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(line + b"\n")
        return sock.makefile().readline().strip()


def register_remote(url: str, role: str, config: dict[str, Any], record: dict[str, Any]) -> None:
    """Join like k3s: pin the CA (secure token), then authenticate; retry until the server answers."""
    host, port = server_address(url)
    token = read_token(config.get("token-file")) or parse_token(str(config.get("token", "")))
    user = token["user"] or ("server" if role == "server" else "node")
    auth = {"user": user, "password_sha256": digest(token["password"])}
    while True:
        try:
            ca = base64.b64decode(_ask(host, port, b"CACERTS"))
            if token["format"] == "secure" and hashlib.sha256(ca).hexdigest() != token["ca_hash"]:
                fail(f"token CA hash does not match the cluster CA certificate served by {url}")
            answer = _ask(host, port, b"REGISTER " + json.dumps({**record, "auth": auth}).encode())
            if answer == "OK":
                if role == "server":  # servers share the cluster CA
                    CA_FILE.parent.mkdir(parents=True, exist_ok=True)
                    CA_FILE.write_bytes(ca)
                return
            if answer.startswith("DENIED"):
                fail(f"failed to join {url}: {answer[len('DENIED ') :]}")
        except (OSError, ValueError) as err:
            print(f"k3s test double: waiting for {url}: {err}", file=sys.stderr, flush=True)
        time.sleep(1)


def write_kubeconfig(config: dict[str, Any]) -> None:
    placeholder = "VEhJUyBJUyBBIFRFU1QgRE9VQkxFLCBOT1QgQSBDRVJUSUZJQ0FURQ=="
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "default",
                "cluster": {"certificate-authority-data": placeholder, "server": "https://127.0.0.1:6443"},
            }
        ],
        "contexts": [{"name": "default", "context": {"cluster": "default", "user": "default"}}],
        "current-context": "default",
        "preferences": {},
        "users": [
            {
                "name": "default",
                "user": {"client-certificate-data": placeholder, "client-key-data": placeholder},
            }
        ],
    }
    mode = int(str(config.get("write-kubeconfig-mode", "0600")), 8)
    KUBECONFIG_FILE.parent.mkdir(parents=True, exist_ok=True)
    KUBECONFIG_FILE.write_text(yaml.safe_dump(kubeconfig, sort_keys=False))
    KUBECONFIG_FILE.chmod(mode)


def parse_flags(args: list[str]) -> dict[str, str | bool]:
    flags: dict[str, str | bool] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--"):
            fail(f"unexpected argument {arg!r}; the k3s test double reads its settings from config.yaml")
        key, eq, value = arg[2:].partition("=")
        if eq:
            flags[key] = value
        elif i + 1 < len(args) and not args[i + 1].startswith("--"):
            flags[key] = args[i + 1]
            i += 1
        else:
            flags[key] = True
        i += 1
    return flags


def cluster_reset(flags: dict[str, str | bool]) -> None:
    """Offline restore, as `k3s server --cluster-reset` does with k3s stopped."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", API_PORT)) == 0:
            fail("k3s is running (port 6443 in use); stop the k3s service before --cluster-reset")
    path = flags.get("cluster-reset-restore-path")
    if isinstance(path, str):
        if not os.path.exists(path):
            fail(f"etcd snapshot {path} does not exist")
        snapshot = json.loads(Path(path).read_text())
        write_json(REGISTRY_FILE, snapshot["nodes"])
    (DATA_DIR / "server" / "db").mkdir(parents=True, exist_ok=True)
    (DATA_DIR / "server" / "db" / "reset-flag").write_text(str(time.time()) + "\n")
    print("Managed etcd cluster membership has been reset, restart without --cluster-reset flag now.")


def run_service(role: str, args: list[str]) -> None:
    flags = parse_flags(args)
    if role == "server" and flags.get("cluster-reset"):
        cluster_reset(flags)
        return
    if flags:
        fail(f"flags {sorted(flags)} given on the command line; the roles must use config.yaml")
    config = load_config()
    check_config(role, config)
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    record_start(role, config, [sys.argv[0], role, *args])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    record = own_record(role, config)
    if role == "server":
        if config.get("cluster-init"):
            ensure_ca(config)
        if config.get("secrets-encryption") is True and not ENCRYPTION_CONFIG.exists():
            # k3s writes its generated AES key here on the first start with the flag.
            write_json(ENCRYPTION_CONFIG, {"kind": "EncryptionConfiguration", "test_double": True}, 0o600)
        api = _ApiServer((os.environ.get("K3S_DOUBLE_LISTEN", "0.0.0.0"), API_PORT), _RegistrationHandler)
        threading.Thread(target=api.serve_forever, daemon=True).start()
        write_kubeconfig(config)
    if config.get("server"):
        register_remote(str(config["server"]), role, config, record)
    else:
        register(record)
    sd_notify("READY=1")
    while True:
        signal.pause()


def kubectl(args: list[str]) -> None:
    """The few read-only kubectl calls the roles and playbooks make."""
    if len(args) < 2 or args[0] != "get" or args[1] not in ("node", "nodes", "no"):
        fail(f"kubectl {' '.join(args)} is not implemented by the k3s test double")
    rest = args[2:]
    output = ""
    if "-o" in rest:
        i = rest.index("-o")
        output = rest[i + 1] if i + 1 < len(rest) else ""
        rest = rest[:i] + rest[i + 2 :]
    nodes = read_registry()
    names = rest or sorted(nodes)
    for name in names:
        if name not in nodes:
            print(f'Error from server (NotFound): nodes "{name}" not found', file=sys.stderr)
            sys.exit(1)
    for name in names:
        node = nodes[name]
        if output == "name":
            print(f"node/{name}")
        elif output == "jsonpath={.status.nodeInfo.kubeletVersion}":
            print(node["version"], end="")
        elif output == "":
            age = int(time.time() - node["registered_at"])
            print(f"{name} NotReady {node['roles']} {age}s {node['version']}")
        else:
            fail(f"output format {output!r} is not implemented by the k3s test double")


def etcd_snapshot(args: list[str]) -> None:
    if not args or args[0] != "save":
        fail(f"etcd-snapshot {' '.join(args)} is not implemented by the k3s test double")
    flags = parse_flags(args[1:])
    config = load_config()
    name = f"{flags.get('name', 'on-demand')}-{node_name(config)}-{int(time.time())}"
    path = SNAPSHOT_DIR / name
    write_json(path, {"test_double": True, "version": K3S_DOUBLE_VERSION, "nodes": read_registry()}, 0o600)
    print(f'level=info msg="Snapshot {name} saved." (k3s test double)')


def main(argv: list[str]) -> None:
    if not argv:
        fail("no command given")
    command, args = argv[0], argv[1:]
    if command in ("--version", "-v", "version"):
        print(f"k3s version {K3S_DOUBLE_VERSION} (testdouble)\ngo version go1.24.0 (k3s test double)")
    elif command in ("server", "agent"):
        run_service(command, args)
    elif command == "kubectl":
        kubectl(args)
    elif command == "etcd-snapshot":
        etcd_snapshot(args)
    else:
        fail(f"command {command!r} is not implemented by the k3s test double")


if __name__ == "__main__":
    main(sys.argv[1:])
