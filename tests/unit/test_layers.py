"""The domain's modules import each other without cycles.

No import cycle among any of the domain's modules, whatever modules exist (use cases
come and go), counting imports made only for type checking, because a cycle there is
one refactor away from a circular import at run time. import-linter's acyclic_siblings
contract holds the same from ``lint-imports``; this test runs with the suite and names
every cycle module by module.
"""

from __future__ import annotations

import grimp


def _domain_graph() -> grimp.ImportGraph:
    # cache_dir=None: no cache directory written into the working tree.
    return grimp.build_graph(
        "domain",
        include_external_packages=False,
        exclude_type_checking_imports=False,
        cache_dir=None,
    )


def _cycles(graph: grimp.ImportGraph) -> list[tuple[str, ...]]:
    """One shortest cycle through each module that lies on any, without repeats."""
    found: dict[frozenset[str], tuple[str, ...]] = {}
    for module in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported == module:
                found.setdefault(frozenset((module,)), (module, module))
                continue
            back = graph.find_shortest_chain(importer=imported, imported=module)
            if back is not None:
                cycle = (module, *back)
                found.setdefault(frozenset(cycle), cycle)
    return sorted(found.values())


def test_no_import_cycle_among_domain_modules() -> None:
    cycles = _cycles(_domain_graph())

    assert not cycles, "import cycles in domain:\n" + "\n".join(
        " -> ".join(cycle) for cycle in cycles
    )


def test_cycle_finder_reports_a_cycle_it_is_given() -> None:
    graph = grimp.ImportGraph()
    graph.add_import(importer="domain.a", imported="domain.b")
    graph.add_import(importer="domain.b", imported="domain.c")
    graph.add_import(importer="domain.c", imported="domain.a")
    graph.add_import(importer="domain.c", imported="domain.d")

    assert _cycles(graph) == [("domain.a", "domain.b", "domain.c", "domain.a")]


def test_type_checking_imports_are_in_the_graph() -> None:
    # domain.intake imports CanonicalData for its annotations only; a cycle through such
    # an import must still be seen.
    graph = _domain_graph()

    assert "domain.audit.records" in graph.find_modules_directly_imported_by("domain.intake")
