"""Download a dataset by OpenML task id through OpenML's REST API (no ``openml`` package needed).

Path: ``GET {base}/task/{task_id}`` → source dataset id and target →
``GET {base}/data/{dataset_id}`` → ARFF download URL, md5, version, ignored / row-id attributes →
download the ARFF (streamed to a temporary file, md5-verified, then moved into the cache
``<data_dir>/<name>/raw/``) → parse → canonical table. ``base`` is
``https://www.openml.org/api/v1/json`` unless ``$CONTEXTURE_OPENML_URL`` or ``base_url`` says
otherwise (the tests point it at a local fake server).
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contexture.data.canonical import CanonicalTable, atomic_path, file_digest
from contexture.data.errors import ChecksumError, DataError, DownloadError
from contexture.data.registry import DatasetInfo

from .arff_frame import read_arff
from .provenance import base_provenance, differences_vs_paper
from .tables import frame_to_table

__all__ = ["DEFAULT_BASE_URL", "OPENML_URL_ENV", "OpenMLTask", "OpenMLUnreachable",
           "build_from_openml", "download", "resolve_task"]

DEFAULT_BASE_URL = "https://www.openml.org/api/v1/json"
OPENML_URL_ENV = "CONTEXTURE_OPENML_URL"
CONVERTER_VERSION = 1
_USER_AGENT = "contexture-data-scripts/1"


class OpenMLUnreachable(DownloadError):
    """The server could not be reached at all (no network, DNS failure, connection refused)."""


def _failure(what: str, exc: BaseException) -> DownloadError:
    """HTTP errors are per-request failures; anything below HTTP means the server is unreachable."""
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        return OpenMLUnreachable(f"{what} failed: {exc.reason}")
    return DownloadError(f"{what} failed: {exc}")


def base_url(url: str | None = None) -> str:
    """The OpenML JSON API root: ``url``, else ``$CONTEXTURE_OPENML_URL``, else the public one."""
    return (url or os.environ.get(OPENML_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")


def _get_json(url: str, timeout: float) -> dict[str, Any]:
    req = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT,
                                               "Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read().decode("utf-8"))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise _failure(f"GET {url}", exc) from exc


def download(url: str, dest: str | os.PathLike[str], *, md5: str | None = None,
             timeout: float = 60.0) -> dict[str, Any]:
    """Stream ``url`` into ``dest`` atomically; verify length and (if given) md5.

    Returns ``{"sha256", "md5", "bytes"}``. On any failure (network error, short read,
    checksum mismatch) nothing is left under ``dest``: an existing file there is untouched.
    """
    dest = Path(dest)
    sha, md = hashlib.sha256(), hashlib.md5()
    size = 0
    req = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    with atomic_path(dest) as tmp:
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp, open(tmp, "wb") as out:
                expected_len = resp.headers.get("Content-Length")
                while True:
                    block = resp.read(1 << 16)
                    if not block:
                        break
                    out.write(block)
                    sha.update(block)
                    md.update(block)
                    size += len(block)
        except (urllib.error.URLError, OSError) as exc:
            raise _failure(f"download of {url} (nothing written to {dest})", exc) from exc
        except Exception as exc:  # http.client.IncompleteRead and friends
            raise DownloadError(f"download of {url} was cut short: {exc!r}; nothing written "
                                f"to {dest}") from exc
        if expected_len is not None and int(expected_len) != size:
            raise DownloadError(f"download of {url} was cut short: {size} of {expected_len} "
                                f"bytes; nothing written to {dest}")
        if md5 and md.hexdigest() != md5.lower():
            raise ChecksumError(f"download of {url}: md5 {md.hexdigest()} differs from {md5} "
                                f"published by OpenML; the file is refused ({dest} untouched)")
    return {"sha256": sha.hexdigest(), "md5": md.hexdigest(), "bytes": size}


@dataclass(frozen=True)
class OpenMLTask:
    """What the REST API says about a task and its source dataset."""

    task_id: int
    task_type: str
    dataset_id: int
    target: str
    dataset_name: str
    dataset_version: int
    url: str
    md5: str | None
    licence: str | None
    ignore: tuple[str, ...]
    row_id: str | None


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def resolve_task(task_id: int, *, url: str | None = None, timeout: float = 60.0) -> OpenMLTask:
    """Look up an OpenML task and its dataset description (two JSON requests)."""
    base = base_url(url)
    task = _get_json(f"{base}/task/{task_id}", timeout).get("task")
    if not task:
        raise DataError(f"OpenML task {task_id}: unexpected answer (no 'task' object)")
    inputs = {i.get("name"): i for i in task.get("input", [])}
    try:
        source = inputs["source_data"]["data_set"]
        did, target = int(source["data_set_id"]), str(source["target_feature"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"OpenML task {task_id} has no source_data input") from exc
    desc = _get_json(f"{base}/data/{did}", timeout).get("data_set_description")
    if not desc or "url" not in desc:
        raise DataError(f"OpenML dataset {did}: unexpected answer (no download url)")
    if str(desc.get("format", "ARFF")).lower() not in ("arff", "sparse_arff"):
        raise DataError(f"OpenML dataset {did} has format {desc.get('format')!r}; only ARFF is "
                        f"supported")
    row_id = desc.get("row_id_attribute")
    return OpenMLTask(
        task_id=int(task_id), task_type=str(task.get("task_type", "")), dataset_id=did,
        target=target, dataset_name=str(desc.get("name", did)),
        dataset_version=int(desc.get("version", 1)), url=str(desc["url"]),
        md5=desc.get("md5_checksum"), licence=desc.get("licence"),
        ignore=tuple(_as_list(desc.get("ignore_attribute"))),
        row_id=str(row_id) if row_id else None)


def build_from_openml(info: DatasetInfo, folder: str | os.PathLike[str], *,
                      url: str | None = None, timeout: float = 60.0,
                      refresh: bool = False) -> CanonicalTable:
    """Fetch ``info``'s OpenML task (ARFF cached in ``<folder>/raw``) and build the table."""
    if info.openml_task_id is None:
        raise DataError(f"dataset {info.name!r} has no OpenML task id; prepare it from a mirror")
    task = resolve_task(info.openml_task_id, url=url, timeout=timeout)
    expected = "Supervised Classification" if info.task == "classification" else \
        "Supervised Regression"
    if task.task_type and task.task_type != expected:
        raise DataError(f"OpenML task {task.task_id} is a {task.task_type!r} task; the registry "
                        f"expects {expected!r} for {info.name!r}")
    raw = Path(folder) / "raw" / f"openml-d{task.dataset_id}-v{task.dataset_version}.arff"
    if raw.exists() and not refresh and task.md5 and file_digest(raw, "md5") == task.md5:
        checksums = {"sha256": file_digest(raw), "md5": task.md5, "bytes": raw.stat().st_size}
        cached = True
    else:
        checksums = download(task.url, raw, md5=task.md5, timeout=timeout)
        cached = False
    data = read_arff(str(raw))
    frame = data.frame
    attrs = {a.name: a for a in data.attributes}
    if task.target not in attrs:
        raise DataError(f"OpenML dataset {task.dataset_id}: target {task.target!r} not among its "
                        f"attributes")
    drop = [c for c in (*task.ignore, *([task.row_id] if task.row_id else [])) if c in attrs]
    frame = frame.drop(columns=drop)
    frame = frame[[c for c in frame.columns if c != task.target] + [task.target]]
    feats = [attrs[c] for c in frame.columns if c != task.target]
    tgt = attrs[task.target]
    table, dropped_rows = frame_to_table(
        frame, name=info.name, task=info.task, target=task.target,
        categorical=[a.name for a in feats if a.type != "numeric"],
        levels={a.name: list(a.values) for a in feats if a.type == "nominal"},
        classes=list(tgt.values) if info.task == "classification" and tgt.values else None)
    prov = base_provenance(info, source="openml")
    transformations = [f"ignored / row-id attributes dropped: {drop}"] if drop else []
    if dropped_rows:
        transformations.append(f"{dropped_rows} rows with a missing target dropped")
    prov.update({
        "converter_version": CONVERTER_VERSION,
        "openml": {"task_id": task.task_id, "task_type": task.task_type,
                   "dataset_id": task.dataset_id, "dataset_name": task.dataset_name,
                   "dataset_version": task.dataset_version, "url": task.url,
                   "md5": task.md5, "licence": task.licence, "api": base_url(url),
                   "cached": cached},
        "raw_files": [{"path": str(raw.relative_to(Path(folder))), **checksums}],
        "match_level": "exact",
        "dropped_columns": drop, "added_columns": [], "dropped_rows": dropped_rows,
        "transformations": transformations,
        "differences_vs_paper": differences_vs_paper(info, table.n_rows, table.n_features),
    })
    if task.licence:
        prov["licence"] = f"{task.licence} (OpenML dataset {task.dataset_id})"
    table.provenance = prov
    return table
