"""Pure checks of an inventory before anything touches a host.

The inventory is given as plain data (host addresses, group membership and
the cluster-wide variables as the controller sees them), so every rule can be
tested without Ansible. Every problem is collected, never only the first, and
each reads "<variable or host>: <what is wrong>. Fix: <how>".
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.finmlops.platform.plugins.module_utils import metallb
from ansible_collections.finmlops.platform.plugins.module_utils.preflight_api_endpoint import (
    check_api_address,
)
from ansible_collections.finmlops.platform.plugins.module_utils.preflight_images import image_problems

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

CNIS = ("calico", "flannel")
METALLB_MODES = ("layer2", "bgp")
PLATFORM_MODES = ("apply", "render")
CIDR_VARIABLES = ("k3s_node_cidr", "k3s_cluster_cidr", "k3s_service_cidr")
# Only release tags: RCs (-rc1) and bare Kubernetes versions have no k3s
# artefacts behind them in the install channel.
K3S_RELEASE_TAG = re.compile(r"^v(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+)\+k3s(?P<build>\d+)$")
# Values people leave in example files. Compared case-insensitively.
PLACEHOLDER_SECRETS = frozenset(
    {
        "changeme",
        "change_me",
        "change-me",
        "change me",
        "password",
        "secret",
        "placeholder",
        "replaceme",
        "replace_me",
        "todo",
        "fixme",
        "xxx",
    }
)
# MetalLB pool names become IPAddressPool metadata.name (RFC 1123 subdomain).
_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@dataclass
class PreflightResult:
    """Every problem (the run must stop) and warning (worth reading) found."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def problem(self, subject: str, what: str, fix: str) -> None:
        self.problems.append(f"{subject}: {what}. Fix: {fix}")

    def warn(self, subject: str, what: str, advice: str) -> None:
        self.warnings.append(f"{subject}: {what}. {advice}")

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class Inventory:
    """What preflight needs from an inventory.

    ``hosts`` maps every host of the cluster group to its ``ansible_host``
    (None when unset); ``servers``/``agents`` are the group members;
    ``settings`` holds the cluster-wide variables (a missing key means the
    variable is undefined); ``secrets`` holds only the secret variables that
    are defined.
    """

    hosts: Mapping[str, Any]
    servers: Sequence[str]
    agents: Sequence[str]
    settings: Mapping[str, Any]
    secrets: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Policy:
    """Knobs of the preflight role itself (not inventory data)."""

    supported_k3s_minor: str = "1.33"
    allow_unsupported_k3s_version: bool = False


@dataclass(frozen=True)
class PoolEntry:
    """One MetalLB address entry as an inclusive address range.

    Parsing and the range rules are module_utils/metallb.py's, the ones the
    metallb role's filters use: preflight only words the problems for people.
    """

    pool: str
    text: str
    first: IPAddress
    last: IPAddress

    def overlaps(self, first: IPAddress, last: IPAddress) -> bool:
        return metallb.overlaps((self.first, self.last), (first, last))

    def contains(self, address: IPAddress) -> bool:
        return metallb.contains((self.first, self.last), address)

    def inside(self, network: IPNetwork) -> bool:
        return metallb.inside((self.first, self.last), network)

    @property
    def label(self) -> str:
        return f"metallb_address_pools[{self.pool}]"


def check_inventory(inventory: Inventory, policy: Policy | None = None) -> PreflightResult:
    """Run every inventory check and return all problems and warnings."""
    policy = policy or Policy()
    result = PreflightResult()
    settings = inventory.settings

    _check_groups(inventory, result)
    addresses = _check_host_addresses(inventory, result)
    networks = {name: _parse_cidr_setting(name, settings, result) for name in CIDR_VARIABLES}
    _check_network_overlaps(networks, result)
    _check_hosts_in_networks(addresses, networks, result)
    _check_choice(settings, "k3s_cni", CNIS, result)
    mode_ok = _check_choice(settings, "metallb_mode", METALLB_MODES, result)
    _check_choice(settings, "platform_mode", PLATFORM_MODES, result)
    entries = _parse_pools(settings, result)
    _check_pools(
        entries,
        addresses,
        networks,
        layer2=mode_ok and settings.get("metallb_mode") == "layer2",
        result=result,
    )
    _check_reservations(settings, entries, result)
    _check_version(settings, policy, result)
    if not check_api_address(settings, inventory.hosts, inventory.servers, result):
        _check_api_endpoint(inventory, addresses, networks, entries, result)
    _check_secrets(inventory.secrets, result)
    for subject, what, fix in image_problems(settings):
        result.problem(subject, what, fix)
    return result


# --- groups and hosts -------------------------------------------------------


def _check_groups(inventory: Inventory, result: PreflightResult) -> None:
    servers, agents = list(inventory.servers), list(inventory.agents)
    allow_unsafe = inventory.settings.get("k3s_allow_unsafe_server_count") is True
    if not inventory.hosts:
        result.problem(
            "k3s_cluster",
            "the group has no hosts",
            "add your nodes to the k3s_cluster group with the children server and agent "
            "(see inventory/sample/hosts.yml)",
        )
    if not servers:
        result.problem(
            "server",
            "the group has no hosts, so there is no control plane",
            "put at least one host (3 for embedded etcd) in the server group under k3s_cluster",
        )
    elif (len(servers) < 3 or len(servers) % 2 == 0) and not allow_unsafe:
        why = (
            "an even count tolerates no more failures than one server fewer and can split quorum"
            if len(servers) % 2 == 0
            else "fewer than 3 servers cannot keep etcd quorum when one fails"
        )
        result.problem(
            "server",
            f"{len(servers)} server(s) ({', '.join(servers)}) with embedded etcd; {why}",
            "use an odd number of servers, at least 3, or set k3s_allow_unsafe_server_count: true "
            "for a deliberate lab setup",
        )
    for host in sorted(set(servers) & set(agents)):
        result.problem(
            host,
            "is in both the server and the agent group",
            "keep it in one group: a server already runs workloads, it needs no agent",
        )
    for host in sorted(set(inventory.hosts) - set(servers) - set(agents)):
        result.problem(
            host,
            "is in k3s_cluster but in neither server nor agent, so no role would install it",
            "move it into the server or the agent group",
        )


def _check_host_addresses(inventory: Inventory, result: PreflightResult) -> dict[str, IPAddress]:
    """Validate ansible_host of every host; return the hosts that have an IP."""
    addresses: dict[str, IPAddress] = {}
    users: dict[str, list[str]] = {}
    for host in sorted(inventory.hosts):
        raw = inventory.hosts[host]
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            result.problem(
                host,
                "ansible_host is not set",
                "set ansible_host to the node's address on k3s_node_cidr: it is the address k3s, Calico "
                "and the overlap checks use",
            )
            continue
        text = str(raw).strip()
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            result.warn(
                host,
                f"ansible_host {text!r} is not an IP address, so its overlap with MetalLB pools and "
                "networks cannot be checked",
                "Prefer the node's IP address",
            )
            users.setdefault(text.lower(), []).append(host)
            continue
        addresses[host] = address
        users.setdefault(str(address), []).append(host)
    for address, hosts in sorted(users.items()):
        if len(hosts) > 1:
            for host in hosts:
                others = ", ".join(h for h in hosts if h != host)
                result.problem(
                    host,
                    f"ansible_host {address} is also the ansible_host of {others}",
                    "give every host its own address (or remove the duplicate host entry)",
                )
    return addresses


# --- networks ---------------------------------------------------------------


def _parse_cidr_setting(name: str, settings: Mapping[str, Any], result: PreflightResult) -> list[IPNetwork]:
    """Parse a CIDR variable; k3s takes a comma-separated pair for dual-stack."""
    if settings.get(name) is None:
        result.problem(name, "is not set", f"set {name} in group_vars/all/network.yml (see inventory/sample)")
        return []
    raw = settings[name]
    if not isinstance(raw, str):
        result.problem(name, f"must be a CIDR string, got {raw!r}", f"write {name} as network/prefix")
        return []
    networks: list[IPNetwork] = []
    for part in (p.strip() for p in raw.split(",")):
        try:
            networks.append(ipaddress.ip_network(part, strict=True))
        except ValueError as exc:
            meant = metallb.network_with_host_bits(part)
            hint = f", e.g. {meant} (host bits must be zero)" if meant else ""
            result.problem(name, f"{part!r} is not a valid CIDR ({exc})", f"write it as network/prefix{hint}")
            return []
    return networks


def _check_network_overlaps(networks: Mapping[str, list[IPNetwork]], result: PreflightResult) -> None:
    names = list(networks)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            for a in networks[first]:
                for b in networks[second]:
                    if a.version == b.version and a.overlaps(b):
                        result.problem(
                            second,
                            f"{b} overlaps {first} {a}",
                            "give the node, cluster (pod) and service networks disjoint ranges, "
                            "e.g. 192.168.1.0/24, 10.42.0.0/16 and 10.43.0.0/16",
                        )


def _check_hosts_in_networks(
    addresses: Mapping[str, IPAddress], networks: Mapping[str, list[IPNetwork]], result: PreflightResult
) -> None:
    for host, address in sorted(addresses.items()):
        for name in ("k3s_cluster_cidr", "k3s_service_cidr"):
            for net in networks.get(name, []):
                if address in net:
                    result.problem(
                        host,
                        f"ansible_host {address} is inside {name} {net}, so pod or service routes would "
                        "shadow the node",
                        f"move {name} to a range no host uses",
                    )
        node_nets = networks.get("k3s_node_cidr", [])
        same_family = [n for n in node_nets if n.version == address.version]
        if same_family and not any(address in n for n in same_family):
            result.warn(
                host,
                f"ansible_host {address} is outside k3s_node_cidr {', '.join(map(str, same_family))}",
                "Calico picks node addresses and layer2 MetalLB answers ARP on k3s_node_cidr; "
                "check that this host really is on that network",
            )


def _check_choice(
    settings: Mapping[str, Any], name: str, choices: Sequence[str], result: PreflightResult
) -> bool:
    value = settings.get(name)
    if value is None:
        result.problem(name, "is not set", f"set {name} to one of {', '.join(choices)}")
        return False
    if value not in choices:
        result.problem(name, f"{value!r} is not supported", f"set {name} to one of {', '.join(choices)}")
        return False
    return True


# --- MetalLB ----------------------------------------------------------------


def _parse_pool_entry(pool: str, entry: Any, result: PreflightResult) -> PoolEntry | None:
    try:
        first, last = metallb.parse_entry(entry)
    except metallb.EntryError as exc:
        result.problem(f"metallb_address_pools[{pool}]", str(exc), exc.fix)
        return None
    return PoolEntry(pool, entry.strip(), first, last)


def _parse_pools(settings: Mapping[str, Any], result: PreflightResult) -> list[PoolEntry]:
    raw = settings.get("metallb_address_pools")
    fix = (
        "set metallb_address_pools to a list of {name, addresses} "
        "(see inventory/sample/group_vars/all/metallb.yml)"
    )
    if raw is None:
        result.problem("metallb_address_pools", "is not set", fix)
        return []
    if not isinstance(raw, list) or not raw:
        result.problem("metallb_address_pools", f"must be a non-empty list, got {raw!r}", fix)
        return []
    entries: list[PoolEntry] = []
    seen: set[str] = set()
    for index, pool in enumerate(raw):
        if not isinstance(pool, Mapping):
            result.problem(f"metallb_address_pools[{index}]", f"{pool!r} is not a mapping", fix)
            continue
        name = pool.get("name")
        if not isinstance(name, str) or not _K8S_NAME.match(name) or len(name) > 253:
            result.problem(
                f"metallb_address_pools[{index}]",
                f"name {name!r} is not a valid Kubernetes name",
                "use lower-case letters, digits, '-' and '.', e.g. platform",
            )
            name = str(index)
        elif name in seen:
            result.problem(
                f"metallb_address_pools[{name}]",
                "the name is used by more than one pool",
                "give each pool its own name",
            )
        seen.add(name)
        addresses = pool.get("addresses")
        if not isinstance(addresses, list) or not addresses:
            result.problem(
                f"metallb_address_pools[{name}]",
                f"addresses must be a non-empty list, got {addresses!r}",
                "list the pool's ranges or CIDRs under addresses",
            )
            continue
        for entry in addresses:
            parsed = _parse_pool_entry(name, entry, result)
            if parsed is not None:
                entries.append(parsed)
    return entries


def _check_pools(
    entries: Sequence[PoolEntry],
    addresses: Mapping[str, IPAddress],
    networks: Mapping[str, list[IPNetwork]],
    *,
    layer2: bool,
    result: PreflightResult,
) -> None:
    for entry in entries:
        nodes = [f"{host} ({ip})" for host, ip in sorted(addresses.items()) if entry.contains(ip)]
        if nodes:
            result.problem(
                entry.label,
                f"entry {entry.text} contains the ansible_host of {', '.join(nodes)}",
                "move the pool to addresses no node uses (MetalLB would hand a node's IP to a service)",
            )
        for name in ("k3s_cluster_cidr", "k3s_service_cidr"):
            for net in networks.get(name, []):
                if entry.overlaps(net.network_address, net.broadcast_address):
                    result.problem(
                        entry.label,
                        f"entry {entry.text} overlaps {name} {net}",
                        "take MetalLB addresses from the node network (layer2) or a routed range (bgp), "
                        "never from the pod or service networks",
                    )
        node_nets = metallb.outside_layer2_networks(
            (entry.first, entry.last), networks.get("k3s_node_cidr", [])
        )
        if layer2 and node_nets:
            result.problem(
                entry.label,
                f"entry {entry.text} is outside k3s_node_cidr {', '.join(map(str, node_nets))}; in layer2 "
                "mode the addresses are announced by ARP/NDP on the node network only",
                "pick free addresses inside k3s_node_cidr, or use metallb_mode: bgp with routed addresses",
            )
    for i, a in enumerate(entries):
        for b in entries[i + 1 :]:
            if a.overlaps(b.first, b.last):
                where = "the same pool" if a.pool == b.pool else f"metallb_address_pools[{a.pool}]"
                result.problem(
                    b.label,
                    f"entry {b.text} overlaps entry {a.text} of {where}",
                    "make every pool entry cover distinct addresses",
                )


def _check_reservations(
    settings: Mapping[str, Any], entries: Sequence[PoolEntry], result: PreflightResult
) -> None:
    raw = settings.get("metallb_ip_reservations")
    if raw is None:
        return
    if not isinstance(raw, Mapping):
        result.problem(
            "metallb_ip_reservations",
            f"must be a mapping of service name to IP, got {raw!r}",
            "write it as e.g. {mlflow: 192.168.1.200}",
        )
        return
    owners: dict[IPAddress, list[str]] = {}
    for service, value in raw.items():
        label = f"metallb_ip_reservations.{service}"
        try:
            address = ipaddress.ip_address(str(value).strip())
        except ValueError:
            result.problem(
                label, f"{value!r} is not an IP address", "give a single address from a MetalLB pool"
            )
            continue
        owners.setdefault(address, []).append(str(service))
        if entries and not any(e.contains(address) for e in entries):
            result.problem(
                label,
                f"{address} is outside every MetalLB pool, so MetalLB would never assign it",
                "pick a free address from metallb_address_pools or extend a pool to cover it",
            )
    for address, services in owners.items():
        if len(services) > 1:
            result.problem(
                "metallb_ip_reservations",
                f"{address} is reserved for {len(services)} services ({', '.join(services)})",
                "give each service its own address",
            )


# --- k3s --------------------------------------------------------------------


def _check_version(settings: Mapping[str, Any], policy: Policy, result: PreflightResult) -> None:
    value = settings.get("k3s_version")
    example = f"v{policy.supported_k3s_minor}.1+k3s1"
    if value is None:
        result.problem("k3s_version", "is not set", f"set k3s_version to a k3s release tag, e.g. {example}")
        return
    match = K3S_RELEASE_TAG.match(str(value))
    if not match:
        result.problem(
            "k3s_version",
            f"{value!r} is not a k3s release tag (vX.Y.Z+k3sN)",
            f"use a tag listed at https://github.com/k3s-io/k3s/releases, e.g. {example}",
        )
        return
    minor = f"{match['major']}.{match['minor']}"
    if minor == policy.supported_k3s_minor:
        return
    what = (
        f"{value} is not a v{policy.supported_k3s_minor}.x release; the manifests are validated against "
        f"Kubernetes {policy.supported_k3s_minor} and the pinned components are tested with it"
    )
    if policy.allow_unsupported_k3s_version:
        result.warn("k3s_version", what, "Proceeding because preflight_allow_unsupported_k3s_version is true")
    else:
        result.problem(
            "k3s_version",
            what,
            f"use a v{policy.supported_k3s_minor}.x+k3sN release, or set "
            "preflight_allow_unsupported_k3s_version: true to accept the risk",
        )


def _check_api_endpoint(
    inventory: Inventory,
    addresses: Mapping[str, IPAddress],
    networks: Mapping[str, list[IPNetwork]],
    entries: Sequence[PoolEntry],
    result: PreflightResult,
) -> None:
    value = inventory.settings.get("k3s_api_endpoint")
    server_hosts = [
        str(inventory.hosts.get(h)) for h in inventory.servers if inventory.hosts.get(h) is not None
    ]
    fix = (
        f"set k3s_api_endpoint to one of the servers' ansible_host ({', '.join(server_hosts) or 'none set'}) "
        "or to a virtual IP inside k3s_node_cidr that you run (kube-vip, keepalived)"
    )
    if value is None or not str(value).strip():
        result.problem("k3s_api_endpoint", "is not set", fix)
        return
    text = str(value).strip()
    if text in server_hosts:
        return
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        result.problem(
            "k3s_api_endpoint",
            f"{text!r} is neither a server's ansible_host nor an IP address (give the address without port)",
            fix,
        )
        return
    if any(addresses.get(h) == address for h in inventory.servers):
        return
    agents = [h for h in inventory.agents if addresses.get(h) == address]
    if agents:
        result.problem(
            "k3s_api_endpoint", f"{address} is the address of agent {agents[0]}, which serves no API", fix
        )
        return
    node_nets = networks.get("k3s_node_cidr", [])
    if not any(address in n for n in node_nets):
        nets = ", ".join(map(str, node_nets)) or "(k3s_node_cidr is invalid)"
        result.problem(
            "k3s_api_endpoint",
            f"{address} is neither a server's ansible_host nor inside k3s_node_cidr {nets}",
            fix,
        )
        return
    for entry in entries:
        if entry.contains(address):
            result.problem(
                "k3s_api_endpoint",
                f"{address} is inside {entry.label} entry {entry.text}, "
                "so MetalLB could hand it to a service",
                f"choose a virtual IP outside the MetalLB pools, or use one of the servers' ansible_host "
                f"({', '.join(server_hosts)})",
            )


# --- secrets ----------------------------------------------------------------


def is_placeholder(value: Any) -> bool:
    """True for values copied from examples rather than chosen secrets."""
    text = str(value).strip()
    return text.lower() in PLACEHOLDER_SECRETS or (text.startswith("<") and text.endswith(">"))


def _check_secrets(secrets: Mapping[str, Any], result: PreflightResult) -> None:
    """Secret values never appear in messages: only the variable name does."""
    for name in sorted(secrets):
        value = secrets[name]
        if value is None or not str(value).strip():
            result.problem(
                name,
                "is defined but empty",
                "set a real secret in your vault file, or remove the variable so the secret is generated "
                "once into platform_secrets_dir",
            )
        elif is_placeholder(value):
            result.problem(
                name,
                "is still a placeholder value",
                "set a real secret in your vault file (ansible-vault edit), or remove the variable so the "
                "secret is generated once into platform_secrets_dir",
            )
