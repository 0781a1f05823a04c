"""Prepare the datasets: ``python -m data_scripts.prepare [--mirror DIR] [--only NAME ...]``.

For each dataset of the registry (:mod:`contexture.data.registry`), produce
``<data_dir>/<name>/canonical.npz`` + ``meta.json`` (see :mod:`contexture.data.canonical`):

* with a mirror (``--mirror DIR`` or ``$CONTEXTURE_DATA_MIRROR``): verify each raw file's sha256
  against the mirror's ``MANIFEST.json``, then convert it with its recipe
  (:mod:`data_scripts.recipes`). Datasets the mirror does not hold are reported as unavailable.
* without a mirror: download by OpenML task id (:mod:`data_scripts.openml`).

Idempotent: a dataset whose files are present, whose checksum verifies and whose converter version
is current is skipped (``--force`` rebuilds). A failure (checksum mismatch, bad download) leaves any
existing good copy untouched, and files only ever appear under their final names complete.
Exit status: 0 if every requested dataset is ready or unavailable offline, 1 if any failed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contexture.data.canonical import canonical_status, read_meta, write_canonical
from contexture.data.errors import DataError, DataUnavailableError
from contexture.data.paths import data_dir as default_data_dir
from contexture.data.paths import mirror_dir as default_mirror_dir
from contexture.data.registry import REGISTRY, info

from . import openml
from .mirror import Manifest, build_from_mirror, load_manifest
from .recipes import RECIPES

__all__ = ["Result", "main", "prepare", "prepare_one"]


@dataclass
class Result:
    """Outcome for one dataset: ``status`` is built, ok, unavailable or failed."""

    name: str
    status: str
    message: str = ""
    seconds: float = 0.0
    meta: dict[str, Any] | None = None
    unreachable: bool = False


def _clean_stale_temporaries(folder: Path) -> list[str]:
    """Remove ``.<file>.tmp-*`` leftovers of an interrupted earlier run."""
    removed = []
    if folder.is_dir():
        for p in folder.rglob(".*.tmp-*"):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
                removed.append(p.name)
    return removed


def _current_version(meta: dict[str, Any]) -> int | None:
    prov = meta.get("provenance", {})
    if prov.get("source") == "openml":
        return openml.CONVERTER_VERSION
    recipe = RECIPES.get(prov.get("mirror_recipe", ""))
    return recipe.version if recipe else None


def _up_to_date(folder: Path, manifest: Manifest | None) -> tuple[bool, str]:
    status, detail = canonical_status(folder)
    if status != "ok":
        return False, detail
    meta = read_meta(folder)
    prov = meta["provenance"]
    if prov.get("converter_version") != _current_version(meta):
        return False, "converter version changed"
    if manifest is not None and prov.get("source") == "mirror":
        for rec in prov.get("raw_files", []):
            now = manifest.files.get(rec["path"])
            if now is None or now["sha256"] != rec["sha256"]:
                return False, f"mirror file {rec['path']} changed"
    return True, f"{prov.get('source')} copy, checksum verified"


def prepare_one(name: str, *, root: Path, manifest: Manifest | None, force: bool = False,
                openml_url: str | None = None, timeout: float = 60.0,
                skip_download: str | None = None) -> Result:
    """Prepare one dataset (see the module docstring); never raises for data errors.

    ``skip_download`` (a reason) makes a dataset that would need a download fail at once; it is
    set after OpenML proved unreachable, so an offline run does not wait on every dataset.
    """
    t0 = time.perf_counter()
    entry = info(name)
    folder = root / name
    _clean_stale_temporaries(folder)
    try:
        if not force:
            fresh, why = _up_to_date(folder, manifest)
            if fresh:
                return Result(name, "ok", why, time.perf_counter() - t0, read_meta(folder))
        if manifest is not None:
            table = build_from_mirror(entry, manifest)
        elif skip_download:
            return Result(name, "failed", f"skipped: {skip_download}", time.perf_counter() - t0,
                          unreachable=True)
        else:
            table = openml.build_from_openml(entry, folder, url=openml_url, timeout=timeout)
        meta = write_canonical(table, folder)
    except DataUnavailableError as exc:
        return Result(name, "unavailable", str(exc), time.perf_counter() - t0)
    except openml.OpenMLUnreachable as exc:
        return Result(name, "failed", f"{type(exc).__name__}: {exc}", time.perf_counter() - t0,
                      unreachable=True)
    except (DataError, OSError, ValueError) as exc:
        return Result(name, "failed", f"{type(exc).__name__}: {exc}", time.perf_counter() - t0)
    return Result(name, "built", f"from {meta['provenance']['source']}",
                  time.perf_counter() - t0, meta)


def prepare(names: Sequence[str] | None = None, *, mirror: str | os.PathLike[str] | None = None,
            data_dir: str | os.PathLike[str] | None = None, force: bool = False,
            openml_url: str | None = None, timeout: float = 60.0,
            log: Callable[[str], None] | None = None) -> list[Result]:
    """Prepare ``names`` (default: the whole registry) into ``data_dir``; return the results."""
    selected = list(names) if names else list(REGISTRY)
    for n in selected:
        info(n)  # unknown names fail before any work
    root = default_data_dir(data_dir)
    mirror_path = default_mirror_dir(mirror)
    manifest = load_manifest(mirror_path) if mirror_path is not None else None
    results: list[Result] = []
    offline: str | None = None
    for n in selected:
        r = prepare_one(n, root=root, manifest=manifest, force=force, openml_url=openml_url,
                        timeout=timeout, skip_download=offline)
        if r.unreachable and offline is None:
            offline = (f"OpenML is unreachable ({r.message}); on an offline machine use "
                       f"--mirror DIR (or make data DATA_MIRROR=DIR)")
        results.append(r)
        if log:
            log(f"{r.status:<11} {n:<18} {r.seconds:6.2f}s  {r.message}")
    return results


def _summary(results: list[Result]) -> str:
    head = f"{'dataset':<18} {'status':<11} {'rows':>6} {'cols':>5}  {'match':<12} differences"
    lines = [head, "-" * len(head)]
    for r in results:
        m = r.meta or {}
        prov = m.get("provenance", {})
        lines.append(f"{r.name:<18} {r.status:<11} {m.get('n_rows', ''):>6} "
                     f"{m.get('n_features', ''):>5}  {str(prov.get('match_level', '')):<12} "
                     f"{'; '.join(prov.get('differences_vs_paper', []))}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point (``python -m data_scripts.prepare --help``)."""
    p = argparse.ArgumentParser(prog="python -m data_scripts.prepare", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mirror", help="import from this mirror directory instead of downloading "
                   "(default: $CONTEXTURE_DATA_MIRROR if set)")
    p.add_argument("--data-dir", help="where canonical files go (default: $CONTEXTURE_DATA_DIR "
                   "or <repo>/data)")
    p.add_argument("--only", nargs="+", metavar="NAME", help="prepare only these datasets")
    p.add_argument("--force", action="store_true", help="rebuild even if up to date")
    p.add_argument("--openml-url", help=f"OpenML JSON API root (default: ${openml.OPENML_URL_ENV}"
                   f" or {openml.DEFAULT_BASE_URL})")
    p.add_argument("--timeout", type=float, default=60.0, help="network timeout in seconds")
    p.add_argument("--list", action="store_true", help="list the registry and exit")
    args = p.parse_args(argv)
    if args.list:
        for e in REGISTRY.values():
            where = f"mirror recipe {e.recipe}" if e.offline else "OpenML only"
            print(f"{e.name:<18} {e.task_short}  {e.paper_rows:>6} x {e.paper_features:<4} "
                  f"task {e.openml_task_id}  ({where})")
        return 0
    t0 = time.perf_counter()
    try:
        results = prepare(args.only, mirror=args.mirror, data_dir=args.data_dir, force=args.force,
                          openml_url=args.openml_url, timeout=args.timeout, log=print)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print()
    print(_summary(results))
    counts = {s: sum(r.status == s for r in results) for s in ("built", "ok", "unavailable",
                                                               "failed")}
    print(f"\n{counts['built']} built, {counts['ok']} already up to date, "
          f"{counts['unavailable']} unavailable offline, {counts['failed']} failed "
          f"in {time.perf_counter() - t0:.1f}s; data directory: {default_data_dir(args.data_dir)}")
    for r in results:
        if r.status in ("unavailable", "failed"):
            print(f"  {r.status}: {r.name}: {r.message}", file=sys.stderr)
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
