"""Merge the cluster's admin kubeconfig into a person's ~/.kube/config.

The cluster, user and context entries of the new kubeconfig are added under
their own names. An entry of that name already there is replaced only when it
belongs to the same cluster (same API server URL): another cluster's entry is
never overwritten, the merge fails and names it instead. Every other entry,
and the current context, stay as they are (an empty file gets this cluster
as its current context).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

SECTIONS = (("clusters", "cluster"), ("users", "user"), ("contexts", "context"))


class KubeconfigMergeError(ValueError):
    """The merge would overwrite another cluster's entry; the message says which and how to fix it."""


def _server(config: Mapping[str, Any], cluster_name: str) -> str | None:
    for entry in config.get("clusters") or []:
        if entry.get("name") == cluster_name:
            return (entry.get("cluster") or {}).get("server")
    return None


def merge_kubeconfig(
    existing: Mapping[str, Any] | None, new: Mapping[str, Any], path: str = "~/.kube/config"
) -> dict:
    """``existing`` with the entries of ``new`` (a single-context kubeconfig) merged in."""
    merged: dict[str, Any] = copy.deepcopy(dict(existing or {}))
    merged.setdefault("apiVersion", "v1")
    merged.setdefault("kind", "Config")
    merged.setdefault("preferences", {})
    new_context = (new.get("contexts") or [{}])[0]
    new_cluster = (new.get("clusters") or [{}])[0]
    new_server = (new_cluster.get("cluster") or {}).get("server")
    # The entries of this name belong to us when the existing cluster entry of
    # the context points at the same API server.
    owner_context = next(
        (c for c in merged.get("contexts") or [] if c.get("name") == new_context.get("name")), None
    )
    for section, _key in SECTIONS:
        for entry in new.get(section) or []:
            name = entry.get("name")
            entries = merged.setdefault(section, []) or []
            merged[section] = entries
            index = next((i for i, e in enumerate(entries) if e.get("name") == name), None)
            if index is None:
                entries.append(copy.deepcopy(entry))
                continue
            if entries[index] == entry:
                continue
            ours = _server(merged, new_cluster.get("name")) == new_server
            if section == "contexts" and owner_context is not None:
                ours = (
                    ours
                    and _server(merged, (owner_context.get("context") or {}).get("cluster")) == new_server
                )
            if not ours:
                raise KubeconfigMergeError(
                    f"{path}: the {section[:-1]} entry {name!r} belongs to another cluster "
                    f"(API server {_server(merged, new_cluster.get('name')) or 'unknown'}, "
                    f"not {new_server}); nothing was changed. Fix: set k3s_cluster_name to a name not used "
                    "in that file, or remove the old entry with kubectl config "
                    "delete-context/delete-cluster/delete-user"
                )
            entries[index] = copy.deepcopy(entry)
    if not merged.get("current-context"):
        merged["current-context"] = new_context.get("name")
    return merged
