"""Provenance receipts: what one chapter run was made from, and hashes of what it produced.

After a chapter executes, :func:`write_receipt` writes ``build/<profile>/receipts/<chapter>.json``:
the commit, profile, parameters and their hash, the seeds, the content hashes of the library
modules the chapter imports, of the lock file and of the data provenance, the package versions,
the device and floating-point types (as the chapter's results file recorded them), the runtime,
and the sha256 of every figure file and every table the executed notebook shows. A reader who
re-runs the chapter compares the receipts to see what changed.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import nbformat

from bookbuild.registry import params_hash

__all__ = ["RECEIPT_FIELDS", "receipt", "write_receipt", "table_hashes"]

RECEIPT_FIELDS = ("chapter", "commit", "profile", "params_hash", "parameters", "seeds",
                  "library_hash", "library_modules", "lock_hash", "data_hash", "packages",
                  "python", "platform", "device", "numpy_dtype", "torch_dtype", "runtime_s",
                  "executed_at", "figures", "tables")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def table_hashes(nb: nbformat.NotebookNode) -> dict[str, str]:
    """sha256 of every HTML table the notebook shows, named ``cell<i>[-<j>]`` by position."""
    out: dict[str, str] = {}
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        tables = [o["data"]["text/html"] for o in cell.get("outputs", [])
                  if "text/html" in o.get("data", {}) and "<table" in str(o["data"]["text/html"])]
        for j, html in enumerate(tables):
            text = html if isinstance(html, str) else "".join(html)
            out[f"cell{i}" + (f"-{j}" if len(tables) > 1 else "")] = _sha256(text.encode())
    return out


def receipt(*, chapter: str, params: dict[str, Any], commit: str, runtime_s: float,
            executed_at: str, library_hash: str, library_modules: list[str], lock_hash: str,
            data_hash: str, results_file: Path, figures_dir: Path,
            notebook: nbformat.NotebookNode) -> dict[str, Any]:
    """The receipt of one executed chapter (see the module docstring)."""
    prov: dict[str, Any] = {}
    if results_file.is_file():
        prov = json.loads(results_file.read_text()).get("provenance") or {}
    figures = {p.name: _sha256(p.read_bytes()) for p in sorted(figures_dir.glob("*"))
               if p.is_file()} if figures_dir.is_dir() else {}
    return {
        "chapter": chapter,
        "commit": commit,
        "profile": params.get("profile"),
        "params_hash": params_hash(params),
        "parameters": params,
        "seeds": {k: v for k, v in params.items() if "seed" in k},
        "library_hash": library_hash,
        "library_modules": library_modules,
        "lock_hash": lock_hash,
        "data_hash": data_hash,
        "packages": prov.get("packages", {}),
        "python": prov.get("python"),
        "platform": prov.get("platform"),
        "device": prov.get("device", "unknown (the chapter recorded no results)"),
        "numpy_dtype": prov.get("numpy_dtype"),
        "torch_dtype": prov.get("torch_dtype"),
        "runtime_s": runtime_s,
        "executed_at": executed_at,
        "figures": figures,
        "tables": table_hashes(notebook),
    }


def write_receipt(path: Path, data: dict[str, Any]) -> None:
    """Write a receipt atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str) + "\n")
    os.replace(tmp, path)
