"""Benchmark: the 4 x 35 contexts of one dataset (Sec. 5.3), fast path vs natural path.

The fast path is :func:`contexture.evaluation.evaluate_prepared` (one call per context type:
distances and neighbour lists shared by all levels and masks, dense deflated dual kernel with
LAPACK's subset eigensolver, Lemma-3 extension, prefix ridge for every d from one Cholesky
factor per penalty). The natural path is :func:`contexture.evaluation.evaluate_reference` (per
context: conditional rebuilt from scratch, dense Gram of k_X^+, centred, ``scipy.linalg.eigh(
subset_by_index)``, one scikit-learn ``RidgeCV`` per d).

Protocol: the default of the book (70/15/15 split, pretrain cap 3000, d0 = min(512, n - 2), 35
levels per type, 50 masks, 7 penalties). On splice this is n = 2,233 pretrain points (the whole
pretrain split), 478 downstream and 479 test points, d0 = 512 (513 pairs per context).

The natural path takes about 20 s per context, so by default it runs on a subset of levels
(``--natural-levels``, default 0, 17 and 34: strongest, middle, weakest) of every type, and the
fast path runs on the same subset (its shared precomputation included) for the side-by-side
ratio, and both paths' times for all 140 contexts are extrapolated from these side-by-side
timings (the fast path's shared work counted once per type; stated as such); then the fast path
runs on all 140 contexts for real. Agreement is checked on the subset:
eigenvalues to 1e-8, and err_d to 1e-8 wherever the top-d subspace is determined (gap
s_d^2 - s_{d+1}^2 >= 1e-6; inside degenerate clusters, e.g. s_i = 1 exactly for a disconnected
KNN graph, the singular functions are arbitrary). Peak memory: the tracemalloc peak of the fast
full run and the process's maximum RSS.

    .venv/bin/python benchmarks/bench_context_sweep.py                 # splice, ~15 min
    .venv/bin/python benchmarks/bench_context_sweep.py --quick         # seconds
    .venv/bin/python benchmarks/bench_context_sweep.py --threads 1 --dataset abalone
"""

from __future__ import annotations

import argparse
import platform
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import scipy
import sklearn
from threadpoolctl import threadpool_info, threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contexture.contexts import FiniteContext  # noqa: E402
from contexture.evaluation import (  # noqa: E402
    CONTEXT_TYPES,
    ContextFamily,
    evaluate_prepared,
    evaluate_reference,
    level_grid,
    prepare_dataset,
    protocol_masks,
    resolve_d0,
)
from contexture.evaluation.spectrum import top_eigh  # noqa: E402
from contexture.spectra import svd  # noqa: E402

EIG_TOL = 1e-8
ERR_TOL = 1e-8
GAP = 1e-6
STAGES = ("shared", "grid", "context", "gram", "eigh", "weights", "extension", "probe", "metrics")


def determined(s: np.ndarray) -> np.ndarray:
    """True for d = 0..d0 where the top-d subspace is separated by a gap >= GAP."""
    s2 = s**2
    gap = np.concatenate([np.ones_like(s2[..., :1]), s2[..., :-1] - s2[..., 1:]], axis=-1)
    return gap >= GAP


def breakdown(timings: dict[str, float], total: float) -> str:
    parts = [f"{k} {timings[k]:.1f}" for k in STAGES if timings.get(k, 0.0) >= 0.05]
    rest = total - sum(timings.values())
    return ", ".join(parts) + f", other {rest:.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="splice")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-levels", type=int, default=35)
    ap.add_argument("--n-masks", type=int, default=50)
    ap.add_argument("--d0", type=int, default=None)
    ap.add_argument("--cap", type=int, default=3000, help="pretrain cap")
    ap.add_argument("--natural-levels", type=int, nargs="+", default=None,
                    help="levels of each type run by both paths (default: first, middle, last)")
    ap.add_argument("--no-full", action="store_true", help="skip the fast run on all levels")
    ap.add_argument("--threads", type=int, default=None, help="BLAS threads (default: all)")
    ap.add_argument("--quick", action="store_true", help="small smoke run")
    args = ap.parse_args()
    if args.quick:
        args.cap, args.n_levels, args.n_masks, args.d0 = 300, 8, 5, 64

    limit = threadpool_limits(args.threads) if args.threads else None
    print(f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__},"
          f" scikit-learn {sklearn.__version__}; BLAS: "
          + ", ".join(f"{i['internal_api']} x{i['num_threads']}" for i in threadpool_info()))
    prep = prepare_dataset(args.dataset, seed=args.seed, n_pretrain_cap=args.cap)
    d0 = resolve_d0(args.d0, prep.n)
    L = args.n_levels
    sub = tuple(args.natural_levels or sorted({0, (L - 1) // 2, L - 1}))
    print(f"{args.dataset}: n = {prep.n} pretrain, {prep.X_train.shape[0]} downstream, "
          f"{prep.X_test.shape[0]} test points, {prep.X_pre.shape[1]} features "
          f"({prep.n_groups} original), {prep.Y_train.shape[1]} target column(s); d0 = {d0} "
          f"({d0 + 1} pairs per context), {L} levels x 4 types, {args.n_masks} masks")

    grids, masks = {}, protocol_masks(prep, n_masks=args.n_masks, seed=args.seed)
    for ctx in CONTEXT_TYPES:
        grids[ctx] = level_grid(ctx, prep, n_levels=L, seed=args.seed)
    common = dict(d0=d0, seed=args.seed)

    # ---- 1. side by side on the subset --------------------------------------------------
    print(f"\n1. levels {sub} of every type, both paths (alternating order per type)")
    fast_t, nat_t, fast_rec, nat_rec, fast_once = {}, {}, {}, {}, {}
    fast_tm: dict[str, float] = {}
    nat_tm: dict[str, float] = {}
    for i, ctx in enumerate(CONTEXT_TYPES):
        mk = masks if ctx.endswith("mask") else None

        def run_fast(ctx=ctx, mk=mk):
            tm: dict[str, float] = {}
            t0 = time.perf_counter()
            fast_rec[ctx] = evaluate_prepared(prep, ctx, sub, n_levels=L, n_masks=args.n_masks,
                                              timings=tm, **common)
            fast_t[ctx] = time.perf_counter() - t0
            fast_once[ctx] = tm.get("shared", 0.0) + tm.get("grid", 0.0)  # once per call
            for key, v in tm.items():
                fast_tm[key] = fast_tm.get(key, 0.0) + v

        def run_nat(ctx=ctx, mk=mk):
            t0 = time.perf_counter()
            nat_rec[ctx] = evaluate_reference(prep, grids[ctx], sub, masks=mk, timings=nat_tm,
                                              **common)
            nat_t[ctx] = time.perf_counter() - t0

        for fn in ((run_fast, run_nat) if i % 2 == 0 else (run_nat, run_fast)):
            fn()
        a, b = fast_rec[ctx], nat_rec[ctx]
        eig = float(np.abs(a["s"] ** 2 - b["s"] ** 2).max())
        ok = determined(a["s"]) & np.isfinite(a["err"])
        diff = np.abs(a["err"] - b["err"])
        err_det = float(diff[ok].max())
        err_all = float(np.nanmax(diff))
        n_und = int((~ok[:, 1:] & np.isfinite(a["err"][:, 1:])).sum())
        verdict = "ok" if eig <= EIG_TOL and err_det <= ERR_TOL else "FAIL"
        print(f"  {ctx:<9s} fast {fast_t[ctx]:7.1f} s  natural {nat_t[ctx]:7.1f} s  "
              f"ratio {nat_t[ctx] / fast_t[ctx]:5.2f}x | max|ds^2| {eig:.1e}  max|d err_d| "
              f"{err_det:.1e} on determined d ({verdict}), {err_all:.1e} on all d "
              f"({n_und} undetermined of {ok[:, 1:].size})")
        print(f"            tau {np.round(a['tau'], 3)}  err* {np.round(a['err_star'], 3)}  "
              f"d* {a['d_star']}  decay {np.round(a['decay_rate'], 3)}")
    tf, tn = sum(fast_t.values()), sum(nat_t.values())
    print(f"  total: fast {tf:.1f} s, natural {tn:.1f} s -> measured ratio {tn / tf:.2f}x "
          f"on {4 * len(sub)} contexts (fast includes its shared precomputation)")
    print(f"  fast breakdown (s): {breakdown(fast_tm, tf)}")
    print(f"  natural breakdown (s): {breakdown(nat_tm, tn)}")
    # all L levels of every type, estimated from these side-by-side timings: the fast path pays
    # its shared work once per type and its per-level work L times; the natural path L times
    scale = L / len(sub)
    est_f = sum(fast_once[c] + scale * (fast_t[c] - fast_once[c]) for c in CONTEXT_TYPES)
    est_n = sum(scale * nat_t[c] for c in CONTEXT_TYPES)
    print(f"  all {4 * L} contexts, estimated from these timings: fast {est_f:.0f} s, natural "
          f"{est_n:.0f} s -> ratio {est_n / est_f:.2f}x (extrapolated per level; shared work "
          f"counted once per type)")

    # ---- 2. the library's certified solvers on one level (for reference) ------------------
    print("\n2. one eigenproblem (level "
          f"{sub[len(sub) // 2]}), top {d0 + 1} pairs: subset eigh vs contexture.spectra.svd")
    for ctx, solver in (("knn", "sparse"), ("rbf", "gram")):
        P = ContextFamily(prep, grids[ctx], None).conditional(sub[len(sub) // 2])[: prep.n]
        n = prep.n
        pa = P.mean(axis=0)
        K = (P / np.sqrt(n * pa)) @ (P / np.sqrt(n * pa)).T - 1.0 / n
        t0 = time.perf_counter()
        lam = top_eigh(K, d0 + 1)[0]
        t1 = time.perf_counter() - t0
        cond = P if solver == "gram" else _sparse(P)
        t0 = time.perf_counter()
        try:
            sys_ = svd(FiniteContext.from_conditional(cond, np.full(n, 1.0 / n)), d0 + 1,
                       solver=solver, on_inaccurate="warn")
            t2 = time.perf_counter() - t0
            agree = float(np.abs(sys_.s[1:] ** 2 - lam).max())
            print(f"  {ctx}: eigh {t1:.2f} s, svd(solver={solver!r}) {t2:.2f} s "
                  f"(certified residual {sys_.residual:.1e}; |ds^2| {agree:.1e})")
        except Exception as exc:  # report, do not stop the benchmark
            print(f"  {ctx}: eigh {t1:.2f} s, svd(solver={solver!r}) failed: {exc}")

    # ---- 3. the fast path on all levels ----------------------------------------------------
    if not args.no_full:
        print(f"\n3. fast path on all {4 * L} contexts (one call per type)")
        tm: dict[str, float] = {}
        t_all = 0.0
        for ctx in CONTEXT_TYPES:
            t0 = time.perf_counter()
            rec = evaluate_prepared(prep, ctx, None, n_levels=L, n_masks=args.n_masks,
                                    timings=tm, **common)
            dt = time.perf_counter() - t0
            t_all += dt
            print(f"  {ctx:<9s} {dt:7.1f} s ({dt / L:.2f} s per level); neighbour lists "
                  f"{rec['neighbour_table_bytes'] / 2**20:.0f} MiB; decay rate "
                  f"{rec['decay_rate'][0]:.3g} .. {rec['decay_rate'][-1]:.3g}; tau "
                  f"{np.nanmin(rec['tau']):.3f} .. {np.nanmax(rec['tau']):.3g}")
        print(f"  total {t_all:.1f} s (part 1 estimated {est_f:.0f} s; the machine's load "
              f"differs between parts); breakdown (s): {breakdown(tm, t_all)}")

    # ---- 4. memory (tracemalloc slows Python-level code, so it is kept out of the timings) ---
    nn = 8 * prep.n**2
    print(f"\n4. peak memory of one call per type on its weakest level (largest K), tracemalloc; "
          f"an n x n float64 matrix is {nn / 2**20:.0f} MiB")
    for ctx in CONTEXT_TYPES:
        tracemalloc.start()
        evaluate_prepared(prep, ctx, (L - 1,), n_levels=L, n_masks=args.n_masks, **common)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"  {ctx:<9s} {peak / 2**20:6.0f} MiB = {peak / nn:.1f} x n^2 float64")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process max RSS: {rss:.0f} MiB")
    del limit


def _sparse(P: np.ndarray):
    import scipy.sparse as sp

    return sp.csr_matrix(P)


if __name__ == "__main__":
    main()
