"""The API reference pages: one ``api-module`` directive per documented module.

``.. api-module:: contexture.metrics`` (inside ``{eval-rst}``) renders the module docstring, an
autosummary table of the module's public names (``__all__``, else the public functions and
classes it defines) and, below it, the autodoc entry of every name the module *owns*. A name
re-exported from a submodule is owned by the shallowest module under the root package whose
``__all__`` lists it (``tau`` by ``contexture.metrics``), so each object is documented once and
the tables of the other modules (``contexture`` itself, for instance) link to it. The names are
read at build time, so a module that gains or loses names needs no edit of the pages; a module
without public names renders its docstring and says so.

Cross-references to ``contexture`` objects are resolved by the object's documented name
(``contexture.contexts.finite.Context`` in a signature links to ``contexture.contexts.Context``);
a reference to a real object that is not documented (a private helper, a lower layer) is shown as
code without a link. A reference to something that does not exist still fails the build.

``import contexture`` uses the source tree named by ``api_source_root`` (relative to the book
source folder; the pipeline sets it when it stages a copy of the book), not an installed copy.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import sys
from collections.abc import Collection
from pathlib import Path
from types import ModuleType
from typing import Any

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.environment import BuildEnvironment
from sphinx.errors import ExtensionError
from sphinx.ext import napoleon
from sphinx.pycode import ModuleAnalyzer
from sphinx.util.docutils import SphinxDirective

ROOT_PACKAGE = "contexture"
_MISSING = object()
_SECTION = re.compile(r"^\s*\.\. api-module::\s*(\S+)", re.MULTILINE)


def public_names(module: ModuleType) -> list[str]:
    """``__all__``, else the public functions and classes defined in ``module``."""
    names = getattr(module, "__all__", None)
    if names is not None:
        return list(names)
    return [n for n, obj in vars(module).items()
            if not n.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj))
            and obj.__module__ == module.__name__]


def owner(module: ModuleType, name: str, documented: Collection[str]) -> str:
    """The module whose section documents ``module.name`` (see the module docstring).

    Only modules with a section (``documented``) qualify; a name with no such home is documented
    where it is listed.
    """
    obj = getattr(module, name)
    home = getattr(obj, "__module__", None)
    if not isinstance(home, str) or not home.startswith(ROOT_PACKAGE + "."):
        return module.__name__
    parts = home.split(".")
    for i in range(2, len(parts) + 1):
        candidate = ".".join(parts[:i])
        if candidate not in documented:
            continue
        mod = importlib.import_module(candidate)
        if name in (getattr(mod, "__all__", None) or ()) and getattr(mod, name, None) is obj:
            return candidate
    return module.__name__


def _documented_by_autodoc(obj: Any) -> bool:
    return inspect.isclass(obj) or inspect.isroutine(obj)


def _autodoc(modname: str, name: str, obj: Any) -> list[str]:
    if inspect.isclass(obj):
        kind = "autoexception" if issubclass(obj, BaseException) else "autoclass"
        bases = ["   :show-inheritance:"] if obj.__bases__ != (object,) else []
        return [f".. {kind}:: {modname}.{name}", "   :members:", *bases, ""]
    return [f".. autofunction:: {modname}.{name}", ""]


def _data(modname: str, name: str, obj: Any) -> list[str]:
    """A ``py:data`` entry with the ``#:`` comment or docstring of the assignment that made it.

    autodoc would show the docstring of the value's type (``dict``) for a re-exported constant.
    """
    doc: list[str] = []
    for mod in list(sys.modules.values()):
        modname_of = getattr(mod, "__name__", "")
        if ((modname_of == modname or modname_of.startswith(modname + "."))
                and vars(mod).get(name, _MISSING) is obj):
            attr_docs = ModuleAnalyzer.for_module(mod.__name__).find_attr_docs()
            doc = list(attr_docs.get(("", name), []))
            if doc:
                break
    return [f".. py:data:: {name}", "", *(f"   {line}" for line in doc), ""]


class ApiModule(SphinxDirective):
    """``.. api-module:: dotted.name``: docstring, summary table and entries of one module."""

    required_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        modname = self.arguments[0]
        module = importlib.import_module(modname)
        documented = getattr(self.env, "api_reference_modules", {modname})
        names = public_names(module)
        homes = {n: owner(module, n, documented) for n in names}
        code = [n for n in names if _documented_by_autodoc(getattr(module, n))]
        lines = [f".. automodule:: {modname}", ""]
        if not names:
            lines += ["*This module has no public names yet.*", ""]
        if code:
            lines += [".. autosummary::", "   :nosignatures:", ""]
            for name in code:  # relative to the current module, which autosummary prefixes
                rel = homes[name].removeprefix(modname).lstrip(".")
                lines.append(f"   ~{rel}.{name}" if rel else f"   {name}")
            lines.append("")
        for name in names:
            obj = getattr(module, name)
            if homes[name] == modname:
                lines += (_autodoc(modname, name, obj) if name in code
                          else _data(modname, name, obj))
        text = "\n".join(lines)
        if os.environ.get("API_REFERENCE_DUMP"):  # debugging: the generated reStructuredText
            dump = Path(os.environ["API_REFERENCE_DUMP"]) / f"{modname}.rst"
            dump.parent.mkdir(parents=True, exist_ok=True)
            dump.write_text(text, encoding="utf-8")
        result = self.parse_text_to_nodes(text)
        for table in (n for node in result for n in node.findall(nodes.table)):
            _mark_summary_context(table)
        return result


def _mark_summary_context(table: nodes.table) -> None:
    """Give the references in each summary line the object of its row as context.

    A summary is the first sentence of a docstring, cut out of its object: ``:meth:`transform```
    in a class's summary must still resolve against that class.
    """
    for row in table.findall(nodes.row):
        entries = list(row.findall(nodes.entry))
        refs = list(entries[0].findall(addnodes.pending_xref)) if entries else []
        if len(entries) < 2 or not refs:
            continue
        for ref in entries[1].findall(addnodes.pending_xref):
            ref["api_context"] = refs[0]["reftarget"]


def _find(target: str) -> tuple[Any, str] | None:
    """The object called ``target`` (a dotted name) and the module it was found in, if any."""
    parts = target.split(".")
    for i in range(len(parts), 0, -1):
        modname = ".".join(parts[:i])
        try:
            obj: Any = importlib.import_module(modname)
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr, _MISSING)
            if obj is _MISSING:
                return None
        return obj, modname
    return None


_DOCSTRING_OF = re.compile(r"docstring of ([\w.]+)")


def _candidates(node: nodes.Element) -> list[str]:
    """Full names a Python cross-reference may mean, most specific first.

    Besides the current module and class, the object whose docstring holds the reference (or the
    row of a summary table) is a context: its class, its module and the module defining it.
    """
    target = node["reftarget"].lstrip(".~")
    scopes: list[str] = []
    module, cls = node.get("py:module"), node.get("py:class")
    if module and cls:
        scopes.append(f"{module}.{cls}")
    if module:
        scopes.append(module)
    match = _DOCSTRING_OF.search(str(node.source or ""))
    for context in (match.group(1) if match else None, node.get("api_context")):
        found = _find(context) if context else None
        if found is None:
            continue
        obj, _ = found
        scopes.append(context)
        home, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
        if isinstance(home, str):
            if inspect.isclass(obj) and isinstance(qualname, str):
                scopes.append(f"{home}.{qualname}")
            scopes.append(home)
    out = []
    for scope in scopes:
        parts = scope.split(".")
        out += [".".join([*parts[:i], target]) for i in range(len(parts), 0, -1)]
    out.append(target)
    return list(dict.fromkeys(out))


def _documented_names(obj: Any, found_as: str) -> list[str]:
    """Names under which ``obj`` may be documented: its package paths, shallow first."""
    qualname = getattr(obj, "__qualname__", None)
    home = getattr(obj, "__module__", None)
    if inspect.ismodule(obj):
        return [obj.__name__]
    out = []
    if isinstance(home, str) and isinstance(qualname, str):
        parts = home.split(".")
        out += [".".join([*parts[:i], qualname]) for i in range(1, len(parts) + 1)]
    return [*out, found_as]


def resolve_library_reference(app: Sphinx, env: BuildEnvironment, node: nodes.Element,
                              contnode: nodes.Element) -> nodes.Element | None:
    """``missing-reference``: link ``contexture`` objects to their documented name."""
    if node.get("refdomain") != "py":
        return None
    domain = env.get_domain("py")
    for target in _candidates(node):
        if not (target == ROOT_PACKAGE or target.startswith(ROOT_PACKAGE + ".")):
            continue
        found = _find(target)
        if found is None:
            continue
        obj, _ = found
        for name in _documented_names(obj, target):
            if name in domain.objects or name in domain.modules:  # type: ignore[attr-defined]
                ref = node.deepcopy()
                ref["reftarget"], ref["refspecific"] = name, False
                ref["py:module"] = ref["py:class"] = None
                kind = "mod" if name in domain.modules else "obj"  # type: ignore[attr-defined]
                resolved = domain.resolve_xref(env, node["refdoc"], app.builder, kind, name,
                                               ref, contnode)
                if resolved is not None:
                    return resolved
        return contnode  # a real object that the reference does not document: plain code
    return None


def _find_sections(app: Sphinx) -> None:
    """Which modules have an ``api-module`` section somewhere in the book (read up front)."""
    found: set[str] = set()
    for path in Path(app.srcdir).rglob("*"):
        if path.suffix in {".md", ".rst"} and "_build" not in path.parts:
            found |= set(_SECTION.findall(path.read_text(encoding="utf-8", errors="replace")))
    app.env.api_reference_modules = found  # type: ignore[attr-defined]


def _use_source_tree(app: Sphinx, config: Config) -> None:
    root = (Path(app.srcdir) / config.api_source_root).resolve()
    if not (root / ROOT_PACKAGE / "__init__.py").is_file():
        raise ExtensionError(f"api_source_root: no {ROOT_PACKAGE} package beside the book")
    sys.path.insert(0, str(root))  # before the installed (editable or not) package
    package = importlib.import_module(ROOT_PACKAGE)
    if Path(package.__file__ or "").resolve().parent != root / ROOT_PACKAGE:
        raise ExtensionError(f"{ROOT_PACKAGE} was imported from outside the source tree "
                             f"named by api_source_root ({config.api_source_root!r})")


def _napoleon_except_attributes(app: Sphinx, what: str, name: str, obj: Any, options: Any,
                                lines: list[str]) -> None:
    """napoleon, except on attributes and properties.

    napoleon reads the first line of their docstring as ``type: description``, which turns a
    prose sentence with a colon into a type; our attribute docstrings are prose.
    """
    if what not in ("attribute", "property", "data"):
        napoleon._process_docstring(app, what, name, obj, options, lines)


def setup(app: Sphinx) -> dict[str, Any]:
    app.setup_extension("sphinx.ext.napoleon")
    for listener in list(app.events.listeners.get("autodoc-process-docstring", [])):
        if listener.handler is napoleon._process_docstring:
            app.disconnect(listener.id)
    app.connect("autodoc-process-docstring", _napoleon_except_attributes)
    app.add_config_value("api_source_root", "..", "env", types=[str])
    app.add_directive("api-module", ApiModule)
    app.connect("config-inited", _use_source_tree)
    app.connect("builder-inited", _find_sections)
    app.connect("missing-reference", resolve_library_reference)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
