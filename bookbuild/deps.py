"""Which library modules a chapter uses: its code cells' import closure, for the cache key.

A chapter depends on the modules of the library package (``contexture``) that its code cells
import, closed transitively over the imports of those modules, package ``__init__``s included
(the top-level one too: it holds the lazy public map). The analysis is the library's own
(:class:`contexture.sweeps.imports.LibraryIndex`, which the sweep code hash shares); this module
only turns notebook cells into Python first. A cell that cannot be parsed makes the whole
package a dependency.
"""

from __future__ import annotations

from collections.abc import Iterable

from contexture.sweeps.imports import LibraryIndex

__all__ = ["LibraryIndex", "cell_imports", "chapter_modules"]


def cell_imports(sources: Iterable[str], index: LibraryIndex) -> set[str]:
    """Library modules that a chapter's code cells refer to directly.

    IPython syntax (magics, ``!`` shell lines) is translated first; a cell that still does not
    parse makes the whole library a dependency.
    """
    try:
        from IPython.core.inputtransformer2 import TransformerManager
        transform = TransformerManager().transform_cell
    except ImportError:  # pragma: no cover - IPython ships with the kernel
        def transform(cell: str) -> str:
            return cell
    return set().union(*(index.source_references(transform(source)) for source in sources))


def chapter_modules(sources: Iterable[str], index: LibraryIndex) -> set[str]:
    """Every library module a chapter with these code cells uses (its import closure)."""
    return index.closure(cell_imports(sources, index))
