"""The serving runtime's gRPC message limit fits the memory of the container that decodes it."""

from __future__ import annotations

import pytest
from ansible_cli import run_role_alone
from ansible_collections.finmlops.platform.plugins.module_utils.quota_fit import parse_quantity

# A request is decoded into protobuf objects and arrays, several copies of its wire size.
SHARE = 4


@pytest.mark.slow
def test_mlserver_grpc_limit_is_a_quarter_of_its_memory_at_most(platform_render) -> None:
    config = platform_render.one("ServerConfig", "mlserver", "financial-ml")
    (mlserver,) = [c for c in config["spec"]["podSpec"]["containers"] if c["name"] == "mlserver"]
    env = {e["name"]: e.get("value") for e in mlserver["env"]}
    limit = int(env["MLSERVER_GRPC_MAX_MESSAGE_LENGTH"])
    memory = parse_quantity(mlserver["resources"]["limits"]["memory"])
    assert 0 < limit * SHARE <= memory, (limit, memory)
    assert limit == 64 * 2**20  # the role's default


def test_a_limit_the_memory_cannot_hold_is_refused(tmp_path, ansible_env) -> None:
    proc = run_role_alone(
        tmp_path, "seldon", {"seldon_mlserver_grpc_max_message_bytes": 1048576000}, env=ansible_env
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "seldon_mlserver_grpc_max_message_bytes is 1048576000" in output, output[-3000:]
    assert "OOM-killed" in output, output[-3000:]
