"""Roles own their contracts: what crosses a role boundary is declared once.

Read statically from roles/ (no Ansible run):

- a variable more than one role reads, that is not the own input of a role
  every reader depends on, is declared in roles/platform_defaults'
  argument spec (the defaults layer; kubespray's kubespray_defaults pattern);
- a role notifies only handlers it owns or that a role it depends on owns
  (meta dependencies, or a role it imports/includes);
- every tasks_from entry point of a role has an argument-spec entry point.

A role "reads" a name when the name appears in a Jinja expression of its
tasks, handlers, templates, defaults or vars, is not prefixed with the role's
own name (its private namespace, var-naming[no-role-prefix]) and is not set by
the role itself (register, set_fact, task vars, loop_var). A variable is the
input of role O when O's name is its longest role-name prefix (k3s_version is
k3s's, k3s_server_config_extra is k3s_server's).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from pathlib import Path

import jinja2
import jinja2.nodes
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = ROOT / "roles"
DEFAULTS_ROLE = "platform_defaults"
CONDITION_KEYS = {"when", "that", "failed_when", "changed_when", "until", "break_when"}
# Names Ansible or Jinja provide: nobody declares them.
PROVIDED = {
    "inventory_hostname", "inventory_hostname_short", "hostvars", "groups", "group_names", "play_hosts",
    "playbook_dir", "role_path", "role_name", "inventory_dir", "inventory_file", "omit", "item",
    "ansible_play_hosts", "ansible_play_batch", "ansible_play_hosts_all", "ansible_check_mode",
    "ansible_facts", "ansible_host", "ansible_config_file", "ansible_inventory_sources",
    "ansible_playbook_python", "ansible_run_tags", "ansible_skip_tags", "ansible_loop", "ansible_diff_mode",
    "ansible_parent_role_names", "ansible_role_names", "ansible_version", "ansible_limit",
    "ansible_verbosity", "ansible_user", "ansible_port", "ansible_connection", "ansible_python_interpreter",
    "ansible_loop_var", "ansible_index_var", "ansible_search_path", "ansible_collection_name",
    "lookup", "query", "q", "now", "undef", "range", "dict", "lipsum", "cycler", "joiner", "namespace",
    "loop", "true", "false", "none", "True", "False", "None",
}  # fmt: skip
# Keys of a task whose value names a variable the task sets.
SETTING_KEYS = ("register", "loop_var", "index_var")
# Jinja's lexer warns about regex escapes inside the project's string literals.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

_ENV = jinja2.Environment(extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"])


def _names(text: str) -> set[str]:
    """Names a template loads and does not assign (set, for, macro arguments).

    Walks the parse tree rather than jinja2.meta.find_undeclared_variables,
    which compiles the template and so fails on Ansible's filters and tests.
    """
    try:
        tree = _ENV.parse(text)
    except jinja2.TemplateSyntaxError:
        return set()
    names = {(n.name, n.ctx) for n in tree.find_all(jinja2.nodes.Name)}
    macros = {m.name for m in tree.find_all(jinja2.nodes.Macro)}
    loaded = {name for name, ctx in names if ctx == "load"}
    return loaded - {name for name, ctx in names if ctx != "load"} - macros


def _expressions(node: object, key: str | None = None) -> Iterator[str]:
    """Names read by Jinja in a loaded YAML tree (bare conditions included)."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _expressions(v, str(k))
    elif isinstance(node, list):
        for v in node:
            yield from _expressions(v, key)
    elif isinstance(node, str):
        if key in CONDITION_KEYS and "{{" not in node:
            yield from _names("{{ " + node + " }}")
        elif "{{" in node or "{%" in node:
            yield from _names(node)


def _mappings(node: object) -> Iterator[dict]:
    """Every mapping in a loaded YAML tree, outermost first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _mappings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _mappings(value)


def _set_names(node: object) -> Iterator[str]:
    """Names a task tree sets: register, loop_var, set_fact keys, task/block vars."""
    for mapping in _mappings(node):
        for key in SETTING_KEYS:
            if isinstance(mapping.get(key), str):
                yield mapping[key]
        for key in ("ansible.builtin.set_fact", "set_fact", "vars"):
            if isinstance(mapping.get(key), dict):
                yield from (k for k in mapping[key] if k != "cacheable")


def _yaml_files(role: Path) -> list[Path]:
    return [
        path
        for part in ("tasks", "handlers", "defaults", "vars")
        for path in sorted((role / part).rglob("*.y*ml"))
    ]


def _load(path: Path) -> list[object]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


@functools.cache
def role_names() -> tuple[str, ...]:
    return tuple(sorted(p.name for p in ROLES.iterdir() if (p / "meta").is_dir() or (p / "tasks").is_dir()))


def owner(variable: str) -> str | None:
    """The role whose name is the variable's longest role-name prefix."""
    owners = [r for r in role_names() if variable.startswith(r + "_")]
    return max(owners, key=len) if owners else None


@functools.cache
def reads(role: str) -> frozenset[str]:
    """Names the role reads from outside its private namespace."""
    return frozenset(n for n in references(role) if not n.startswith(role + "_"))


@functools.cache
def references(role: str) -> frozenset[str]:
    """Names the role reads and does not set itself."""
    path = ROLES / role
    names: set[str] = set()
    own: set[str] = set()
    for file in _yaml_files(path):
        docs = _load(file)
        names |= set(_expressions(docs))
        own |= set(_set_names(docs))
    for file in sorted((path / "templates").rglob("*.j2")):
        names |= _names(file.read_text())
    return frozenset(n for n in names - own - PROVIDED if not n.startswith("ansible_"))


def _role_references(node: object) -> Iterator[tuple[str, str | None]]:
    """(role, tasks_from) of every import_role/include_role in a task tree."""
    for mapping in _mappings(node):
        for key in (
            "ansible.builtin.import_role",
            "ansible.builtin.include_role",
            "import_role",
            "include_role",
        ):
            args = mapping.get(key)
            if isinstance(args, dict) and isinstance(args.get("name"), str):
                yield args["name"], args.get("tasks_from")


def _meta_dependencies(role: str) -> set[str]:
    meta = ROLES / role / "meta" / "main.yml"
    data = (yaml.safe_load(meta.read_text()) or {}) if meta.is_file() else {}
    deps = set()
    for dep in data.get("dependencies") or []:
        deps.add(dep if isinstance(dep, str) else dep.get("role") or dep.get("name"))
    return deps


@functools.cache
def direct_dependencies(role: str) -> frozenset[str]:
    deps = _meta_dependencies(role)
    for file in sorted((ROLES / role / "tasks").rglob("*.y*ml")):
        deps |= {name for name, _ in _role_references(_load(file))}
    return frozenset(deps - {role})


@functools.cache
def dependencies(role: str) -> frozenset[str]:
    """Roles this role runs (meta dependencies, imports, includes), transitively."""
    seen: set[str] = set()
    queue = list(direct_dependencies(role))
    while queue:
        dep = queue.pop()
        if dep not in seen and (ROLES / dep).is_dir():
            seen.add(dep)
            queue += direct_dependencies(dep)
    return frozenset(seen)


def argument_specs(role: str) -> dict:
    path = ROLES / role / "meta" / "argument_specs.yml"
    return (yaml.safe_load(path.read_text()) or {}).get("argument_specs") or {} if path.is_file() else {}


def declared_defaults() -> set[str]:
    return {name for spec in argument_specs(DEFAULTS_ROLE).values() for name in (spec.get("options") or {})}


def shared_variables() -> dict[str, set[str]]:
    """Variables that cross a role boundary -> the roles reading them.

    A variable is shared when more than one role reads it and a reader does not
    depend on the role the variable belongs to (that role's spec declares it for
    its dependants).
    """
    outputs = set().union(*(facts_set(r) for r in role_names()))
    readers: dict[str, set[str]] = {}
    for role in role_names():
        if role != DEFAULTS_ROLE:
            for name in reads(role):
                readers.setdefault(name, set()).add(role)
    shared = {}
    for name, roles in readers.items():
        if name in outputs:
            continue
        home = owner(name)
        if home is not None and name in references(home):
            roles = roles | {home}
        foreign = {r for r in roles if home is None or (r != home and home not in dependencies(r))}
        if len(roles) > 1 and foreign:
            shared[name] = roles
    return shared


@functools.cache
def facts_set(role: str) -> frozenset[str]:
    """Facts the role sets for others (set_fact): its outputs, documented where it sets them."""

    def walk(node: object) -> Iterator[str]:
        if isinstance(node, dict):
            for key in ("ansible.builtin.set_fact", "set_fact"):
                if isinstance(node.get(key), dict):
                    yield from (k for k in node[key] if k != "cacheable")
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)

    files = sorted((ROLES / role / "tasks").rglob("*.y*ml"))
    return frozenset(name for file in files for name in walk(_load(file)))


def handler_names(role: str) -> set[str]:
    names: set[str] = set()
    for file in sorted((ROLES / role / "handlers").rglob("*.y*ml")):
        for doc in _load(file):
            for handler in doc if isinstance(doc, list) else []:
                names.add(handler.get("name"))
                listen = handler.get("listen") or []
                names |= {listen} if isinstance(listen, str) else set(listen)
    return names - {None}


def notified(role: str) -> set[str]:
    def walk(node: object) -> Iterator[str]:
        if isinstance(node, dict):
            value = node.get("notify")
            if isinstance(value, str):
                yield value
            elif isinstance(value, list):
                yield from value
            for v in node.values():
                yield from walk(v)
        elif isinstance(node, list):
            for v in node:
                yield from walk(v)

    names: set[str] = set()
    for part in ("tasks", "handlers"):
        for file in sorted((ROLES / role / part).rglob("*.y*ml")):
            names |= set(walk(_load(file)))
    return {handler for name in names for handler in _handler_literals(role, name)}


def _handler_literals(role: str, notify: str, depth: int = 0) -> set[str]:
    """A notify entry as handler names: a template yields the quoted names in it,
    through the role's (or a dependency's) vars when it names a variable."""
    if "{{" not in notify:
        return {notify}
    found = set(re.findall(r"'([^']+)'", notify))
    values = role_variables(role)
    for name in _names(notify):
        value = values.get(name)
        if (
            isinstance(value, str)
            and depth < 3
            and ("{{" in value or re.fullmatch(rf"{{{{\s*{name}\s*}}}}", notify))
        ):
            found |= _handler_literals(role, value, depth + 1)
    return found


@functools.cache
def role_variables(role: str) -> dict[str, object]:
    """defaults and vars of the role and of every role it depends on."""
    values: dict[str, object] = {}
    for name in (*sorted(dependencies(role)), role):
        for part in ("defaults", "vars"):
            for file in sorted((ROLES / name / part).rglob("*.y*ml")):
                for doc in _load(file):
                    values.update(doc if isinstance(doc, dict) else {})
    return values


def entry_points() -> Iterator[tuple[str, str, Path]]:
    """(role, entry point, caller) of every tasks_from in roles, playbooks and molecule."""
    files = [
        *ROLES.rglob("tasks/**/*.y*ml"),
        *(ROOT / "playbooks").rglob("*.y*ml"),
        *(ROOT / "molecule").rglob("*.y*ml"),
    ]
    for file in sorted(files):
        for role, tasks_from in _role_references(_load(file)):
            if tasks_from:
                yield role, re.sub(r"\.ya?ml$", "", str(tasks_from)), file


# --- the analysis finds what it should (so that an empty result means something) -----------


def test_the_analysis_sees_the_known_cross_role_reads() -> None:
    assert {"mlflow", "seldon", "argo_workflows", "model_lifecycle"} <= reads_of("metallb_ip_reservations")
    assert "platform_kubeconfig" in reads("k8s_apply")
    assert "k3s" in dependencies("k3s_server")
    assert "k3s restart" in notified("k3s")
    assert ("k8s_apply", "render_begin", ROOT / "playbooks" / "cluster.yml") in set(entry_points())


def reads_of(name: str) -> set[str]:
    return {r for r in role_names() if name in reads(r)}


# --- the contracts --------------------------------------------------------------------------


def test_every_variable_read_by_several_roles_is_declared_in_platform_defaults() -> None:
    declared = declared_defaults()
    missing = {name: sorted(roles) for name, roles in shared_variables().items() if name not in declared}
    assert not missing, (
        "read by more than one role but not declared in roles/platform_defaults/meta/argument_specs.yml "
        f"(variable: readers): {missing}"
    )


def test_platform_defaults_declares_only_what_a_role_reads() -> None:
    # Its own defaults count: the plumbing derives from platform_inventory_dir.
    read_anywhere = set().union(
        *(reads(r) for r in role_names() if r != DEFAULTS_ROLE), references(DEFAULTS_ROLE)
    )
    unread = declared_defaults() - read_anywhere
    assert not unread, f"platform_defaults declares variables no role reads: {sorted(unread)}"


def test_platform_defaults_defaults_match_its_argument_spec() -> None:
    defaults = yaml.safe_load((ROLES / DEFAULTS_ROLE / "defaults" / "main.yml").read_text())
    spec = argument_specs(DEFAULTS_ROLE)["main"]["options"]
    undeclared = set(defaults) - set(spec)
    assert not undeclared, (
        f"platform_defaults/defaults/main.yml sets undeclared variables: {sorted(undeclared)}"
    )
    required_with_default = [n for n, o in spec.items() if o.get("required") and n in defaults]
    assert not required_with_default, f"required yet defaulted: {required_with_default}"


def test_every_reader_of_a_shared_variable_loads_platform_defaults() -> None:
    shared = shared_variables()
    readers = set().union(*shared.values()) if shared else set()
    missing = sorted(
        r
        for r in readers
        if DEFAULTS_ROLE not in _meta_dependencies(r) and DEFAULTS_ROLE not in dependencies(r)
    )
    assert not missing, f"roles reading shared variables without depending on {DEFAULTS_ROLE}: {missing}"


@pytest.mark.parametrize("role", role_names())
def test_a_role_notifies_only_handlers_it_owns_or_depends_on(role: str) -> None:
    available = handler_names(role).union(*(handler_names(d) for d in dependencies(role)))
    unknown = notified(role) - available
    assert not unknown, (
        f"roles/{role} notifies {sorted(unknown)}, owned by neither it nor a role it depends on"
    )


def test_every_tasks_from_entry_point_has_an_argument_spec() -> None:
    missing = sorted(
        {f"{role}:{entry} (from {caller.relative_to(ROOT)})" for role, entry, caller in entry_points()
         if "{{" not in entry and entry not in argument_specs(role)}
    )  # fmt: skip
    assert not missing, f"tasks_from entry points without an argument-spec entry point: {missing}"
