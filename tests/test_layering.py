"""The import rules of DESIGN.md "Layout", read from the source with ``ast``.

Nothing under test is imported: each module's imports are read from its
syntax tree, all of them (module level, inside functions, and under
``if TYPE_CHECKING:``), since each of those is a real dependency a reader
and the type checker follow. The rules:

- no import cycle among the modules of the installed package;
- the wire protocols (``ellmer_py/_protocols``) are pure: no transport, no I/O;
- the core (``ellmer_py/``) never imports a provider plugin or the
  conformance suite (the package ``__init__`` may name the built-in
  providers under TYPE_CHECKING or lazily);
- the transport knows no protocol and no provider;
- no core module is longer than ``MAX_LINES`` but for a short allow-list.

Each rule is a function of the parsed sources, so the tests at the end feed
it a made-up package to show that it can fail.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Source folder -> the package it installs as (pyproject's ``package-dir``).
PACKAGE_DIRS = {
    "ellmer_py": ROOT / "ellmer_py",
    "ellmer_py.providers": ROOT / "providers",
    "ellmer_py.conformance": ROOT / "conformance",
}
CORE = "ellmer_py"
PROTOCOLS = "ellmer_py._protocols"
PLUGIN_PACKAGES = ("ellmer_py.providers", "ellmer_py.conformance")
#: What a protocol may not import: the transport and anything that does I/O or keeps time.
IMPURE = (
    "ellmer_py._transport",
    "ellmer_py._scope",
    "urllib3",
    "socket",
    "ssl",
    "http",
    "time",
    "threading",
    "asyncio",
)
#: The transport modules, and what they may not know.
TRANSPORT = ("ellmer_py._transport",)
NOT_FOR_TRANSPORT = (PROTOCOLS, "ellmer_py._provider", "ellmer_py.providers")

MAX_LINES = 450
#: Core modules allowed over MAX_LINES: path below ellmer_py/ -> (their own ceiling, why).
LONG_MODULES: dict[str, tuple[int, str]] = {
    "_provider.py": (
        500,
        "the Provider class (request, auth, send, decode, limitations) is ~290 lines alone",
    ),
    "_transport.py": (
        500,
        "Transport and StreamResponse share the pool, retry and error-mapping internals",
    ),
    "_protocols/openai_chat.py": (
        600,
        "one wire protocol: its encoder, parser and stream decoder are read together",
    ),
    "_protocols/gemini.py": (
        520,
        "one wire protocol: its encoder, parser and stream decoder are read together",
    ),
    "_protocols/anthropic.py": (
        650,
        "one wire protocol: its encoder, parser and stream decoder are read together",
    ),
    "_protocols/openai_responses.py": (
        620,
        "one wire protocol: its encoder, parser and stream decoder are read together",
    ),
}


class Source(NamedTuple):
    """One module's text, and whether it is a package's ``__init__``."""

    text: str
    is_package: bool = False


class Import(NamedTuple):
    """One import statement's dependency of ``module`` on ``target`` (absolute names)."""

    module: str
    target: str
    line: int
    where: str  # "at module level", "inside a function", "under TYPE_CHECKING"

    def __str__(self) -> str:
        return f"{self.module} imports {self.target} (line {self.line}, {self.where})"


# -- reading the package ------------------------------------------------------------------


def package_sources(dirs: Mapping[str, Path] = PACKAGE_DIRS) -> dict[str, Source]:
    """Every module of the installed package, by dotted name."""
    out: dict[str, Source] = {}
    for package, folder in dirs.items():
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            is_package = parts[-1] == "__init__"
            name = ".".join((package, *(parts[:-1] if is_package else parts)))
            out[name] = Source(path.read_text(encoding="utf-8"), is_package)
    return out


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _is_type_checking(test: ast.expr) -> bool:
    return any(
        (isinstance(n, ast.Name) and n.id == "TYPE_CHECKING")
        or (isinstance(n, ast.Attribute) and n.attr == "TYPE_CHECKING")
        for n in ast.walk(test)
    )


def imports_of(module: str, source: Source, known: Iterable[str] = ()) -> list[Import]:
    """Every import in ``module``, wherever it is, with absolute target names.

    ``from package import name`` depends on ``package.name`` when that is a
    module in ``known``, else on ``package``.
    """
    known = set(known)
    found: list[Import] = []

    def visit(node: ast.AST, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = where
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                inner = "under TYPE_CHECKING"
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) and where == (
                "at module level"
            ):
                inner = "inside a function"
            if isinstance(child, ast.Import):
                found.extend(Import(module, a.name, child.lineno, where) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = _resolve(module, source.is_package, child)
                subs = [f"{base}.{a.name}" for a in child.names]
                targets = [s for s in subs if s in known]
                if len(targets) < len(subs):
                    targets.insert(0, base)
                found.extend(Import(module, t, child.lineno, where) for t in targets)
            visit(child, inner)

    visit(ast.parse(source.text), "at module level")
    return found


def _names(target: str, prefixes: Iterable[str]) -> bool:
    return any(target == p or target.startswith(p + ".") for p in prefixes)


# -- the rules ----------------------------------------------------------------------------


def find_cycles(sources: Mapping[str, Source]) -> list[str]:
    """One line per import cycle among ``sources``, naming each import on the way round."""
    edges: dict[str, dict[str, Import]] = {name: {} for name in sources}
    for name, source in sources.items():
        for imp in imports_of(name, source, sources):
            if imp.target in sources and imp.target != name:
                edges[name].setdefault(imp.target, imp)
    problems = []
    for component in _strongly_connected(edges):
        if len(component) > 1:
            path = _cycle_in(component, edges)
            others = "" if len(path) == len(component) else f" (tangled: {', '.join(component)})"
            problems.append("import cycle: " + "; ".join(str(imp) for imp in path) + others)
    return problems


def _strongly_connected(edges: Mapping[str, Mapping[str, Import]]) -> list[list[str]]:
    """Tarjan's algorithm, iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                out.append(sorted(component))
    return out


def _cycle_in(component: list[str], edges: Mapping[str, Mapping[str, Import]]) -> list[Import]:
    """The shortest way from the component's first module back to itself."""
    start = component[0]
    members = set(component)
    paths: dict[str, list[Import]] = {start: []}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for target, imp in sorted(edges[node].items()):
            if target == start:
                return [*paths[node], imp]
            if target in members and target not in paths:
                paths[target] = [*paths[node], imp]
                queue.append(target)
    raise AssertionError(f"no cycle through {start}")  # pragma: no cover


def impure_protocol_imports(sources: Mapping[str, Source]) -> list[str]:
    """Imports of I/O or the transport by a protocol module."""
    return [
        f"{imp}: a protocol is pure code, no transport or I/O"
        for name, source in sources.items()
        if _names(name, [PROTOCOLS])
        for imp in imports_of(name, source, sources)
        if _names(imp.target, IMPURE)
    ]


def core_imports_of_plugins(sources: Mapping[str, Source]) -> list[str]:
    """Imports of a provider plugin or the conformance suite by the core.

    The package ``__init__`` may name the built-in providers under
    TYPE_CHECKING or inside a function (it loads them lazily).
    """
    return [
        f"{imp}: the core does not know the plugins"
        for name, source in sources.items()
        if _names(name, [CORE]) and not _names(name, PLUGIN_PACKAGES)
        for imp in imports_of(name, source, sources)
        if _names(imp.target, PLUGIN_PACKAGES)
        and not (name == CORE and imp.where != "at module level")
    ]


def transport_imports_of_protocols(sources: Mapping[str, Source]) -> list[str]:
    """Imports of a protocol or a provider by the transport."""
    return [
        f"{imp}: the transport knows no protocol and no provider"
        for name, source in sources.items()
        if name in TRANSPORT
        for imp in imports_of(name, source, sources)
        if _names(imp.target, NOT_FOR_TRANSPORT)
    ]


def long_modules(
    lengths: Mapping[str, int],
    allowed: Mapping[str, tuple[int, str]] = LONG_MODULES,
    limit: int = MAX_LINES,
) -> list[str]:
    """Modules over the limit (or over their allow-listed ceiling), and stale allow-list entries."""
    problems = []
    for path, count in sorted(lengths.items()):
        ceiling, _ = allowed.get(path, (limit, ""))
        if count > ceiling:
            problems.append(
                f"ellmer_py/{path} has {count} lines, over {ceiling}: split it by concern"
                + (
                    " (or raise its ceiling in LONG_MODULES, with the reason)"
                    if ceiling > limit
                    else ""
                )
            )
        elif path in allowed and count <= limit:
            problems.append(
                f"ellmer_py/{path} has {count} lines, within {limit}: take it off LONG_MODULES"
            )
    problems.extend(
        f"LONG_MODULES names ellmer_py/{path}, which does not exist"
        for path in sorted(set(allowed) - set(lengths))
    )
    return problems


# -- the package keeps the rules ------------------------------------------------------------


@pytest.fixture(scope="module")
def sources() -> dict[str, Source]:
    return package_sources()


def test_the_whole_package_is_read(sources: dict[str, Source]) -> None:
    assert {"ellmer_py", "ellmer_py._chat", "ellmer_py._protocols", PROTOCOLS + "._schema"} <= set(
        sources
    )
    assert any(_names(name, ["ellmer_py.providers"]) for name in sources)
    assert any(_names(name, ["ellmer_py.conformance"]) for name in sources)


def test_no_import_cycles(sources: dict[str, Source]) -> None:
    problems = find_cycles(sources)
    assert not problems, "\n".join(problems)


def test_protocols_are_pure(sources: dict[str, Source]) -> None:
    problems = impure_protocol_imports(sources)
    assert not problems, "\n".join(problems)


def test_the_core_does_not_import_plugins(sources: dict[str, Source]) -> None:
    problems = core_imports_of_plugins(sources)
    assert not problems, "\n".join(problems)


def test_the_transport_knows_no_protocol_or_provider(sources: dict[str, Source]) -> None:
    problems = transport_imports_of_protocols(sources)
    assert not problems, "\n".join(problems)


def test_core_modules_are_short() -> None:
    folder = PACKAGE_DIRS[CORE]
    lengths = {
        path.relative_to(folder).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in folder.rglob("*.py")
    }
    problems = long_modules(lengths)
    assert not problems, "\n".join(problems)


# -- each rule can fail -----------------------------------------------------------------------


def _fake(**modules: str) -> dict[str, Source]:
    """A made-up package: keyword ``a__b`` is module ``a.b``; ``__init__`` marks a package."""
    out = {}
    for key, text in modules.items():
        name = key.replace("__", ".")
        is_package = name.endswith(".init")
        out[name.removesuffix(".init")] = Source(text, is_package)
    return out


def test_imports_are_found_wherever_they_are() -> None:
    source = Source(
        "import os\n"
        "from typing import TYPE_CHECKING\n"
        "from . import b, c\n"
        "if TYPE_CHECKING:\n"
        "    from .b import Thing\n"
        "def f():\n"
        "    from ..other import x\n"
        "class K:\n"
        "    def m(self):\n"
        "        import pkg.c as c\n"
    )
    found = imports_of("pkg.sub.a", source, {"pkg.sub.b"})
    assert [(i.target, i.where) for i in found] == [
        ("os", "at module level"),
        ("typing", "at module level"),
        ("pkg.sub", "at module level"),
        ("pkg.sub.b", "at module level"),
        ("pkg.sub.b", "under TYPE_CHECKING"),
        ("pkg.other", "inside a function"),
        ("pkg.c", "inside a function"),
    ]
    in_package = imports_of("pkg.sub", Source("from . import a\n", True), {"pkg.sub.a"})
    assert [i.target for i in in_package] == ["pkg.sub.a"]


@pytest.mark.parametrize(
    "b_source",
    [
        "from pkg.a import x\n",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import X\n",
        "def f():\n    from . import a\n",
    ],
    ids=["module level", "type checking", "in a function"],
)
def test_a_cycle_is_found_however_it_is_imported(b_source: str) -> None:
    fake = _fake(
        pkg__init="", pkg__a="from .b import y\n", pkg__b=b_source, pkg__c="import pkg.a\n"
    )
    problems = find_cycles(fake)
    assert len(problems) == 1
    assert "pkg.a imports pkg.b (line 1, at module level)" in problems[0]
    assert "pkg.b imports pkg.a" in problems[0]
    assert "pkg.c" not in problems[0]


def test_a_longer_cycle_is_named_import_by_import() -> None:
    fake = _fake(p__a="from . import b\n", p__b="from . import c\n", p__c="from .a import z\n")
    (problem,) = find_cycles(fake)
    assert problem == (
        "import cycle: p.a imports p.b (line 1, at module level); "
        "p.b imports p.c (line 1, at module level); p.c imports p.a (line 1, at module level)"
    )
    assert find_cycles(_fake(p__a="from . import b\n", p__b="import json\n")) == []


def test_an_impure_protocol_is_named() -> None:
    fake = _fake(
        ellmer_py___protocols__init="",
        ellmer_py___protocols__fake="import json\ndef f():\n    import socket.socket\n",
        ellmer_py___protocols__other="from .._transport import Transport\n",
        ellmer_py___chat="import threading\n",
    )
    problems = impure_protocol_imports(fake)
    assert problems == [
        "ellmer_py._protocols.fake imports socket.socket (line 3, inside a function): "
        "a protocol is pure code, no transport or I/O",
        "ellmer_py._protocols.other imports ellmer_py._transport (line 1, at module level): "
        "a protocol is pure code, no transport or I/O",
    ]


def test_a_core_module_importing_a_plugin_is_named() -> None:
    fake = _fake(
        ellmer_py__init=(
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from .providers.x import chat_x\n"
            "def __getattr__(name):\n    from .conformance import checks\n"
        ),
        ellmer_py___chat="from .providers.x import chat_x\n",
        ellmer_py__providers__x="from ellmer_py.conformance import fake\n",
    )
    assert core_imports_of_plugins(fake) == [
        "ellmer_py._chat imports ellmer_py.providers.x (line 1, at module level): "
        "the core does not know the plugins"
    ]
    eager = _fake(ellmer_py__init="from .providers import x\n")
    assert len(core_imports_of_plugins(eager)) == 1


def test_a_transport_importing_a_protocol_is_named() -> None:
    fake = _fake(
        ellmer_py___transport=(
            "from ._errors import TransportError\n"
            "def f():\n    from ._protocols.openai_chat import OpenAIChat\n"
        ),
        ellmer_py___errors="",
    )
    assert transport_imports_of_protocols(fake) == [
        "ellmer_py._transport imports ellmer_py._protocols.openai_chat (line 3, inside a "
        "function): the transport knows no protocol and no provider"
    ]


def test_a_long_module_is_named() -> None:
    allowed = {"_big.py": (600, "a reason"), "_gone.py": (500, "a reason")}
    lengths = {"_ok.py": 450, "_long.py": 451, "_big.py": 601}
    assert long_modules(lengths, allowed) == [
        "ellmer_py/_big.py has 601 lines, over 600: split it by concern "
        "(or raise its ceiling in LONG_MODULES, with the reason)",
        "ellmer_py/_long.py has 451 lines, over 450: split it by concern",
        "LONG_MODULES names ellmer_py/_gone.py, which does not exist",
    ]
    assert long_modules({"_big.py": 440}, {"_big.py": (600, "a reason")}) == [
        "ellmer_py/_big.py has 440 lines, within 450: take it off LONG_MODULES"
    ]
