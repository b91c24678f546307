"""No import cycle inside ``axonal``: the package's import graph, built statically, is acyclic.

The graph is read from the source with ``ast``, so it sees every import, including those inside
functions (which run later, but are a dependency all the same and would hide a cycle from a
test that only imports the package). An edge ``A -> B`` means "running A can make Python run
the module B": B's ``__init__.py`` when B is a package. What Python executes is modelled as
follows:

- ``import a.b.c`` and ``from a.b.c import x`` run ``a``, ``a.b`` and ``a.b.c`` in turn: edges to
  ``a.b.c`` and to each parent package, except the parents that contain the importing module
  (they are already being imported when it runs, so nothing new is executed by naming them).
- ``from pkg import x`` runs ``pkg.x`` when ``x`` is a submodule (edge to ``pkg.x``); otherwise
  ``x`` is a name defined by ``pkg/__init__.py`` and the edge goes to ``pkg`` itself, even when
  ``pkg`` contains the importer: that is the cycle that ends in "cannot import name ... from
  partially initialized module".
- Relative imports are resolved against the importer's package (its own, for ``__init__.py``).
- Imports under ``if TYPE_CHECKING:`` never run and are left out.
"""
from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

import axonal

# --------------------------------------------------------------------------- the graph


def _modules(root: Path, package: str) -> dict[str, Path]:
    """Every module of the package in ``root/<package>``: dotted name -> file."""
    out = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST):
    """The Import / ImportFrom nodes that can run: anywhere, except under ``if TYPE_CHECKING``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _parents(name: str) -> list[str]:
    """``a.b.c`` -> ``[a, a.b]``."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def import_graph(root: Path, package: str) -> dict[str, dict[str, int]]:
    """The import graph of ``root/<package>``: module -> {imported module: first line}.

    Only modules of the package are nodes; imports of anything else are ignored.
    """
    modules = _modules(root, package)
    graph: dict[str, dict[str, int]] = {m: {} for m in modules}
    for mod, path in modules.items():
        is_pkg = path.name == "__init__.py"
        own_pkg = mod if is_pkg else mod.rpartition(".")[0]
        ancestors = set(_parents(mod)) | ({mod} if is_pkg else set())
        edges = graph[mod]

        def add(target: str, line: int, explicit: bool) -> None:
            if target not in modules or target == mod:
                return
            if not explicit and target in ancestors:
                return
            edges[target] = min(line, edges.get(target, line))  # the first import of it

        def add_chain(target: str, line: int) -> None:
            for parent in _parents(target):
                add(parent, line, explicit=False)
            add(target, line, explicit=True)

        for node in _imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    add_chain(alias.name, node.lineno)
                continue
            if node.level:
                base_parts = own_pkg.split(".")
                if node.level - 1 >= len(base_parts):
                    raise ValueError(f"{path}:{node.lineno}: relative import beyond the top package")
                base = ".".join(base_parts[:len(base_parts) - (node.level - 1)])
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module
            for parent in _parents(source):
                add(parent, node.lineno, explicit=False)
            names_submodules = [f"{source}.{a.name}" in modules for a in node.names if a.name != "*"]
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                if sub in modules:
                    add_chain(sub, node.lineno)
            if not names_submodules or not all(names_submodules):
                # a name defined by ``source`` (or ``*``): its body runs and must be complete
                add(source, node.lineno, explicit=True)
            elif source not in ancestors:
                add(source, node.lineno, explicit=False)  # importing pkg.x runs pkg first
    return graph


def components(graph: dict[str, dict[str, int]]) -> list[set[str]]:
    """The strongly connected components with more than one module: each holds a cycle."""
    index, low, on_stack, stack, sccs = {}, {}, set(), [], []
    counter = 0

    def strongconnect(v):  # Tarjan, iterative so that deep graphs cannot overflow the stack
        nonlocal counter
        work = [(v, iter(sorted(graph[v])))]
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        while work:
            node, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on_stack:
                    low[node] = min(low[node], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    scc = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        scc.append(w)
                        if w == node:
                            break
                    if len(scc) > 1:
                        sccs.append(set(scc))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return sccs


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One cycle (``[a, b, ..., a]``) per strongly connected component with more than one module."""
    out = []
    for scc in components(graph):  # a shortest cycle through the component's first module, by BFS
        start = min(scc)
        prev, frontier, found = {start: None}, [start], None
        while frontier and found is None:
            nxt = []
            for u in frontier:
                for w in sorted(graph[u]):
                    if w == start:
                        found = u
                        break
                    if w in scc and w not in prev:
                        prev[w] = u
                        nxt.append(w)
                if found is not None:
                    break
            frontier = nxt
        path = [start]
        u = found
        while u is not None and u != start:
            path.append(u)
            u = prev[u]
        out.append([start] + path[1:][::-1] + [start])
    return sorted(out)


def describe(graph, cycle) -> str:
    """``a:3 -> b:7 -> a``: each module with the line of its import that makes the next edge."""
    hops = [f"{a}:{graph[a][b]}" for a, b in zip(cycle, cycle[1:])]
    return " -> ".join(hops + [cycle[-1]])


# --------------------------------------------------------------------------- the package


def test_axonal_has_no_import_cycle():
    root = Path(axonal.__file__).resolve().parent.parent
    graph = import_graph(root, "axonal")
    assert len(graph) > 50 and "axonal.neurons.base" in graph  # the whole package was read
    found = cycles(graph)
    report = []
    for cycle, scc in zip(found, sorted(components(graph), key=min)):
        report.append(describe(graph, cycle))
        if len(scc) > len(cycle) - 1:
            report.append(f"    (one cycle of a tangle of {len(scc)} modules: {', '.join(sorted(scc))})")
    assert not found, (f"{len(found)} import cycle(s) inside axonal; 'module:line' is the import that "
                       "leads to the next module. Move the shared code to a leaf module both sides "
                       "import, or invert the dependency:\n" + "\n".join(report))


# --------------------------------------------------------------------------- the checker itself


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    for d in {p.parent for p in tmp_path.rglob("*.py")}:  # every folder a regular package
        (d / "__init__.py").touch(exist_ok=True)
    return tmp_path


def test_a_module_level_cycle_is_found_and_printed(tmp_path):
    root = _package(tmp_path, {"pkg/a.py": "from .b import g\n", "pkg/b.py": "x = 1\nfrom pkg.a import f\n"})
    graph = import_graph(root, "pkg")
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.a"]]
    assert describe(graph, cycles(graph)[0]) == "pkg.a:1 -> pkg.b:2 -> pkg.a"


def test_a_cycle_through_a_function_level_import_is_found(tmp_path):
    root = _package(tmp_path, {
        "pkg/a.py": "from .b import g\n",
        "pkg/b.py": "def g():\n    from . import a\n    return a\n",
    })
    assert cycles(import_graph(root, "pkg")) == [["pkg.a", "pkg.b", "pkg.a"]]


def test_an_acyclic_package_passes(tmp_path):
    # the package __init__ imports its submodules, which import one another and name their
    # parents (``import pkg.sub.leaf`` runs pkg and pkg.sub first): no cycle
    root = _package(tmp_path, {
        "pkg/__init__.py": "from .top import T\nfrom . import sub\n",
        "pkg/top.py": "import pkg.sub.leaf\nfrom .sub.leaf import L\nT = L\n",
        "pkg/sub/__init__.py": "from .leaf import L\n",
        "pkg/sub/leaf.py": "import os\nfrom typing import TYPE_CHECKING\nL = 1\n"
                           "if TYPE_CHECKING:\n    from pkg.top import T\n",
    })
    graph = import_graph(root, "pkg")
    assert cycles(graph) == []
    assert graph["pkg"] == {"pkg.top": 1, "pkg.sub": 2}
    assert graph["pkg.top"] == {"pkg.sub": 1, "pkg.sub.leaf": 1}   # the parent's __init__ runs too
    assert graph["pkg.sub.leaf"] == {}                              # TYPE_CHECKING never runs


def test_relative_imports_resolve_against_the_importers_package(tmp_path):
    root = _package(tmp_path, {
        "pkg/x.py": "",
        "pkg/sub/m.py": "from ..x import y\nfrom .. import x as xx\nfrom . import n\n",
        "pkg/sub/n.py": "",
        "pkg/sub/__init__.py": "from . import m\nfrom .m import *\n",
    })
    graph = import_graph(root, "pkg")
    assert graph["pkg.sub.m"] == {"pkg.x": 1, "pkg.sub.n": 3}
    assert graph["pkg.sub"] == {"pkg.sub.m": 1}


def test_a_parent_packages_init_closes_a_cycle(tmp_path):
    # ``import pkg.sub.leaf`` runs pkg/sub/__init__.py, which imports pkg.other: a real cycle
    root = _package(tmp_path, {
        "pkg/sub/__init__.py": "from ..other import o\n",
        "pkg/sub/leaf.py": "",
        "pkg/other.py": "import pkg.sub.leaf\no = 1\n",
    })
    assert cycles(import_graph(root, "pkg")) == [["pkg.other", "pkg.sub", "pkg.other"]]


def test_a_name_from_the_package_init_is_a_cycle(tmp_path):
    # pkg/__init__ imports a; a takes a name defined in pkg/__init__: partially initialized
    root = _package(tmp_path, {"pkg/__init__.py": "from .a import f\nCONST = 1\n",
                               "pkg/a.py": "from . import CONST\ndef f():\n    return CONST\n"})
    assert cycles(import_graph(root, "pkg")) == [["pkg", "pkg.a", "pkg"]]


@pytest.mark.parametrize("n", [3, 40])
def test_long_cycles_are_reported_whole(tmp_path, n):
    files = {f"pkg/m{i}.py": f"from . import m{(i + 1) % n}\n" for i in range(n)}
    found = cycles(import_graph(_package(tmp_path, files), "pkg"))
    assert len(found) == 1 and len(found[0]) == n + 1 and found[0][0] == found[0][-1]
    assert set(found[0]) == {f"pkg.m{i}" for i in range(n)}
