"""Turn the steps of roles/ml_trainer/files/pipeline-steps.yml into local commands.

The Argo templates substitute the same ``${name}`` placeholders with Argo
expressions; here they become local values, so the embedded demo and the
tests run exactly the commands the cluster runs. tests/app imports this file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_-]+)\}")


class PipelineStepError(ValueError):
    """A step that cannot be turned into a command (unknown placeholder, bad file)."""


def substitute(text: str, values: Mapping[str, Any], paths: Mapping[str, str] | None = None) -> str:
    """Replace every ``${name}``: first the path aliases (which may hold ``${work}``), then values."""
    # A value given explicitly (e.g. data= the user's folder) wins over the alias.
    paths = {k: v for k, v in (paths or {}).items() if k not in values}
    for _ in range(3):  # paths may refer to ${work}; nothing nests deeper
        expanded = PLACEHOLDER.sub(lambda m: paths.get(m.group(1), m.group(0)), text)
        if expanded == text:
            break
        text = expanded

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise PipelineStepError(
                f"placeholder ${{{name}}} has no value (known: {', '.join(sorted(values))}); "
                "add it to the values passed to pipeline_command or to the parameters of "
                "roles/ml_trainer/files/pipeline-steps.yml"
            )
        return str(values[name])

    return PLACEHOLDER.sub(value, text)


def pipeline_command(
    step: Mapping[str, Any], values: Mapping[str, Any], pipeline: Mapping[str, Any] | None = None
) -> list[str]:
    """The argv of ``step`` with placeholders replaced; ``pipeline`` supplies the path aliases."""
    argv = step.get("argv")
    if not isinstance(argv, list) or not argv:
        raise PipelineStepError(f"step {step.get('name', '?')!r} has no argv list")
    paths = dict((pipeline or {}).get("paths", {}))
    return [substitute(str(arg), values, paths) for arg in argv]


def pipeline_path(text: str, values: Mapping[str, Any], pipeline: Mapping[str, Any] | None = None) -> str:
    """An artifact path of the steps file, resolved locally."""
    return substitute(text, values, dict((pipeline or {}).get("paths", {})))


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"pipeline_command": pipeline_command, "pipeline_path": pipeline_path}
