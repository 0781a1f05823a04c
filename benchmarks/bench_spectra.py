"""Benchmark: top-d singular pairs of KNN and RBF contexts (not a test).

Compares ``contexture.spectra.svd`` with two kernel-PCA baselines on the dual kernel
``K[i, j] = k_X^+(x_i, x_j)`` (kernel PCA: the eigenvalues of K / n are s_i^2):

* scikit-learn ``KernelPCA(kernel="precomputed", eigen_solver="arpack", n_components=d+1)``
  (it centres K, which removes exactly the trivial pair, so it returns s_1^2..s_{d+1}^2 times n);
* dense ``scipy.linalg.eigh(K / n, subset_by_index=...)`` (top d+1, the trivial 1 included).

For sparse contexts a reference row times PROPACK (``scipy.sparse.linalg.svds(Q, solver=
"propack")``), a Lanczos bidiagonalisation with partial re-orthogonalisation that returns no
residual certificate: it shows what a state-of-the-art sparse SVD costs on the same matrix.

Both need the dense n x n kernel (8 n^2 bytes: 6.3 GB at n = 28,155) and O(n^3) time, so at
large n they are skipped unless ``--large-baselines``; there the top-64 values are cross-checked
with ARPACK (``scipy.sparse.linalg.eigsh``) on our matrix-free operator instead.

Data: synthetic N(0, I_8) by default; ``--data file.npy`` (an n x p float array, standardised
here) plugs in real data. Times are wall-clock; peak memory is the tracemalloc peak of the step
(NumPy buffers included) plus the process's maximum RSS at the end.

    .venv/bin/python benchmarks/bench_spectra.py               # n = 4177 and 28155, d = 512
    .venv/bin/python benchmarks/bench_spectra.py --quick       # smoke run, seconds
    .venv/bin/python benchmarks/bench_spectra.py --sizes 4177 --threads 1
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy
import scipy.linalg as sla
import scipy.sparse.linalg as spla
import sklearn
from sklearn.decomposition import KernelPCA
from threadpoolctl import threadpool_info, threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contexture.contexts import Context, knn_context, rbf_context  # noqa: E402
from contexture.spectra import svd  # noqa: E402

AGREE = 1e-8  # required agreement of the eigenvalues s_i^2 (absolute)


def measure(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """Run fn; return (result, seconds, tracemalloc peak in GiB)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 2**30
    tracemalloc.stop()
    return out, dt, peak


def dual_kernel(ctx: Context) -> np.ndarray:
    """Dense Gram matrix of k_X^+ (= n Q Q^T for uniform P_X)."""
    q = ctx.q_matrix()
    k = q @ q.T
    k = k.toarray() if hasattr(k, "toarray") else np.asarray(k)
    k *= ctx.shape[0]
    return k


def row(name: str, seconds: float, peak: float, err: float | None, note: str = "") -> None:
    e = "" if err is None else f"{err:10.2e} {'ok' if err <= AGREE else 'FAIL'}"
    print(f"  {name:<44s} {seconds:9.2f} s {peak:8.2f} GiB  {e:<14s} {note}")


def run_case(label: str, ctx: Context, d: int, baselines: bool, build_s: float) -> None:
    n = ctx.shape[0]
    storage = f"CSR, nnz = {ctx.conditional.nnz}" if ctx.is_sparse else "dense"
    print(f"\n{label}: n = {n}, d = {d} nontrivial pairs (+ trivial); context built in "
          f"{build_s:.2f} s ({storage})")
    print(f"  {'method':<44s} {'time':>11s} {'peak mem':>12s}  {'max|dlambda|':<14s}")
    ours, t_ours, m_ours = measure(lambda: svd(ctx, d))
    lam = ours.s[1:] ** 2
    row(f"contexture svd (solver={ours.solver!r})", t_ours, m_ours, None,
        f"certified residual {ours.residual:.1e}; s_1 = {ours.s[1]:.4f}, s_d = {ours.s[-1]:.4f}")
    if not baselines:
        k = min(64, d)
        op = ctx.kernel_x_operator(matrix_free=True)
        res, t, m = measure(lambda: spla.eigsh(op, k=k + 1, which="LA", tol=0,
                                               v0=np.ones(n) + np.arange(n) / n))
        ev = np.sort(res[0])[::-1][1:]
        err = float(np.abs(ev - lam[:k]).max())
        row(f"cross-check: ARPACK eigsh top-{k} (matrix-free)", t, m, err,
            "dense baselines skipped (--large-baselines)")
        return
    kd, t_k, m_k = measure(lambda: dual_kernel(ctx))
    row("form dense dual kernel K (shared by baselines)", t_k, m_k, None)
    res, t_e, m_e = measure(lambda: sla.eigh(kd / n, subset_by_index=(n - d - 1, n - 1),
                                             eigvals_only=False))
    ev = res[0][::-1]
    err_e = float(np.abs(ev[1:] - lam).max())
    row("scipy.linalg.eigh(K/n, subset_by_index)", t_e, m_e, err_e,
        f"trivial eigenvalue {ev[0]:.12f}")
    kp, t_a, m_a = measure(lambda: KernelPCA(n_components=d + 1, kernel="precomputed",
                                             eigen_solver="arpack", random_state=0).fit(kd))
    err_a = float(np.abs(kp.eigenvalues_[:d] / n - lam).max())
    row("sklearn KernelPCA(precomputed, arpack)", t_a, m_a, err_a)
    if ctx.is_sparse:  # reference only: a state-of-the-art sparse SVD without certification
        qs = ctx.q_matrix()
        res, t_p, m_p = measure(lambda: spla.svds(qs, k=d + 1, solver="propack",
                                                  random_state=0))
        sp_ = np.sort(res[1])[::-1]
        err_p = float(np.abs(sp_[1:] ** 2 - lam).max())
        row("reference: scipy svds(solver='propack') on Q", t_p, m_p, err_p,
            "uncertified; not a baseline of the target")
    best = min(t_e, t_a)
    print(f"  speed-up vs best baseline: {best / t_ours:.2f}x (eigensolve only), "
          f"{(best + t_k) / t_ours:.2f}x (including forming K); vs eigh {t_e / t_ours:.2f}x, "
          f"vs KernelPCA {t_a / t_ours:.2f}x")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="4177,28155", help="comma-separated n for KNN")
    ap.add_argument("--rbf-sizes", default="4177", help="comma-separated n for RBF ('' = none)")
    ap.add_argument("--d", type=int, default=512, help="nontrivial pairs (default 512)")
    ap.add_argument("--k", type=int, default=30, help="KNN neighbours (default 30)")
    ap.add_argument("--gamma", type=float, default=0.5, help="RBF bandwidth (default 0.5)")
    ap.add_argument("--features", type=int, default=8, help="synthetic features (default 8)")
    ap.add_argument("--data", type=Path, default=None, help="n x p .npy array to use instead")
    ap.add_argument("--threads", type=int, default=None, help="BLAS threads (default: all)")
    ap.add_argument("--baseline-max", type=int, default=6000,
                    help="largest n for the dense baselines (default 6000)")
    ap.add_argument("--large-baselines", action="store_true", help="run baselines at any n")
    ap.add_argument("--quick", action="store_true", help="smoke run: n = 1500, 3000; d = 64")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.quick:
        args.sizes, args.rbf_sizes, args.d = "1500,3000", "1500", 64
    sizes = [int(s) for s in args.sizes.split(",") if s]
    rbf_sizes = [int(s) for s in args.rbf_sizes.split(",") if s]

    rng = np.random.default_rng(args.seed)
    n_max = max(sizes + rbf_sizes)
    if args.data is not None:
        x_all = np.load(args.data).astype(np.float64)
        x_all = (x_all - x_all.mean(0)) / np.where(x_all.std(0) > 0, x_all.std(0), 1.0)
        if len(x_all) < n_max:
            raise SystemExit(f"--data has {len(x_all)} rows, need {n_max}")
        source = str(args.data)
    else:
        x_all = rng.standard_normal((n_max, args.features))
        source = f"synthetic N(0, I_{args.features}), seed {args.seed}"

    blas = ", ".join(f"{i['internal_api']}:{i['num_threads']}" for i in threadpool_info())
    print(f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
          f"scikit-learn {sklearn.__version__}; {os.cpu_count()} CPUs, load avg "
          f"{os.getloadavg()[0]:.2f}; BLAS threads {args.threads or 'default'} ({blas})")
    print(f"data: {source}; eigenvalues must agree to {AGREE:g}")

    with threadpool_limits(args.threads):
        for n in sizes:
            x = x_all[:n]
            ctx, t, _ = measure(lambda x=x: knn_context(x, args.k))
            base = args.large_baselines or n <= args.baseline_max
            run_case(f"KNN context (K = {args.k})", ctx, args.d, base, t)
            del ctx
        for n in rbf_sizes:
            x = x_all[:n]
            ctx, t, _ = measure(lambda x=x: rbf_context(x, args.gamma))
            base = args.large_baselines or n <= args.baseline_max
            run_case(f"RBF context (gamma = {args.gamma})", ctx, args.d, base, t)
            del ctx
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"\nprocess peak RSS: {rss:.2f} GiB")


if __name__ == "__main__":
    main()
