"""Which library modules a chapter uses: static import analysis for the chapter cache key.

A chapter depends on the modules of the library package (``contexture``) that its code cells
import, closed transitively over the imports of those modules. Every import statement counts,
including those inside functions (lazy imports) and under ``if TYPE_CHECKING``; importing a
module also runs every package ``__init__`` above it, so those are dependencies too.

Names served lazily by a package ``__init__`` (a module-level ``__getattr__`` that looks the
name up in literal dicts ``_LAZY`` / ``_SUBMODULES`` of relative module paths, as
``contexture/__init__.py`` does) resolve to the module the map names: ``from contexture import
results`` depends on ``contexture.runtime.results``. A name a package with ``__getattr__`` does
not define and does not map makes the whole package a dependency (the conservative answer), as
does a code cell that cannot be parsed.
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["LibraryIndex", "cell_imports", "chapter_modules"]

_LAZY_MAPS = ("_LAZY", "_SUBMODULES")
_IMPORT_CALLS = {"import_module", "__import__"}


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@dataclass(frozen=True)
class _ModuleInfo:
    """What one module's source says about its imports and its top-level names."""

    imports: tuple[tuple[str, tuple[str, ...]], ...]  # (absolute module, imported names)
    aliases: tuple[tuple[str, str], ...]  # (local name, absolute module) bound by imports
    attributes: tuple[tuple[str, ...], ...]  # dotted attribute chains ``name.a.b`` in the code
    defined: frozenset[str]  # names bound at module level
    lazy: dict[str, str] = field(default_factory=dict)  # name -> relative module (lazy maps)
    has_getattr: bool = False
    parsed: bool = True


def _absolute(module: str | None, level: int, package: str) -> str:
    """The absolute name of ``from <level dots><module> import ...`` inside ``package``."""
    if level == 0:
        return module or ""
    base = package.split(".")
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join([*base, module] if module else base)


def _attribute_chain(node: ast.Attribute) -> tuple[str, ...] | None:
    names: list[str] = []
    cur: ast.expr = node
    while isinstance(cur, ast.Attribute):
        names.append(cur.attr)
        cur = cur.value
    if isinstance(cur, ast.Name):
        return (cur.id, *reversed(names))
    return None


def _top_level_names(body: list[ast.stmt]) -> set[str]:
    names: set[str] = set()
    for stmt in body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(stmt.name)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for alias in stmt.names:
                names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(stmt, (ast.If, ast.Try, ast.With)):
            for block in ("body", "orelse", "finalbody", "handlers"):
                for sub in getattr(stmt, block, []):
                    names |= _top_level_names(sub.body if isinstance(sub, ast.ExceptHandler)
                                              else [sub])
    return names


def _lazy_maps(body: list[ast.stmt]) -> dict[str, str]:
    out: dict[str, str] = {}
    for stmt in body:
        target = (stmt.targets[0] if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                  else stmt.target if isinstance(stmt, ast.AnnAssign) else None)
        if isinstance(target, ast.Name) and target.id in _LAZY_MAPS and stmt.value is not None:
            try:
                value = ast.literal_eval(stmt.value)
            except ValueError:
                continue
            if isinstance(value, dict):
                out.update({str(k): str(v) for k, v in value.items() if isinstance(v, str)})
    return out


def _analyse(tree: ast.Module, package: str) -> _ModuleInfo:
    imports: list[tuple[str, tuple[str, ...]]] = []
    aliases: list[tuple[str, str]] = []
    attributes: list[tuple[str, ...]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                imports.append((alias.name, ()))
                if alias.asname:
                    aliases.append((alias.asname, alias.name))
                else:
                    top = alias.name.split(".")[0]
                    aliases.append((top, top))
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node.module, node.level, package)
            names = tuple(a.name for a in node.names)
            imports.append((base, names))
            aliases += [(a.asname or a.name, f"{base}.{a.name}") for a in node.names]
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            arg = node.args[0]
            if name in _IMPORT_CALLS and isinstance(arg, ast.Constant) \
                    and isinstance(arg.value, str):
                level = len(arg.value) - len(arg.value.lstrip("."))
                imports.append((_absolute(arg.value[level:] or None, level, package), ()))
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            chain = _attribute_chain(node)
            if chain:
                attributes.append(chain)
    has_getattr = any(isinstance(s, ast.FunctionDef) and s.name == "__getattr__"
                      for s in tree.body)
    return _ModuleInfo(tuple(imports), tuple(aliases), tuple(attributes),
                       frozenset(_top_level_names(tree.body)), _lazy_maps(tree.body),
                       has_getattr)


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except SyntaxError:
        return None


class LibraryIndex:
    """The modules of one library package (a directory with ``__init__.py``) and their imports."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.name = self.root.name
        self.files: dict[str, Path] = {}
        if (self.root / "__init__.py").is_file():
            for path in sorted(self.root.rglob("*.py")):
                if "__pycache__" not in path.parts:
                    self.files[_module_name(self.root, path)] = path
        self.packages = {m for m, p in self.files.items() if p.name == "__init__.py"}
        self._info: dict[str, _ModuleInfo] = {}

    def owns(self, module: str) -> bool:
        return module == self.name or module.startswith(self.name + ".")

    def info(self, module: str) -> _ModuleInfo:
        """The imports and top-level names of one module (parsed once per index)."""
        if module not in self._info:
            tree = _parse(self.files[module].read_text(encoding="utf-8"))
            package = module if module in self.packages else module.rpartition(".")[0]
            self._info[module] = (_analyse(tree, package) if tree is not None
                                  else _ModuleInfo((), (), (), frozenset(), parsed=False))
        return self._info[module]

    def _with_parents(self, module: str) -> set[str]:
        """``module`` and every package above it inside the library (they all run on import)."""
        parts = module.split(".")
        return {".".join(parts[:i]) for i in range(1, len(parts) + 1)} & set(self.files)

    def _subtree(self, package: str) -> set[str]:
        return {m for m in self.files if m == package or m.startswith(package + ".")}

    def _existing(self, module: str) -> str | None:
        """The longest prefix of ``module`` that is a module of the library."""
        parts = module.split(".")
        for i in range(len(parts), 0, -1):
            name = ".".join(parts[:i])
            if name in self.files:
                return name
        return None

    def _lazy_target(self, module: str, name: str) -> str | None:
        """The module a package's lazy map names for ``name``, if any."""
        if module not in self.packages or name not in self.info(module).lazy:
            return None
        return self._existing(f"{module}.{self.info(module).lazy[name]}")

    def resolve_attribute(self, module: str, name: str) -> set[str]:
        """Modules that ``module.name`` (``from module import name``) makes Python run."""
        sub = f"{module}.{name}"
        if sub in self.files:
            return self._with_parents(sub)
        if module not in self.packages:
            return set()
        info = self.info(module)
        target = self._lazy_target(module, name)
        if target is not None:
            return self.resolve(target)
        if name == "*":  # a star import of a lazy package asks for every name it maps
            return set().union(*(self.resolve(f"{module}.{v}") for v in info.lazy.values()))
        if info.has_getattr and name not in info.defined:
            return self._subtree(module)
        return set()

    def resolve(self, module: str, names: Iterable[str] = ()) -> set[str]:
        """Modules that ``from module import names`` (or ``import module``) runs directly."""
        if not self.owns(module):
            return set()
        found = self._existing(module)
        if found is None:
            return set()
        out = self._with_parents(found)
        for name in names:
            out |= self.resolve_attribute(found, name)
        return out

    def references(self, info: _ModuleInfo) -> set[str]:
        """The library modules one parsed source refers to (imports and module attributes)."""
        out: set[str] = set()
        for module, names in info.imports:
            out |= self.resolve(module, names)
        bound = {local: target for local, target in info.aliases if self.owns(target)}
        for chain in info.attributes:
            target = bound.get(chain[0])
            if target is None:
                continue
            current = self._existing(target)
            if current is None or current != target:
                continue  # an imported name that is not a module
            for attr in chain[1:]:
                nxt = f"{current}.{attr}"
                if nxt in self.files:
                    out |= self._with_parents(nxt)
                    current = nxt
                    continue
                out |= self.resolve_attribute(current, attr)
                mapped = self._lazy_target(current, attr)
                if mapped is None:
                    break
                current = mapped  # ``pkg.lazy_name.attr``: go on from the mapped module
        return out

    def closure(self, modules: Iterable[str]) -> set[str]:
        """``modules`` and every library module they import, transitively."""
        seen: set[str] = set()
        todo = [m for m in modules if m in self.files]
        while todo:
            module = todo.pop()
            if module in seen:
                continue
            seen.add(module)
            info = self.info(module)
            todo += sorted((self.references(info) if info.parsed else set(self.files)) - seen)
        return seen

    def content_hash(self, modules: Iterable[str]) -> str:
        """sha256 over the names and bytes of ``modules`` (sorted)."""
        h = hashlib.sha256()
        for module in sorted(modules):
            h.update(self.files[module].relative_to(self.root.parent).as_posix().encode())
            h.update(b"\0")
            h.update(self.files[module].read_bytes())
            h.update(b"\0")
        return h.hexdigest()


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
    out: set[str] = set()
    for source in sources:
        tree = _parse(transform(source))
        if tree is None:
            return set(index.files)
        out |= index.references(_analyse(tree, ""))
    return out


def chapter_modules(sources: Iterable[str], index: LibraryIndex) -> set[str]:
    """Every library module a chapter with these code cells uses (its import closure)."""
    return index.closure(cell_imports(sources, index))
