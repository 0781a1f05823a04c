"""``python -m bookbuild sweep NAME``: run a sweep a chapter companion declares, ahead of the book.

A companion ``contexture/chapters/<chapter>.py`` lists its sweeps in a module-level dict
``SWEEPS = {"table1": build}``, where ``build(params) -> Sweep`` takes the chapter's resolved
parameters (defaults <- ``book/params/<profile>.yaml`` <- ``-p`` overrides, exactly what the
chapter's ``parameters`` cell receives). This command resolves them the same way, builds the
sweep and runs it into the store the chapter reads (``$CONTEXTURE_SWEEP_DIR``, else
``build/sweeps`` under the project root), locally or on a Dask cluster, so that a heavy profile
can be computed on many machines first; the chapter then only reads the stored cells.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib
import importlib.util
import json
import os
import pkgutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bookbuild.execute import discover_chapters
from bookbuild.params import ParameterError, load_profile, parse_override, resolve_parameters
from contexture.sweeps import STORE_ENV, Sweep, SweepFailed, run_sweep

__all__ = ["COMPANION_PACKAGE", "DeclaredSweep", "add_sweep_parser", "chapter_parameters",
           "cmd_sweep", "declared_sweeps"]

#: The package scanned for ``SWEEPS`` (one companion module per chapter, named after it).
COMPANION_PACKAGE = "contexture.chapters"


@dataclass(frozen=True)
class DeclaredSweep:
    """A sweep listed in a companion's ``SWEEPS``: its name, chapter, module and builder."""

    name: str
    chapter: str
    module: str
    build: Callable[[dict[str, Any]], Sweep]


def _declares_sweeps(path: Path) -> bool:
    """Whether the module at ``path`` assigns ``SWEEPS`` at top level (read without importing)."""
    source = path.read_text(encoding="utf-8")
    if "SWEEPS" not in source:
        return False
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if any(isinstance(t, ast.Name) and t.id == "SWEEPS" for t in targets):
            return True
    return False


def declared_sweeps(package: str | None = None) -> dict[str, DeclaredSweep]:
    """Every sweep declared by a companion module of ``package`` (default: the chapters).

    Only modules whose source assigns ``SWEEPS`` are imported.
    """
    package = package or COMPANION_PACKAGE
    pkg = importlib.import_module(package)
    found: dict[str, DeclaredSweep] = {}
    for info in pkgutil.iter_modules(pkg.__path__):
        module_name = f"{package}.{info.name}"
        spec = importlib.util.find_spec(module_name)
        origin = spec.origin if spec else None
        if not origin or not origin.endswith(".py") or not _declares_sweeps(Path(origin)):
            continue
        table = importlib.import_module(module_name).SWEEPS
        if not isinstance(table, dict):
            raise ParameterError(f"{module_name}.SWEEPS must be a dict name -> build function, "
                                 f"got {type(table).__name__}")
        for name, build in table.items():
            if not isinstance(name, str) or not callable(build):
                raise ParameterError(f"{module_name}.SWEEPS must map names to functions "
                                     f"build(params) -> Sweep, got {name!r}: {build!r}")
            if name in found:
                raise ParameterError(f"sweep {name!r} is declared twice: in "
                                     f"{found[name].module} and {module_name}")
            found[name] = DeclaredSweep(name, info.name, module_name, build)
    return dict(sorted(found.items()))


def chapter_parameters(root: Path, chapter: str, profile: str,
                       overrides: dict[str, Any]) -> dict[str, Any]:
    """The parameters ``chapter`` runs with under ``profile`` and ``overrides`` (validated)."""
    book = root / "book"
    chapters = discover_chapters(book)
    if chapter not in chapters:
        raise ParameterError(f"the companion of chapter {chapter!r} declares sweeps, but there "
                             f"is no chapter book/chapters/{chapter}.md")
    profile_values = load_profile(book / "params" / f"{profile}.yaml")
    return resolve_parameters(chapters[chapter].specs(), profile,
                              profile_values.get(chapter, {}), overrides, chapter=chapter)


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _list(declared: dict[str, DeclaredSweep]) -> str:
    if not declared:
        return "(none: no chapter companion defines SWEEPS)"
    return ", ".join(f"{d.name} ({d.chapter})" for d in declared.values())


def cmd_sweep(args: argparse.Namespace) -> int:
    """Run (or, without a name, list) the sweeps declared by the chapter companions."""
    root = Path(args.root).resolve()
    declared = declared_sweeps()
    if args.name is None:
        print(f"declared sweeps: {_list(declared)}")
        return 0
    if args.name not in declared:
        raise ParameterError(f"unknown sweep {args.name!r}; declared sweeps: {_list(declared)}")
    entry = declared[args.name]
    overrides = {name: parse_override(value) for name, value in (args.param or [])}
    params = chapter_parameters(root, entry.chapter, args.profile, overrides)
    sweep = entry.build(dict(params))
    if not isinstance(sweep, Sweep):
        raise ParameterError(f"{entry.module}.SWEEPS[{entry.name!r}] returned "
                             f"{type(sweep).__name__}, not a Sweep")
    if args.store:
        store = Path(args.store)
    elif os.environ.get(STORE_ENV):
        store = Path(os.environ[STORE_ENV])
    else:
        store = root / "build" / "sweeps"
    data_dir = Path(args.data_dir) if args.data_dir else root / "data"
    env = {"CONTEXTURE_CHAPTER": entry.chapter, "CONTEXTURE_PROFILE": args.profile,
           "CONTEXTURE_PARAMS": json.dumps(params),
           "CONTEXTURE_DATA_DIR": str(data_dir.resolve())}
    print(f"sweep {entry.name!r} of chapter {entry.chapter} (profile {args.profile}): "
          f"{len(sweep.grid)} cells into {store.resolve() / sweep.name}")
    try:
        with _environ(env):
            result = run_sweep(sweep, store=store, scheduler=args.scheduler,
                               workers=args.workers, progress=not args.quiet)
    except SweepFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (ValueError, TypeError, ConnectionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"done: {result.n_computed} computed, {result.n_cached} cached, 0 failed")
    return 0


def add_sweep_parser(sub: Any) -> None:
    """Register the ``sweep`` subcommand on the subparsers ``sub`` of the main parser."""
    s = sub.add_parser("sweep", help="run a sweep declared by a chapter companion (SWEEPS) into "
                                     "the store the chapter reads; without NAME, list them")
    s.add_argument("name", nargs="?", default=None, help="the sweep (see the list without it)")
    s.add_argument("--profile", default="default", help="smoke, default or paper")
    s.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"),
                   help="override a chapter parameter (a YAML value), like papermill -p")
    s.add_argument("--scheduler", default=None,
                   help="Dask scheduler address tcp://host:port (default: $CONTEXTURE_SCHEDULER, "
                        "else local processes)")
    s.add_argument("--workers", type=int, default=None,
                   help="local worker processes (default: one per CPU core; 1: in-process)")
    s.add_argument("--store", default=None,
                   help=f"store folder (default: ${STORE_ENV}, else ROOT/build/sweeps)")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_sweep)
