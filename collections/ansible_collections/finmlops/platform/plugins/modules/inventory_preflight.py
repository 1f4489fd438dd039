#!/usr/bin/python
"""Ansible module: check an inventory before anything touches a host (thin wrapper)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: inventory_preflight
short_description: Check a k3s platform inventory for mistakes before any host is contacted
description:
  - Checks the inventory data it is given, on the controller; it never contacts a host.
  - "Groups: an odd number of servers, at least 3, for embedded etcd (unless
    I(settings.k3s_allow_unsafe_server_count) is true); no host in both server and agent; every cluster
    host in one of them."
  - "Addresses: every host has a unique C(ansible_host); no host inside the cluster or service CIDR."
  - "Networks: C(k3s_node_cidr), C(k3s_cluster_cidr) and C(k3s_service_cidr) are valid CIDRs (comma-separated
    pairs for dual-stack) that do not overlap each other."
  - "MetalLB: every pool entry is a range C(a.b.c.d-a.b.c.e) or a CIDR; pools do not contain node addresses,
    do not overlap the cluster/service CIDRs or each other, and sit inside C(k3s_node_cidr) in layer2 mode;
    every reservation lies in a pool and no address is reserved twice."
  - "k3s: C(k3s_version) is a release tag C(vX.Y.Z+k3sN) of the supported minor; C(k3s_api_endpoint) is a
    server's C(ansible_host) or a free address inside C(k3s_node_cidr); C(k3s_cni), C(metallb_mode) and
    C(platform_mode) have known values."
  - "Secrets: none of the given secret variables is empty or a placeholder such as C(changeme)."
  - "Images: no application image is one the nodes cannot get (a C(localhost/) image without a
    C(k3s_image_archives) entry, or the upstream C(seldonio/mlserver) image for the Server that claims
    C(financial-lstm))."
  - 'Reports every problem at once, each as "<variable or host>: <what is wrong>. Fix: <how>", and fails
    when there is at least one.'
options:
  hosts:
    description:
      - Every host of the cluster group mapped to its C(ansible_host) (null when unset).
    type: dict
    required: true
  servers:
    description: Members of the server group.
    type: list
    elements: str
    required: true
  agents:
    description: Members of the agent group.
    type: list
    elements: str
    default: []
  settings:
    description:
      - The cluster-wide variables, as the controller sees them.
      - A missing key means the variable is undefined.
      - Keys read - C(k3s_version), C(k3s_api_endpoint), C(k3s_node_cidr), C(k3s_cluster_cidr),
        C(k3s_service_cidr), C(k3s_cni), C(metallb_mode), C(metallb_address_pools),
        C(metallb_ip_reservations), C(platform_mode), C(k3s_allow_unsafe_server_count),
        C(ml_image_registry), C(ml_trainer_image), C(ml_trainer_image_pull_policy), C(mlserver_image),
        C(mlserver_capabilities), C(k3s_image_archives).
      - Values are taken as they are (no type coercion), so a wrong type is reported as a problem
        instead of stopping the check.
    type: dict
    required: true
  secrets:
    description:
      - The secret variables that are defined, name to value. Values are never shown in the output.
    type: dict
    default: {}
  supported_k3s_minor:
    description: Kubernetes minor (C(major.minor)) the project is tested with.
    type: str
    default: "1.33"
  allow_unsupported_k3s_version:
    description: Turn a k3s release of another minor into a warning instead of a problem.
    type: bool
    default: false
author:
  - financial-mlops contributors
notes:
  - Check mode is supported; the module changes nothing.
"""

EXAMPLES = r"""
- name: Check the inventory
  finmlops.platform.inventory_preflight:
    hosts:
      k3s-server-1: 192.168.1.11
      k3s-server-2: 192.168.1.12
      k3s-server-3: 192.168.1.13
      k3s-agent-1: 192.168.1.21
    servers: [k3s-server-1, k3s-server-2, k3s-server-3]
    agents: [k3s-agent-1]
    settings:
      k3s_version: v1.33.1+k3s1
      k3s_api_endpoint: 192.168.1.11
      k3s_node_cidr: 192.168.1.0/24
      k3s_cluster_cidr: 10.42.0.0/16
      k3s_service_cidr: 10.43.0.0/16
      k3s_cni: calico
      metallb_mode: layer2
      metallb_address_pools:
        - name: platform
          addresses: [192.168.1.200-192.168.1.220]
      metallb_ip_reservations:
        mlflow: 192.168.1.200
      platform_mode: apply
    # Only the secret variables that are defined; the option is no_log.
    secrets:
      vault_postgres_password: "{{ vault_postgres_password }}"

- name: Check an inventory whose k3s release is ahead of the tested minor (warns instead of failing)
  finmlops.platform.inventory_preflight:
    hosts: "{{ my_hosts }}"
    servers: "{{ groups['server'] }}"
    agents: "{{ groups['agent'] }}"
    settings: "{{ my_settings }}"
    allow_unsupported_k3s_version: true
  register: preflight

- name: Show what preflight found
  ansible.builtin.debug:
    var: preflight.warnings | default([])
"""

RETURN = r"""
problems:
  description:
    - 'Every problem found, each "<variable or host>: <what is wrong>. Fix: <how>".'
    - Empty on success.
  returned: always
  type: list
  elements: str
  sample:
    - "server: 2 server(s) (k3s-server-1, k3s-server-2) with embedded etcd; ... Fix: use an odd number ..."
warnings:
  description:
    - Findings worth reading that do not stop the run, shown as Ansible warnings.
    - Set by Ansible from the module's warnings, so the key is absent when there are none.
  returned: when there are warnings
  type: list
  elements: str
  sample:
    - "k3s-agent-1: ansible_host 10.0.5.7 is outside k3s_node_cidr 192.168.1.0/24. Calico picks ..."
summary:
  description: One-line summary.
  returned: always
  type: str
  sample: "inventory preflight: 0 problem(s), 0 warning(s) for 3 server(s) and 2 agent(s)"
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.finmlops.platform.plugins.module_utils.preflight import (
    Inventory,
    Policy,
    check_inventory,
    is_placeholder,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "hosts": {"type": "dict", "required": True},
            "servers": {"type": "list", "elements": "str", "required": True},
            "agents": {"type": "list", "elements": "str", "default": []},
            "settings": {"type": "dict", "required": True},
            "secrets": {"type": "dict", "default": {}, "no_log": True},
            "supported_k3s_minor": {"type": "str", "default": "1.33"},
            "allow_unsupported_k3s_version": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    params = module.params
    inventory = Inventory(
        hosts=params["hosts"],
        servers=params["servers"],
        agents=params["agents"],
        settings=params["settings"],
        secrets=params["secrets"],
    )
    policy = Policy(
        supported_k3s_minor=params["supported_k3s_minor"],
        allow_unsupported_k3s_version=params["allow_unsupported_k3s_version"],
    )
    result = check_inventory(inventory, policy)
    # Ansible masks every no_log value wherever it appears in the output. A
    # placeholder ("password", "secret") is a public word, not a secret:
    # masking it would garble every message containing that word.
    module.no_log_values.difference_update(
        str(value) for value in params["secrets"].values() if value is not None and is_placeholder(value)
    )
    for warning in result.warnings:
        module.warn(warning)
    summary = (
        f"inventory preflight: {len(result.problems)} problem(s), {len(result.warnings)} warning(s) "
        f"for {len(inventory.servers)} server(s) and {len(inventory.agents)} agent(s)"
    )
    # Ansible turns module.warn() into the result's "warnings" key (passing it
    # to exit_json directly is deprecated).
    output = {"changed": False, "problems": result.problems, "summary": summary}
    if result.problems:
        lines = "\n".join(f"  - {p}" for p in result.problems)
        module.fail_json(msg=f"{summary}; fix these in the inventory:\n{lines}", **output)
    module.exit_json(**output)


if __name__ == "__main__":
    main()
