"""Writing rendered manifests: one file per object, named in apply order.

Files are named ``<index>-<kind>-<name>.yaml`` inside a component folder so
that the sorted list of paths is the apply order. A file is only rewritten
when its content changes, so a re-render reports no change. Secret values
are redacted before anything reaches the disk.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import yaml
from ansible_collections.finmlops.platform.plugins.module_utils.k8s_objects import redact_secret


class _Dumper(yaml.SafeDumper):
    """Block-style YAML with multi-line strings kept readable."""


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_representer)


def manifest_filename(index: int, obj: dict[str, Any]) -> str:
    kind = str(obj.get("kind", "object")).lower()
    name = str((obj.get("metadata") or {}).get("name", "unnamed"))
    return f"{index:03d}-{kind}-{name}.yaml"


def dump_manifest(obj: dict[str, Any]) -> str:
    body = yaml.dump(
        redact_secret(obj),
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=120,
    )
    return "---\n" + body


def write_manifests(dest_dir: str | os.PathLike[str], manifests: list[dict[str, Any]], mode: int = 0o644):
    """Write ``manifests`` into ``dest_dir``; return (paths, changed paths)."""
    folder = Path(dest_dir)
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[str] = []
    changed: list[str] = []
    for index, obj in enumerate(manifests):
        path = folder / manifest_filename(index, obj)
        content = dump_manifest(obj)
        paths.append(str(path))
        if path.is_file() and path.read_text(encoding="utf-8") == content:
            if (path.stat().st_mode & 0o777) != mode:
                path.chmod(mode)
                changed.append(str(path))
            continue
        # Atomic replace: a reader (kubectl, a GitOps agent) never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".render-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
        changed.append(str(path))
    return paths, changed
