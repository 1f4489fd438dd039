"""A read-only Kubernetes API double on loopback, serving objects from a snapshot.

It answers what kubernetes.core.k8s_info asks: /version, discovery
(/api, /apis, /api/v1, /apis/<group>/<version>) and list requests, all
namespaces or one. Enough to run the live paths of the day-2 runbooks
(day2_collect -> snapshot/doctor/verify) without a cluster. Test-only.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

# kind -> (plural, namespaced), per group/version.
RESOURCES: dict[str, dict[str, tuple[str, bool]]] = {
    "v1": {
        "Namespace": ("namespaces", False),
        "Node": ("nodes", False),
        "Pod": ("pods", True),
        "Service": ("services", True),
        "Secret": ("secrets", True),
        "ConfigMap": ("configmaps", True),
    },
    "discovery.k8s.io/v1": {"EndpointSlice": ("endpointslices", True)},
    "networking.k8s.io/v1": {"NetworkPolicy": ("networkpolicies", True)},
    "apps/v1": {
        "Deployment": ("deployments", True),
        "StatefulSet": ("statefulsets", True),
        "DaemonSet": ("daemonsets", True),
    },
    "mlops.seldon.io/v1alpha1": {
        "Server": ("servers", True),
        "ServerConfig": ("serverconfigs", True),
        "Model": ("models", True),
        "Experiment": ("experiments", True),
        "SeldonRuntime": ("seldonruntimes", True),
    },
    "argoproj.io/v1alpha1": {
        "WorkflowTemplate": ("workflowtemplates", True),
        "Workflow": ("workflows", True),
    },
    "operator.tigera.io/v1": {
        "Installation": ("installations", False),
        "TigeraStatus": ("tigerastatuses", False),
    },
}


class FakeKubeAPI:
    def __init__(self, objects: list[dict[str, Any]]) -> None:
        self.by_plural: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for obj in objects:
            group_version = obj["apiVersion"]
            plural, _ = RESOURCES[group_version][obj["kind"]]
            self.by_plural[(group_version, plural)].append(obj)
        self.requests: list[str] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                api.requests.append(self.path)
                code, body = api.answer(urlsplit(self.path).path)
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeKubeAPI:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def kubeconfig(self) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {"token": "fake-read-only"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
            "current-context": "fake",
        }

    @staticmethod
    def _resource_list(group_version: str) -> dict[str, Any]:
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": group_version,
            "resources": [
                {
                    "name": plural,
                    "singularName": kind.lower(),
                    "namespaced": namespaced,
                    "kind": kind,
                    "verbs": ["get", "list", "watch"],
                }
                for kind, (plural, namespaced) in RESOURCES[group_version].items()
            ],
        }

    def answer(self, path: str) -> tuple[int, dict[str, Any]]:
        parts = [p for p in path.split("/") if p]
        if path == "/health":  # stands in for MLflow's health endpoint in verify.yml
            return 200, {"status": "OK"}
        if path == "/version":
            return 200, {"major": "1", "minor": "33", "gitVersion": "v1.33.1+k3s1"}
        if path == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"]}
        if path == "/apis":
            groups = [gv for gv in RESOURCES if "/" in gv]
            return 200, {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [
                    {
                        "name": gv.split("/")[0],
                        "versions": [{"groupVersion": gv, "version": gv.split("/")[1]}],
                        "preferredVersion": {"groupVersion": gv, "version": gv.split("/")[1]},
                    }
                    for gv in groups
                ],
            }
        if parts[:2] == ["api", "v1"]:
            group_version, rest = "v1", parts[2:]
        elif parts and parts[0] == "apis" and len(parts) >= 3:
            group_version, rest = f"{parts[1]}/{parts[2]}", parts[3:]
        else:
            return 404, {"kind": "Status", "status": "Failure", "code": 404}
        if group_version not in RESOURCES:
            return 404, {"kind": "Status", "status": "Failure", "code": 404}
        if not rest:
            return 200, self._resource_list(group_version)
        namespace = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        plural = rest[0]
        kind = next(k for k, (p, _) in RESOURCES[group_version].items() if p == plural)
        items = [
            o
            for o in self.by_plural[(group_version, plural)]
            if namespace is None or o["metadata"].get("namespace") == namespace
        ]
        # Lists carry items without kind/apiVersion, as the real API server sends them.
        stripped = [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")} for o in items]
        return 200, {
            "kind": f"{kind}List",
            "apiVersion": group_version,
            "metadata": {"resourceVersion": "1"},
            "items": stripped,
        }
