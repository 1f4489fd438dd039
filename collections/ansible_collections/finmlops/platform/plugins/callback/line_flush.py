"""Make every line ansible-playbook prints reach a pipe when it is printed.

Ansible's Display writes to sys.stdout and never flushes (a final flush happens
at exit). On a terminal that is line-buffered; piped (`make demo | tee log`, CI,
a pytest subprocess) it is block-buffered, so the demo's progress lines, which
are meant to appear every few seconds, arrive in bursts when a task ends.
Loading this callback switches the controller's stdout to line buffering once.
"""

from __future__ import annotations

import sys

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: line_flush
type: aggregate
short_description: Print each output line as it is written, also when stdout is a pipe
description:
  - Switches the controller's standard output to line buffering when the play starts, so
    progress lines reach a pipe (tee, CI logs) as they are printed instead of in bursts.
  - Enabled in the project's ansible.cfg (callbacks_enabled).
author: financial-mlops maintainers
"""

EXAMPLES = r"""
# ansible.cfg
# [defaults]
# callbacks_enabled = finmlops.platform.line_flush
"""


class CallbackModule(CallbackBase):
    """No output of its own: it only changes how stdout is buffered."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "finmlops.platform.line_flush"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        reconfigure = getattr(sys.stdout, "reconfigure", None)
        if reconfigure is not None:  # a plain TextIOWrapper; test harnesses may swap in others
            reconfigure(line_buffering=True)
