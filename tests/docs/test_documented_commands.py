"""Every command in a fenced bash block of README.md and docs/*.md is true, checked in a dry form.

Blocks are parsed generically (```bash / ```sh / ```shell / ```console), so
commands added to any doc later are checked too:

- ``ansible-playbook``: the playbook and inventory exist (``inventory/mine`` and
  ``inventory/<yours>`` stand for a copy of ``inventory/sample``), every
  ``-e`` variable is read by the playbook (a Jinja reference, a role default or
  argument spec, or an inventory variable of what it runs), every ``--tags``
  value exists, and the playbooks pass ``--syntax-check``;
- ``make``: the target exists (``make -n``), every ``VAR=`` is used by the
  Makefile, and ``DEMO_ARGS`` is checked as arguments of playbooks/local.yml;
- ``python -m financial_mlops[.serving|.html_report]``: parsed by the CLI's
  own argument parser (unknown options and bad choices fail);
- scripts and benchmarks: the file exists, and its ``--help`` lists the options used;
- ``mlflow ui|server``: every option is one of ``mlflow ui --help``.

Other programs (argo, kubectl, cp, export...) are outside the project and skipped.
"""

from __future__ import annotations

import functools
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jinja2
import jinja2.meta
import pytest
import yaml
from ansible_cli import ansible_environment, run_ansible

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(bash|sh|shell|console)[^\n]*\n(.*?)^```", re.S | re.M)
PLACEHOLDER_INVENTORIES = {"inventory/mine", "inventory/<yours>", "inventory/yours"}
CONDITION_KEYS = {"when", "that", "failed_when", "changed_when", "until", "break_when"}
SEPARATORS = {"&&", "||", ";", "|"}
# Jinja's lexer warns about regex escapes inside the project's string literals.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@dataclass(frozen=True)
class Command:
    doc: str
    line: int
    argv: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}: {shlex.join(self.argv)}"


def _clean(token: str) -> str:
    """``[-e`` / ``FILE]``: the optional-part brackets of usage lines are not part of the command."""
    if token.startswith("[") and not token.startswith(('["', "[{")):
        token = token[1:]
    if token.endswith("]") and not token.endswith(('"]', "}]")) and "[" not in token:
        token = token[:-1]
    return token


def documented_commands() -> list[Command]:
    found = []
    for doc in DOCS:
        text = doc.read_text()
        for block in FENCE.finditer(text):
            start = text[: block.start(2)].count("\n") + 1
            lines = block.group(2).replace("\\\n", " ").splitlines()
            for offset, raw in enumerate(lines):
                line = raw.strip().removeprefix("$ ")
                if not line or line.startswith("#"):
                    continue
                tokens = [_clean(t) for t in shlex.split(line, comments=True)]
                part: list[str] = []
                for token in [*tokens, ";"]:
                    if token in SEPARATORS:
                        while part and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", part[0]):
                            part.pop(0)  # VAR=value prefix
                        if part:
                            found.append(
                                Command(doc.relative_to(ROOT).as_posix(), start + offset, tuple(part))
                            )
                        part = []
                    elif token:
                        part.append(token)
    return found


COMMANDS = documented_commands()


def program(cmd: Command) -> str:
    argv = cmd.argv
    name = Path(argv[0]).name
    if name in {"python", "python3"} and len(argv) > 2 and argv[1] == "-m":
        return argv[2]
    if name in {"python", "python3"} and len(argv) > 1:
        return argv[1]
    return name


def select(*names: str) -> list[Command]:
    return [c for c in COMMANDS if program(c) in names or Path(c.argv[0]).name in names]


# --- ansible-playbook ---------------------------------------------------------------------


@dataclass
class PlaybookCall:
    playbook: Path
    inventory: Path
    extra_vars: list[str]
    tags: list[str]


def inventory_path(name: str) -> Path:
    return ROOT / ("inventory/sample" if name.rstrip("/") in PLACEHOLDER_INVENTORIES else name)


def parse_playbook_args(argv: list[str]) -> PlaybookCall:
    inventory = "inventory/sample"  # ansible.cfg's default
    extra, tags, playbooks = [], [], []
    it = iter(argv)
    for arg in it:
        if arg in ("-i", "--inventory"):
            inventory = next(it)
        elif arg in ("-e", "--extra-vars"):
            value = next(it)
            if value.startswith("@"):
                continue
            if value.lstrip().startswith("{"):
                extra += list(yaml.safe_load(value))  # ansible reads -e {...} as YAML (JSON included)
            else:
                extra += [kv.split("=", 1)[0] for kv in value.split()]
        elif arg in ("-t", "--tags", "--skip-tags"):
            tags += next(it).split(",")
        elif arg.endswith((".yml", ".yaml")):
            playbooks.append(arg)
    assert len(playbooks) == 1, f"expected one playbook in {argv}"
    return PlaybookCall(ROOT / playbooks[0], inventory_path(inventory), extra, tags)


def _jinja_names(text: str, env: jinja2.Environment) -> set[str]:
    try:
        return set(jinja2.meta.find_undeclared_variables(env.parse(text)))
    except jinja2.TemplateSyntaxError:
        return set()


def _walk(node: object, env: jinja2.Environment, key: str | None = None) -> Iterator[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(v, env, str(k))
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v, env, key)
    elif isinstance(node, str):
        if key in CONDITION_KEYS and "{{" not in node:
            yield from _jinja_names("{{ " + node + " }}", env)
        elif "{{" in node or "{%" in node:
            yield from _jinja_names(node, env)


@functools.cache
def reachable_files(playbook: Path) -> tuple[Path, ...]:
    """The playbook, what it imports, and every file of the roles it (transitively) names."""
    seen: set[Path] = set()
    roles: set[str] = set()
    queue = [playbook.resolve()]
    while queue:
        path = queue.pop()
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        text = path.read_text(errors="replace")
        for ref in re.findall(r"([\w./-]+\.ya?ml)", text):
            for base in (path.parent, ROOT):
                if (base / ref).is_file():
                    queue.append((base / ref).resolve())
        for name in re.findall(
            r"(?:role|name|tasks_from)?:?\s*['\"]?([a-z0-9_]+)['\"]?\s*$", text, flags=re.M
        ):
            if (ROOT / "roles" / name).is_dir() and name not in roles:
                roles.add(name)
                queue += [p.resolve() for p in (ROOT / "roles" / name).rglob("*") if p.is_file()]
        for name in re.findall(r"(?:role|name):\s*['\"]?([a-z0-9_]+)", text):
            if (ROOT / "roles" / name).is_dir() and name not in roles:
                roles.add(name)
                queue += [p.resolve() for p in (ROOT / "roles" / name).rglob("*") if p.is_file()]
    return tuple(sorted(seen))


@functools.cache
def variables_read(playbook: Path, inventory: Path) -> frozenset[str]:
    env = jinja2.Environment()
    names: set[str] = set()
    for path in reachable_files(playbook):
        if path.suffix in (".yml", ".yaml"):
            try:
                docs = list(yaml.safe_load_all(path.read_text()))
            except yaml.YAMLError:
                continue
            names |= set(_walk(docs, env))
            if path.parent.name in ("defaults", "vars") or path.name == "argument_specs.yml":
                for doc in docs:
                    if isinstance(doc, dict):
                        names |= set(doc)
                        for spec in (doc.get("argument_specs") or {}).values():
                            names |= set((spec or {}).get("options") or {})
        elif path.suffix == ".j2":
            names |= _jinja_names(path.read_text(), env)
    for vars_file in (inventory / "group_vars").rglob("*.yml"):
        data = yaml.safe_load(vars_file.read_text())
        names |= set(data or {})
    return frozenset(names)


PLAYBOOK_COMMANDS = select("ansible-playbook")


@pytest.mark.parametrize("cmd", PLAYBOOK_COMMANDS, ids=str)
def test_playbook_command_names_real_files_variables_and_tags(cmd: Command) -> None:
    call = parse_playbook_args(list(cmd.argv[1:]))
    assert call.playbook.is_file(), f"{cmd}: no playbook {call.playbook.relative_to(ROOT)}"
    assert call.inventory.exists(), f"{cmd}: no inventory {call.inventory.relative_to(ROOT)}"
    known = variables_read(call.playbook, call.inventory)
    unknown = [v for v in call.extra_vars if v not in known]
    assert not unknown, f"{cmd}: -e {', '.join(unknown)} is read by nothing that playbook runs"
    text = "\n".join(p.read_text(errors="replace") for p in reachable_files(call.playbook))
    missing = [t for t in call.tags if not re.search(rf"(?<![\w-]){re.escape(t)}(?![\w-])", text)]
    assert not missing, f"{cmd}: --tags {', '.join(missing)} is not a tag of that playbook"


def test_documented_playbooks_pass_syntax_check() -> None:
    by_inventory: dict[Path, set[Path]] = {}
    for cmd in PLAYBOOK_COMMANDS:
        call = parse_playbook_args(list(cmd.argv[1:]))
        if call.playbook.is_file() and call.inventory.exists():
            by_inventory.setdefault(call.inventory, set()).add(call.playbook)
    assert by_inventory, "no ansible-playbook command found in the docs"
    for inventory, playbooks in by_inventory.items():
        run = run_ansible(
            "ansible-playbook", "--syntax-check", "-i", str(inventory), *sorted(map(str, playbooks))
        )
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]


# --- make ---------------------------------------------------------------------------------


@pytest.mark.parametrize("cmd", select("make"), ids=str)
def test_make_command_is_a_real_target_with_real_variables(cmd: Command) -> None:
    makefile = (ROOT / "Makefile").read_text()
    assignments = [a for a in cmd.argv[1:] if "=" in a]
    for assignment in assignments:
        name, value = assignment.split("=", 1)
        used = rf"\$[({{]{name}[)}}]|^(export\s+)?{name}(\s*[?:]?=|\s*$)"
        assert re.search(used, makefile, flags=re.M), f"{cmd}: the Makefile does not use {name}"
        if name == "DEMO_ARGS":
            call = parse_playbook_args([*shlex.split(value), "playbooks/local.yml", "-i", "inventory/local"])
            unknown = [v for v in call.extra_vars if v not in variables_read(call.playbook, call.inventory)]
            assert not unknown, f"{cmd}: DEMO_ARGS sets {unknown}, which playbooks/local.yml does not read"
    run = subprocess.run(
        ["make", "-n", *cmd.argv[1:]], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 0, f"{cmd}: {run.stderr[-1500:]}"


# --- our Python CLIs ----------------------------------------------------------------------


def parser_for(module: str):
    """The package CLI's parser; the serving commands are mounted on it, and only on it."""
    if module == "financial_mlops":
        from financial_mlops.cli import build_parser

        return build_parser()
    return None


CLI_COMMANDS = select("financial_mlops", "financial-mlops")


@pytest.mark.parametrize("cmd", CLI_COMMANDS, ids=str)
def test_cli_command_parses(cmd: Command) -> None:
    argv = list(cmd.argv)
    module = "financial_mlops" if Path(argv[0]).name == "financial-mlops" else argv[2]
    args = argv[1:] if Path(argv[0]).name == "financial-mlops" else argv[3:]
    parser = parser_for(module)
    if parser is None:
        pytest.skip(f"{module} has no importable parser")
    try:
        parser.parse_args(args)
    except SystemExit as exc:
        pytest.fail(f"{cmd}: rejected by the CLI's argument parser (exit {exc.code})")


SCRIPT_COMMANDS = [
    c for c in COMMANDS if any(a.startswith(("scripts/", "benchmarks/")) for a in c.argv[:2]) and c.argv
]


@pytest.mark.parametrize("cmd", SCRIPT_COMMANDS, ids=str)
def test_script_command_exists_and_knows_its_options(cmd: Command) -> None:
    index = next(i for i, a in enumerate(cmd.argv) if a.startswith(("scripts/", "benchmarks/")))
    script = ROOT / cmd.argv[index]
    assert script.is_file(), f"{cmd}: no {script.relative_to(ROOT)}"
    options = [a.split("=")[0] for a in cmd.argv[index + 1 :] if a.startswith("--")]
    if options and script.suffix == ".py":
        run = subprocess.run(
            [sys.executable, str(script), "--help"], cwd=ROOT, capture_output=True, text=True, timeout=300
        )
        assert run.returncode == 0, run.stderr[-1000:]
        unknown = [o for o in options if o not in run.stdout]
        assert not unknown, f"{cmd}: {script.name} --help does not list {unknown}"


@pytest.mark.parametrize("cmd", select("mlflow"), ids=str)
def test_mlflow_command_options_exist(cmd: Command) -> None:
    sub = cmd.argv[1]
    run = subprocess.run(
        [str(Path(sys.executable).parent / "mlflow"), sub, "--help"],
        capture_output=True, text=True, timeout=300, env=ansible_environment(), check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-1000:]
    unknown = [o for o in cmd.argv[2:] if o.startswith("--") and o.split("=")[0] not in run.stdout]
    assert not unknown, f"{cmd}: mlflow {sub} has no {unknown}"


def test_the_docs_have_commands_of_each_kind() -> None:
    """The parser finds the blocks (a silently empty parse would make every check above vacuous)."""
    kinds = {program(c) for c in COMMANDS}
    assert {"ansible-playbook", "make", "financial_mlops", "mlflow"} <= kinds, sorted(kinds)
