"""No import circle anywhere among the project's modules.

import-linter's contracts keep the layers pointing downward, but a circle
inside one package (a command module importing the module that imports it, a
service and its metrics importing each other) passes them all. This builds the
graph of direct imports, type-checking imports included, with grimp (which
import-linter itself uses) and fails on any strongly connected group of modules.
"""

from __future__ import annotations

import grimp

PACKAGES = (
    "ledger",
    "storage",
    "contracts",
    "consensus",
    "p2p",
    "node",
    "hubledger_client",
    "hubledger_tools",
    "scripts",
)


def find_import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Every group of two or more modules that import one another, directly or through each other."""
    modules = sorted(graph.modules)
    edges = {
        module: sorted(set(graph.find_modules_directly_imported_by(module)) & graph.modules)
        for module in modules
    }
    index: dict[str, int] = {}
    lowest: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for root in modules:
        if root in index:
            continue
        # Tarjan's algorithm, iterative so that deep import chains do not hit the recursion limit.
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            module, position = work.pop()
            if position == 0:
                index[module] = lowest[module] = len(index)
                stack.append(module)
                on_stack.add(module)
            targets = edges[module]
            if position < len(targets):
                work.append((module, position + 1))
                target = targets[position]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    lowest[module] = min(lowest[module], index[target])
                continue
            if lowest[module] == index[module]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == module:
                        break
                if len(group) > 1:
                    cycles.append(sorted(group))
            if work:
                parent = work[-1][0]
                lowest[parent] = min(lowest[parent], lowest[module])
    return cycles


def test_no_module_imports_itself_through_others() -> None:
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    cycles = find_import_cycles(graph)
    assert not cycles, "import circles: " + "; ".join(" <-> ".join(group) for group in cycles)


def test_the_finder_sees_a_circle() -> None:
    graph = grimp.ImportGraph()
    for module in ("a", "a.one", "a.two", "a.three"):
        graph.add_module(module)
    graph.add_import(importer="a.one", imported="a.two")
    graph.add_import(importer="a.two", imported="a.one")
    graph.add_import(importer="a.three", imported="a.one")
    assert find_import_cycles(graph) == [["a.one", "a.two"]]
