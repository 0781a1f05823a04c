"""The code hash of a cell: its module's source and, transitively, the library modules it imports.

The import graph is read statically by :class:`~contexture.sweeps.imports.LibraryIndex` (imports
anywhere in a module, relative imports, literal ``importlib.import_module`` calls, public names
resolved through the lazy maps ``_LAZY`` / ``_SUBMODULES``, parent package ``__init__``s). The
top-level ``__init__.py`` only maps names to modules and is left out, so adding a public name
invalidates nothing. Modules outside the package (third-party libraries, other project files)
are not followed: list those that matter in ``Sweep(code=...)``.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Iterable
from pathlib import Path

from contexture.sweeps.imports import LibraryIndex

__all__ = ["code_hash", "module_closure"]

PACKAGE = "contexture"
PACKAGE_DIR = Path(__file__).resolve().parents[1]


def _start_file(module: str) -> Path:
    """The source file of a start module outside the package (found by the import system)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError) as exc:
        raise ValueError(f"module {module!r} cannot be found: {exc}") from None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        raise ValueError(f"module {module!r} has no Python source file to hash "
                         f"(found {getattr(spec, 'origin', None)!r})")
    return Path(spec.origin)


def module_closure(modules: Iterable[str], *, package: str = PACKAGE,
                   package_dir: Path | None = None) -> dict[str, Path]:
    """``modules`` and every module of ``package`` they import, transitively.

    The top-level ``__init__`` of ``package`` is left out unless ``modules`` names it.

    Parameters
    ----------
    modules
        Dotted names of the start modules (e.g. the module defining a cell); they need not
        belong to ``package``.
    package, package_dir
        The package whose imports are followed (default: ``contexture`` in this checkout).

    Returns
    -------
    dict
        Module name -> source file, sorted by name.
    """
    index = LibraryIndex(Path(package_dir) if package_dir else PACKAGE_DIR, name=package)
    names = list(modules)
    inside = {m for m in names if m in index.files}
    outside = {m: _start_file(m) for m in names if m not in inside}
    for name, path in outside.items():
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        inside |= index.source_references(path.read_text(encoding="utf-8"), here)
    found = index.closure(inside, include_root=False) | {m for m in names if m in index.files}
    return dict(sorted({**{m: index.files[m] for m in found}, **outside}.items()))


def code_hash(modules: Iterable[str], *, package: str = PACKAGE,
              package_dir: Path | None = None) -> str:
    """sha256 over the names and sources of :func:`module_closure` of ``modules``.

    Infrastructure (no equation of the paper): it makes sweep cells recompute when, and only
    when, the code they run changes.
    """
    h = hashlib.sha256()
    for name, path in module_closure(modules, package=package, package_dir=package_dir).items():
        h.update(f"{name}\0{hashlib.sha256(path.read_bytes()).hexdigest()}\n".encode())
    return h.hexdigest()
