"""registries.yaml as roles/k3s renders it: every setting must survive as YAML, none hidden in a comment.

Regression: a whitespace-trimming Jinja comment once glued the first key
(`configs:`) onto the managed-file comment line, so k3s would have read a
file with mirrors but without the registry's auth and CA. molecule/default
checks the file on the nodes; this renders the template on the controller in
seconds with the same settings.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml
from ansible_cli import PROJECT_ROOT, run_ansible

REGISTRY = "mirror.example.test:5000"
PLAYBOOK = """
- name: Render registries.yaml
  hosts: localhost
  connection: local
  gather_facts: false
  vars_files: [{k3s_vars}]
  tasks:
    - name: Render the template
      ansible.builtin.template:
        src: {template}
        dest: {dest}
        mode: "0600"
"""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("registries")
    dest = tmp / "registries.yaml"
    playbook = tmp / "render.yml"
    playbook.write_text(
        PLAYBOOK.format(
            k3s_vars=PROJECT_ROOT / "roles/k3s/vars/main.yml",
            template=PROJECT_ROOT / "roles/k3s/templates/registries.yaml.j2",
            dest=dest,
        ),
        encoding="utf-8",
    )
    extra = {
        "ansible_python_interpreter": sys.executable,
        "k3s_registry_mirrors": {"docker.io": {"endpoint": [f"https://{REGISTRY}"]}},
        "k3s_registry_configs": {REGISTRY: {"auth": {"username": "puller", "password": "not-a-real-pw"}}},
        "k3s_registry_ca_files": {REGISTRY: str(tmp / "ca.crt")},
    }
    result = run_ansible("ansible-playbook", "-i", "localhost,", str(playbook), "-e", json.dumps(extra))
    assert result.returncode == 0, result.stdout + result.stderr
    return yaml.safe_load(Path(dest).read_text(encoding="utf-8"))


def test_mirrors_auth_and_ca_are_all_yaml(rendered: dict) -> None:
    assert rendered["mirrors"] == {"docker.io": {"endpoint": [f"https://{REGISTRY}"]}}
    config = rendered["configs"][REGISTRY]
    assert config["auth"] == {"username": "puller", "password": "not-a-real-pw"}
    assert config["tls"]["ca_file"].endswith("/mirror.example.test_5000.crt")
