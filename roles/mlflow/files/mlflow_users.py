"""Create or update the platform's MLflow accounts through MLflow's auth REST API.

Run by the mlflow-users Job (roles/mlflow/templates/users-job.yaml.j2) with the
admin credentials in MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD and
one account per client in <NAME>_USER / <NAME>_PASSWORD, each given either
as the variable itself or as <VARIABLE>_FILE naming a file that holds it (the
Job mounts its Secrets as files); never on a command line. Standard library only: it runs in the tracking
server's image, whatever MLflow client version that image carries.

- Every account named in MLFLOW_ACCOUNTS ("pipeline:EDIT reader:") exists
  and has the password of its Secret (created, or its password set again:
  a rerun converges and never fails on an existing user).
- An account with a permission after the colon receives it (unless it
  already holds a grant there) on every experiment and registered model
  that exists now: resources created before authentication was turned on
  carry no grant, and the server's default permission (READ) would lock the
  pipeline out of its own experiments.
  What an account creates later is its own (MANAGE) without a grant.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

WAIT_SECONDS = float(os.environ.get("MLFLOW_USERS_WAIT_SECONDS", "600"))


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code


def secret(name: str) -> str:
    """The variable ``name``, else the content of the file ``$<name>_FILE`` (a mounted Secret key)."""
    if name in os.environ:
        return os.environ[name]
    path = os.environ.get(f"{name}_FILE")
    if not path:
        raise SystemExit(f"neither {name} nor {name}_FILE is set")
    with open(path, encoding="utf-8") as handle:
        return handle.read().rstrip("\n")


def _authorization() -> str:
    pair = f"{secret('MLFLOW_TRACKING_USERNAME')}:{secret('MLFLOW_TRACKING_PASSWORD')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def call(method: str, path: str, body: dict | None = None, query: dict | None = None) -> dict:
    url = os.environ["MLFLOW_TRACKING_URI"].rstrip("/") + path
    if query:
        url += "?" + urllib.parse.urlencode(query)
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", _authorization())
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode() or "{}"
    except urllib.error.HTTPError as err:
        text = err.read().decode(errors="replace")
        try:
            payload = json.loads(text)
        except ValueError:
            payload = {}
        # The server's message, never the request: it could hold a password.
        raise ApiError(err.code, payload.get("error_code", ""), payload.get("message", text[:200])) from None
    return json.loads(text)


def wait_for_server() -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    url = os.environ["MLFLOW_TRACKING_URI"].rstrip("/") + "/health"
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError as err:
            if time.monotonic() > deadline:
                raise SystemExit(f"MLflow did not answer {url} within {WAIT_SECONDS:.0f} s: {err}") from None
            time.sleep(3)


def ensure_user(username: str, password: str) -> str:
    try:
        call("GET", "/api/2.0/mlflow/users/get", query={"username": username})
    except ApiError as err:
        if err.code != "RESOURCE_DOES_NOT_EXIST" and err.status != 404:
            raise
        call("POST", "/api/2.0/mlflow/users/create", {"username": username, "password": password})
        return "created"
    # The admin sets the password (no current_password needed): the Secret is the truth.
    call("PATCH", "/api/2.0/mlflow/users/update-password", {"username": username, "password": password})
    return "updated"


def _pages(path: str, key: str, query: dict) -> list[dict]:
    items: list[dict] = []
    token = None
    while True:
        page = call("GET", path, query={**query, **({"page_token": token} if token else {})})
        items.extend(page.get(key, []))
        token = page.get("next_page_token")
        if not token:
            return items


def grant(username: str, kind: str, resource_id: str, permission: str) -> None:
    """Give ``permission`` unless the account already holds a grant there.

    An existing grant is kept: on what the account created it is MANAGE,
    which an EDIT grant must not lower. MLflow >= 3.17 has one grant
    endpoint; earlier servers one per kind of resource.
    """
    if kind == "experiment":
        legacy, ident = "/api/2.0/mlflow/experiments/permissions/create", {"experiment_id": resource_id}
    else:
        legacy, ident = "/api/2.0/mlflow/registered-models/permissions/create", {"name": resource_id}
    attempts = [
        (
            "/api/3.0/mlflow/users/permissions/grant",
            {
                "username": username,
                "resource_type": kind,
                "resource_id": resource_id,
                "permission": permission,
            },
        ),
        (legacy, {**ident, "username": username, "permission": permission}),
    ]
    for path, body in attempts:
        try:
            call("POST", path, body)
            return
        except ApiError as err:
            if err.code == "RESOURCE_ALREADY_EXISTS":
                return
            if err.status != 404:
                raise
    raise SystemExit(
        f"MLflow has no permission endpoint for {kind} (tried {', '.join(p for p, _ in attempts)})"
    )


def main() -> int:
    accounts = [item.partition(":") for item in os.environ["MLFLOW_ACCOUNTS"].split()]
    wait_for_server()
    experiments = registered_models = None
    for name, _, permission in accounts:
        username = secret(f"{name.upper()}_USER")
        outcome = ensure_user(username, secret(f"{name.upper()}_PASSWORD"))
        print(f"MLflow account {username}: {outcome}")
        if not permission:
            continue
        if experiments is None:
            experiments = _pages(
                "/api/2.0/mlflow/experiments/search", "experiments", {"max_results": 1000, "view_type": "ALL"}
            )
            registered_models = _pages(
                "/api/2.0/mlflow/registered-models/search", "registered_models", {"max_results": 1000}
            )
        for experiment in experiments:
            grant(username, "experiment", experiment["experiment_id"], permission)
        for model in registered_models or []:
            grant(username, "registered_model", model["name"], permission)
        print(
            f"MLflow account {username}: {permission} on {len(experiments)} experiment(s), "
            f"{len(registered_models or [])} registered model(s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
