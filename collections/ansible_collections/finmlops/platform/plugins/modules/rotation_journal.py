#!/usr/bin/python
"""Ansible module: the rotation journal of rotate-secrets.yml (logic in module_utils.rotation_journal)."""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.finmlops.platform.plugins.module_utils import rotation_journal as journal

DOCUMENTATION = r"""
module: rotation_journal
short_description: Record the stages of a credential rotation on the controller (pending, applied, committed)
description:
  - C(begin) saves the new value (0600) and a journal entry before any service is touched, or resumes
    an unfinished rotation with the value saved then.
  - C(applied) records a finished step; C(commit) makes the new value the credential's file and
    closes the entry.
  - C(status) lists the unfinished rotations.
options:
  dir:
    description: The secrets folder (platform_secrets_dir).
    type: path
    required: true
  state:
    description: What to do.
    type: str
    choices: [begin, applied, commit, status]
    required: true
  name:
    description: Credential name (postgres_password, minio_root_password, k3s_token).
    type: str
  candidate:
    description: The new value to use when no rotation of this credential is pending.
    type: str
    no_log: true
  vault:
    description: The value lives in ansible-vault; only the journal entry is written.
    type: bool
    default: false
  step:
    description: Step name for C(applied).
    type: str
author: financial-mlops maintainers
"""

EXAMPLES = r"""
- name: Save the new value before touching any service
  finmlops.platform.rotation_journal:
    dir: "{{ platform_secrets_dir }}"
    state: begin
    name: postgres_password
    candidate: "{{ lookup('ansible.builtin.password', '/dev/null', length=40) }}"
  register: rotation
  no_log: true
"""

RETURN = r"""
value:
  description: The new value (begin only; register the task with no_log).
  type: str
  returned: state=begin
applied:
  description: Steps already done (begin).
  type: list
  returned: state=begin
resumed:
  description: True when an unfinished rotation was resumed.
  type: bool
  returned: state=begin
pending:
  description: Unfinished rotations (name -> source, applied steps, start time).
  type: dict
  returned: state=status
"""


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "dir": {"type": "path", "required": True},
            "state": {"type": "str", "required": True, "choices": ["begin", "applied", "commit", "status"]},
            "name": {"type": "str"},
            "candidate": {"type": "str", "no_log": True},
            "vault": {"type": "bool", "default": False},
            "step": {"type": "str"},
        },
        required_if=[
            ("state", "begin", ["name", "candidate"]),
            ("state", "applied", ["name", "step"]),
            ("state", "commit", ["name"]),
        ],
        supports_check_mode=False,
    )
    p = module.params
    try:
        if p["state"] == "status":
            module.exit_json(changed=False, pending=journal.pending(p["dir"]))
        elif p["state"] == "begin":
            result = journal.begin(p["dir"], p["name"], p["candidate"], p["vault"])
            module.exit_json(**result)
        elif p["state"] == "applied":
            module.exit_json(changed=journal.applied(p["dir"], p["name"], p["step"]))
        else:
            module.exit_json(changed=journal.commit(p["dir"], p["name"]))
    except (journal.JournalError, OSError) as err:
        module.fail_json(msg=str(err))


if __name__ == "__main__":
    main()
