"""The code hash of a cell: its module's source and, transitively, the library modules it imports.

The import graph is read statically (``ast``) from the package's files: ``import`` and
``from ... import`` statements anywhere in a module (function bodies included, so lazy imports
count), relative imports, ``importlib.import_module("...")`` with a literal name, and public
names of the package (``from contexture import tau``, ``contexture.metrics``) resolved through
the lazy maps ``_LAZY`` / ``_SUBMODULES`` of its ``__init__.py``. Importing ``a.b.c`` also
runs the ``__init__`` of ``a.b``, which is therefore included; the top-level ``__init__.py``
only maps names to modules and is left out, so adding a public name invalidates nothing.
Modules outside the package (third-party libraries, other project files) are not followed:
list those that matter in ``Sweep(code=...)``.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["code_hash", "module_closure"]

PACKAGE = "contexture"
PACKAGE_DIR = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class _Package:
    """A package whose modules are followed: its name, folder and lazy public-name maps."""

    name: str
    root: Path
    lazy: dict[str, str] = field(default_factory=dict)
    submodules: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, name: str, root: Path) -> _Package:
        maps: dict[str, dict[str, str]] = {"_LAZY": {}, "_SUBMODULES": {}}
        init = root / "__init__.py"
        if init.is_file():
            for node in ast.parse(init.read_text(encoding="utf-8")).body:
                target = node.targets[0] if isinstance(node, ast.Assign) and len(
                    node.targets) == 1 else getattr(node, "target", None)
                if (isinstance(target, ast.Name) and target.id in maps
                        and getattr(node, "value", None) is not None):
                    maps[target.id] = dict(ast.literal_eval(node.value))
        return cls(name, root, maps["_LAZY"], maps["_SUBMODULES"])

    def inside(self, module: str) -> bool:
        return module == self.name or module.startswith(self.name + ".")

    def file(self, module: str) -> Path | None:
        """The source file of ``module`` if it is a module of this package (not its root)."""
        if not module.startswith(self.name + "."):
            return None
        base = self.root.joinpath(*module.split(".")[1:])
        for path in (base / "__init__.py", base.parent / f"{base.name}.py"):
            if path.is_file():
                return path
        return None

    def public(self, attr: str) -> set[str]:
        """The module that ``from <package> import attr`` loads (the order of ``__getattr__``)."""
        for table in (self.lazy, self.submodules):
            if attr in table:
                return {f"{self.name}.{table[attr]}"}
        sub = f"{self.name}.{attr}"
        return {sub} if self.file(sub) else set()


def _is_import_module(func: ast.expr) -> bool:
    return (isinstance(func, ast.Attribute) and func.attr == "import_module") or (
        isinstance(func, ast.Name) and func.id == "import_module")


def _imports(source: str, module: str, is_package: bool, pkg: _Package) -> set[str]:
    """Modules of ``pkg`` that ``source`` (the module ``module``) imports anywhere."""
    tree = ast.parse(source)
    here = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    bound: set[str] = set()  # local names bound to the package itself (``import contexture``)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if not pkg.inside(alias.name):
                    continue
                found.add(alias.name)
                if alias.asname is None:
                    bound.add(pkg.name)
                elif alias.name == pkg.name:
                    bound.add(alias.asname)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = here.split(".")[: len(here.split(".")) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if not pkg.inside(base):
                continue
            for alias in node.names:
                if base == pkg.name:
                    found |= pkg.public(alias.name)
                else:
                    found.add(base)
                    if pkg.file(f"{base}.{alias.name}"):
                        found.add(f"{base}.{alias.name}")
        elif (isinstance(node, ast.Call) and _is_import_module(node.func) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and pkg.inside(node.args[0].value)):
            found.add(node.args[0].value)
    if bound:
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in bound):
                found |= pkg.public(node.attr)
    return found


def _start_file(module: str, pkg: _Package) -> Path:
    path = pkg.file(module)
    if path is not None:
        return path
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
    pkg = _Package.read(package, Path(package_dir) if package_dir else PACKAGE_DIR)
    todo = [(name, _start_file(name, pkg)) for name in modules]
    out: dict[str, Path] = {}
    while todo:
        name, path = todo.pop()
        if name in out:
            continue
        out[name] = path
        deps = _imports(path.read_text(encoding="utf-8"), name, path.name == "__init__.py", pkg)
        for dep in deps | {name}:
            parts = dep.split(".")
            for i in range(2, len(parts) + 1):  # the module and its parent packages
                sub = ".".join(parts[:i])
                sub_file = pkg.file(sub)
                if sub_file is not None and sub not in out:
                    todo.append((sub, sub_file))
    return dict(sorted(out.items()))


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
