"""Lint of the Containerfiles (building them needs a registry, which CI does not have)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CONTAINERS = Path(__file__).resolve().parents[2] / "containers"
FILES = ["Containerfile.trainer", "Containerfile.mlserver"]
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


@pytest.mark.parametrize("name", FILES)
def test_containerfile_is_multi_stage_pinned_and_non_root(name: str) -> None:
    text = (CONTAINERS / name).read_text()
    ins = _instructions(text)
    args = dict(a.split("=", 1) for k, a in ins if k == "ARG" and "=" in a)
    froms = [a for k, a in ins if k == "FROM"]
    assert len(froms) >= 2, "multi-stage: a build stage and a runtime stage"
    assert all(f.split()[0] == "${PYTHON_BASE}" for f in froms), froms
    assert DIGEST.search(args["PYTHON_BASE"]), "the base image is pinned by digest"
    assert "COPY --from=build" in text, "the runtime stage takes only the built venv"
    assert ":latest" not in text
    users = [a for k, a in ins if k == "USER"]
    assert users, "a USER instruction"
    uid = users[-1].split(":")[0]
    assert uid not in {"0", "root"} and uid.isdigit(), "numeric non-root user (runAsNonRoot can check it)"
    final_stage = text[text.rindex("FROM ") :]
    assert "USER " in final_stage, "USER is set in the final stage"


def test_containerignore_keeps_the_context_small() -> None:
    lines = [
        line
        for line in (CONTAINERS / ".containerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert lines[0] == "*"
    assert {"!pyproject.toml", "!README.md", "!ml_src/"} <= set(lines)


@pytest.mark.parametrize(
    ("name", "extra"), [("Containerfile.trainer", "train"), ("Containerfile.mlserver", "serve")]
)
def test_each_image_installs_only_its_extra_and_builds_air_gapped(name: str, extra: str) -> None:
    ins = _instructions((CONTAINERS / name).read_text())
    args = dict([*a.split("=", 1), ""][:2] for k, a in ins if k == "ARG")
    assert args.get("WHEELHOUSE") == "", "the air-gapped build is opt-in (empty WHEELHOUSE: the indexes)"
    installs = [a for k, a in ins if k == "RUN" and "pip install" in a]
    assert len(installs) == 1, installs
    assert f'"/src[{extra}]"' in installs[0]
    assert '--no-index --find-links "${WHEELHOUSE}"' in installs[0]
