"""Which modules of a package a piece of code imports: a static (``ast``) import closure.

One analysis serves both cache keys that follow code: the code hash of a sweep cell
(:mod:`contexture.sweeps.codehash`) and the key of a book chapter (the build tool's
``bookbuild.deps``). The package is read from its files under any root folder, never imported.

Every import statement counts, including those inside functions (lazy imports) and under
``if TYPE_CHECKING``; so do ``importlib.import_module("...")`` and ``__import__("...")`` with a
literal (possibly relative) name, and attribute chains on an imported package
(``import contexture; contexture.metrics.tau``). Importing ``a.b.c`` also runs the ``__init__``
of ``a`` and ``a.b``, which are therefore dependencies too.

Names served lazily by a package ``__init__`` (a module-level ``__getattr__`` that looks the name
up in literal dicts ``_LAZY`` / ``_SUBMODULES`` of relative module paths, as
``contexture/__init__.py`` does) resolve to the module the map names: ``from contexture import
results`` depends on ``contexture.runtime.results``. A name that a package with ``__getattr__``
neither defines nor maps makes the whole package a dependency (the conservative answer), as does
source that cannot be parsed. Modules outside the package are not followed.
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["LibraryIndex"]

_LAZY_MAPS = ("_SUBMODULES", "_LAZY")  # merged in this order: ``_LAZY`` wins, as in __getattr__
_IMPORT_CALLS = {"import_module", "__import__"}


@dataclass(frozen=True)
class _ModuleInfo:
    """What one module's source says about its imports and its top-level names."""

    imports: tuple[tuple[str, tuple[str, ...]], ...]  # (absolute module, imported names)
    aliases: tuple[tuple[str, str], ...]  # (local name, absolute module) bound by imports
    attributes: tuple[tuple[str, ...], ...]  # dotted attribute chains ``name.a.b`` in the code
    defined: frozenset[str]  # names bound at module level
    lazy: dict[str, str] = field(default_factory=dict)  # name -> relative module (lazy maps)
    has_getattr: bool = False


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
    maps: dict[str, dict[str, str]] = {name: {} for name in _LAZY_MAPS}
    for stmt in body:
        target = (stmt.targets[0] if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                  else stmt.target if isinstance(stmt, ast.AnnAssign) else None)
        if isinstance(target, ast.Name) and target.id in maps and stmt.value is not None:
            try:
                value = ast.literal_eval(stmt.value)
            except ValueError:
                continue
            if isinstance(value, dict):
                maps[target.id].update(
                    {str(k): v for k, v in value.items() if isinstance(v, str)})
    return {k: v for table in maps.values() for k, v in table.items()}


def _analyse(tree: ast.Module, package: str) -> _ModuleInfo:
    """The imports, aliases and attribute chains of a module of ``package`` ("" for none)."""
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
    """The modules of one package (a folder with ``__init__.py``) and their imports.

    Parameters
    ----------
    root
        The package folder (``.../contexture``); an empty index if it has no ``__init__.py``.
    name
        The package's import name (default: the folder's name).
    """

    def __init__(self, root: Path, name: str | None = None) -> None:
        self.root = Path(root).resolve()
        self.name = name or self.root.name
        self.files: dict[str, Path] = {}
        if (self.root / "__init__.py").is_file():
            for path in sorted(self.root.rglob("*.py")):
                if "__pycache__" not in path.parts:
                    parts = [self.name, *path.relative_to(self.root).with_suffix("").parts]
                    self.files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
        self.packages = {m for m, p in self.files.items() if p.name == "__init__.py"}
        self._infos: dict[str, _ModuleInfo | None] = {}

    def owns(self, module: str) -> bool:
        """Whether the dotted name ``module`` lies inside this package."""
        return module == self.name or module.startswith(self.name + ".")

    def _info(self, module: str) -> _ModuleInfo | None:
        """The imports and top-level names of one module (parsed once; None: no parse)."""
        if module not in self._infos:
            tree = _parse(self.files[module].read_text(encoding="utf-8"))
            package = module if module in self.packages else module.rpartition(".")[0]
            self._infos[module] = None if tree is None else _analyse(tree, package)
        return self._infos[module]

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
        info = self._info(module) if module in self.packages else None
        if info is None or name not in info.lazy:
            return None
        return self._existing(f"{module}.{info.lazy[name]}")

    def _resolve_attribute(self, module: str, name: str) -> set[str]:
        """Modules that ``module.name`` (``from module import name``) makes Python run."""
        target = self._lazy_target(module, name)
        if target is not None:  # ``__getattr__`` answers before a submodule is imported
            return self.resolve(target)
        sub = f"{module}.{name}"
        if sub in self.files:
            return self._with_parents(sub)
        info = self._info(module) if module in self.packages else None
        if info is None:  # not a package, or one that does not parse (then all is followed)
            return set()
        if name == "*":  # a star import of a lazy package asks for every name it maps
            return set().union(*(self.resolve(f"{module}.{v}") for v in info.lazy.values()))
        if info.has_getattr and name not in info.defined:
            return self._subtree(module)
        return set()

    def resolve(self, module: str, names: Iterable[str] = ()) -> set[str]:
        """Modules that ``from module import names`` (or ``import module``) runs directly."""
        found = self._existing(module) if self.owns(module) else None
        if found is None:
            return set()
        out = self._with_parents(found)
        for name in names:
            out |= self._resolve_attribute(found, name)
        return out

    def _references(self, info: _ModuleInfo) -> set[str]:
        """The library modules one analysed source refers to (imports and module attributes)."""
        out: set[str] = set()
        for module, names in info.imports:
            out |= self.resolve(module, names)
        bound = {local: target for local, target in info.aliases if self.owns(target)}
        for chain in info.attributes:
            target = bound.get(chain[0])
            if target is None or self._existing(target) != target:
                continue  # not bound to a module of the library (or a name inside one)
            current = target
            for attr in chain[1:]:
                out |= self._resolve_attribute(current, attr)
                nxt = self._lazy_target(current, attr) or f"{current}.{attr}"
                if nxt not in self.files:
                    break
                current = nxt  # ``pkg.sub.attr`` or ``pkg.lazy_name.attr``: go on from there
        return out

    def source_references(self, source: str, package: str = "") -> set[str]:
        """The library modules that ``source`` refers to directly (all of them if it won't parse).

        Parameters
        ----------
        source
            Python source: a module, or a notebook cell already stripped of IPython syntax.
        package
            The package that relative imports in ``source`` start from ("" for none).
        """
        tree = _parse(source)
        return set(self.files) if tree is None else self._references(_analyse(tree, package))

    def closure(self, modules: Iterable[str], *, include_root: bool = True) -> set[str]:
        """The library modules in ``modules``, their parent packages and all they import.

        Parameters
        ----------
        modules
            Dotted module names; those outside the library are ignored.
        include_root
            Whether the package's top-level ``__init__`` belongs to the result. Leaving it out
            (its imports are followed either way) keeps the result unchanged when a public name
            is added to its lazy maps.
        """
        seen: set[str] = set()
        todo = sorted(set().union(*(self._with_parents(m) for m in modules if m in self.files)))
        while todo:
            module = todo.pop()
            if module in seen:
                continue
            seen.add(module)
            info = self._info(module)
            todo += sorted((set(self.files) if info is None else self._references(info)) - seen)
        if not include_root:
            seen.discard(self.name)
        return seen

    def content_hash(self, modules: Iterable[str]) -> str:
        """sha256 over the paths (relative to the root's parent) and bytes of ``modules``."""
        h = hashlib.sha256()
        for module in sorted(modules):
            h.update(self.files[module].relative_to(self.root.parent).as_posix().encode())
            h.update(b"\0")
            h.update(self.files[module].read_bytes())
            h.update(b"\0")
        return h.hexdigest()
