r"""Command line of ``python -m contexture.choose``: argument parsing and usage errors.

Usage errors (an unreadable file, an unknown column or context type, too few rows, ...) are
reported argparse-style on stderr with exit status 2 and no traceback, before any long
computation and before ``--out`` is touched. Sec. 5.3, Eq. (4) (arXiv v2 numbering).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

from contexture.choose.core import (
    EXTENSIONS,
    MAX_CATEGORY_LEVELS,
    MAX_CLASS_LEVELS,
    ChooseError,
    ChooseSettings,
    check_settings,
    choose,
    prepare_file,
)
from contexture.evaluation import CONTEXT_TYPES

__all__ = ["build_parser", "main"]

DESCRIPTION = """\
Choose a context for your own data without labels (Zhai et al., ICML 2025, Sec. 5.3): for each
context type at a grid of association levels, compute the exact spectrum of the context on the
pretrain rows, the metric tau of Eq. (4) and argmin_d tau_d (the predicted d*), and recommend
the setting with the smallest tau. With --target, also fit the book's ridge probe on a held-out
split and report how well tau's ranking agreed with the probe's error err_d* (Pearson, distance
and Spearman correlation) and the regret of the tau-chosen context."""

EPILOG = f"""\
data: {', '.join(EXTENSIONS)} files; numeric columns and categorical (text, bool) columns.
  Rows with a missing target are dropped; the rest are subsampled to --max-rows (seeded) and
  split 70/15/15 into pretrain / downstream / test (seeded; the same split with or without
  --target, so tau does not depend on the target). Preprocessing is the book's rule for its
  datasets (contexture.data.preprocess), fitted on the pretrain rows: a missing numeric value
  becomes the pretrain median, numeric columns are z-scored; a categorical column is one-hot
  encoded (one 0/1 column for two levels) with an extra "<missing>" level when it has missing
  values. Constant or all-missing columns, and categorical columns with more than
  {MAX_CATEGORY_LEVELS} levels or a distinct value in every row (identifiers), are dropped
  with a warning; the command fails only if no feature column remains.
target: --task auto treats a text/bool column, or an integer column with at most
  {MAX_CLASS_LEVELS} distinct values, as class labels, and any other numeric column as a
  regression target.
output (in --out): ranking.csv (one row per context type x level: context, level, K, gamma,
  neighbourhood K/n, tau, tau_d_star [, err_star, d_star], tau_rank, recommended), tau.png,
  spectra.npz (singular values s_1..s_(d0+1) per context type and level), summary.txt,
  prepared.npz (the prepared arrays) and cells/ (the resumable sweep store: a rerun into the
  same --out with the same file and settings computes only the cells an interrupted run
  left out; the store keys name the folder, so a moved --out starts afresh).
example: python -m contexture.choose data.csv --target y --levels 7 --max-rows 1500"""


def _positive(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {v}")
    return v


def _non_negative(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}"
                                         ) from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {v}")
    return v


def _contexts(text: str) -> tuple[str, ...]:
    items = tuple(c.strip() for c in text.split(",") if c.strip())
    bad = [c for c in items if c not in CONTEXT_TYPES]
    if bad or not items:
        raise argparse.ArgumentTypeError(
            f"unknown context type(s) {', '.join(bad) or '(none)'}; allowed: "
            f"{', '.join(CONTEXT_TYPES)} (comma-separated)")
    return items


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m contexture.choose``."""
    p = argparse.ArgumentParser(prog="python -m contexture.choose", description=DESCRIPTION,
                                epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", help="the data file (CSV, TSV or Parquet)")
    p.add_argument("--target", metavar="COL", default=None,
                   help="a label column: also run the ridge probe and check tau's ranking")
    p.add_argument("--task", choices=("auto", "classification", "regression"), default="auto",
                   help="how to read --target (default: auto, see below)")
    p.add_argument("--contexts", type=_contexts, default=CONTEXT_TYPES, metavar="LIST",
                   help=f"comma-separated context types (default: {','.join(CONTEXT_TYPES)})")
    p.add_argument("--levels", type=_positive, default=12, metavar="N",
                   help="association levels per context type, from strong (K = 2) to weak "
                        "(K = n_pretrain / 4) (default: 12; the paper used 35)")
    p.add_argument("--max-rows", type=_positive, default=3000, metavar="N",
                   help="subsample the file to at most N rows, seeded (default: 3000)")
    p.add_argument("--d0", type=_positive, default=None, metavar="N",
                   help="maximum dimension d0 of Eq. (4) (default: min(512, n_pretrain - 2); "
                        "the paper used 512)")
    p.add_argument("--seed", type=_non_negative, default=0, metavar="S",
                   help="seed of the subsample, the split, the masks and the grid (default: 0)")
    p.add_argument("--workers", type=_positive, default=None, metavar="N",
                   help="local worker processes (default: one per CPU core; 1 = this process)")
    p.add_argument("--scheduler", default=None, metavar="ADDR",
                   help="a Dask scheduler address (tcp://host:8786); its workers must see "
                        "--out and have this project installed")
    p.add_argument("--out", default="choose_out", metavar="DIR",
                   help="output folder (default: ./choose_out)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; usage errors exit with status 2 and a message on stderr."""
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = ChooseSettings(path=args.data, target=args.target, contexts=args.contexts,
                              n_levels=args.levels, max_rows=args.max_rows, d0=args.d0,
                              seed=args.seed, task=args.task)
    try:
        check_settings(settings)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            prepared = prepare_file(settings)
        for w in caught:
            print(f"{parser.prog}: warning: {w.message}", file=sys.stderr)
        summary, _, _ = choose(settings, args.out, workers=args.workers,
                               scheduler=args.scheduler, progress=not args.no_progress,
                               prepared=prepared)
    except ChooseError as exc:
        parser.error(str(exc))
    print(summary)
    return 0
