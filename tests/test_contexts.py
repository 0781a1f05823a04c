"""Contexts (Sec. 1, 2.1, 5.3), kernels (Definition 1) and operators (Definition 2)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from contexture.base.linalg import dense
from contexture.contexts import (
    FiniteContext,
    graph_context,
    knn_context,
    knn_mask_context,
    label_context,
    label_noise_channel,
    rbf_context,
    rbf_mask_context,
)
from contexture.operators import (
    adjoint_operator,
    chi_square,
    expectation_operator,
    kernel_a,
    kernel_a_operator,
    kernel_x,
    kernel_x_operator,
)

TOL = 1e-12  # exact identities between float64 matrices of O(1) entries


@pytest.fixture(scope="module")
def joint() -> np.ndarray:
    rng = np.random.default_rng(0)
    j = rng.random((7, 5)) ** 2
    j[2, 3] = 0.0
    return j / j.sum()


@pytest.fixture(scope="module")
def sample() -> np.ndarray:
    return np.random.default_rng(1).standard_normal((120, 4))


# -- FiniteContext ------------------------------------------------------------------------


def test_finite_context_attributes(joint):
    ctx = FiniteContext(joint)
    assert ctx.shape == (7, 5) and not ctx.is_sparse
    np.testing.assert_allclose(ctx.px, joint.sum(1), atol=TOL)
    np.testing.assert_allclose(ctx.pa, joint.sum(0), atol=TOL)
    np.testing.assert_allclose(dense(ctx.joint), joint, atol=TOL)
    np.testing.assert_allclose(ctx.conditional.sum(1), 1.0, atol=TOL)
    again = FiniteContext.from_conditional(ctx.conditional, ctx.px)
    np.testing.assert_allclose(dense(again.joint), joint, atol=TOL)
    sparse = FiniteContext(sp.csr_matrix(joint))
    assert sparse.is_sparse
    np.testing.assert_allclose(dense(sparse.joint), joint, atol=TOL)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        # (the shared check_matrix prints the value as np.float64(-0.1))
        (np.array([[0.5, -0.1], [0.3, 0.3]]),
         r"joint must be nonnegative, got .*-0\.1.* at index \(0, 1\)"),
        (np.array([[0.5, 0.1], [0.3, 0.3]]),
         r"joint must sum to 1 \(tolerance 1e-09\), got sum 1\.2"),
        (np.array([[0.5, 0.5], [0.0, 0.0]]),
         r"joint has 1 empty \(all-zero\) row\(s\) at index 1"),
        (np.array([[0.5, 0.0], [0.5, 0.0]]),
         r"joint has 1 empty \(all-zero\) column\(s\) at index 1"),
        (np.array([0.5, 0.5]), r"joint must be a 2-D array, got shape \(2,\)"),
        (np.array([[np.nan, 1.0]]), r"joint must contain only finite values"),
        (np.zeros((0, 3)), r"joint must be non-empty"),
    ],
)
def test_finite_context_rejects(value, message):
    with pytest.raises(ValueError, match=message):
        FiniteContext(value)


def test_from_conditional_rejects():
    cond = np.array([[0.5, 0.5], [0.2, 0.8]])
    with pytest.raises(ValueError, match=r"cond must be row-stochastic: .*tolerance 1e-09.*row 1"):
        FiniteContext.from_conditional(np.array([[0.5, 0.5], [0.2, 0.7]]), [0.5, 0.5])
    with pytest.raises(ValueError, match=r"px must have length cond.shape\[0\] = 2, got length 3"):
        FiniteContext.from_conditional(cond, [0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match=r"px must sum to 1 \(tolerance 1e-09\)"):
        FiniteContext.from_conditional(cond, [0.5, 0.6])
    with pytest.raises(ValueError, match=r"px must be strictly positive, got px\[1\] = 0\.0"):
        FiniteContext.from_conditional(cond, [1.0, 0.0])
    with pytest.raises(ValueError, match=r"cond has 1 empty \(all-zero\) column"):
        FiniteContext.from_conditional(np.array([[1.0, 0.0], [1.0, 0.0]]), [0.5, 0.5])


# -- sample-based contexts ----------------------------------------------------------------


@pytest.mark.parametrize("include_self", [True, False])
def test_knn_context(sample, include_self):
    k = 6
    ctx = knn_context(sample, k, include_self=include_self)
    p = ctx.conditional
    assert sp.isspmatrix_csr(p) and ctx.is_sparse
    assert np.all(np.diff(p.indptr) == k) and np.allclose(p.data, 1.0 / k)
    np.testing.assert_allclose(ctx.px, 1.0 / len(sample))
    # the neighbours are the k nearest sample points (self at distance 0 when included)
    d2 = ((sample[:, None] - sample[None]) ** 2).sum(-1)
    if not include_self:
        np.fill_diagonal(d2, np.inf)
    for i in (0, 17, 99):
        got = ctx.a_index[p[i].indices]
        assert set(got) == set(np.argsort(d2[i])[:k])
    diag = np.array([ctx.a_index[p[i].indices].tolist().count(i) for i in range(len(sample))])
    assert np.all(diag == (1 if include_self else 0))
    assert np.all(ctx.pa > 0)


def test_knn_duplicates_force_self():
    x = np.zeros((5, 2))
    x[3:] = 1.0
    ctx = knn_context(x, 2, include_self=True)
    for i in range(5):
        assert i in ctx.a_index[ctx.conditional[i].indices]
    ctx = knn_context(x, 1, include_self=False)
    for i in range(5):
        assert i not in ctx.a_index[ctx.conditional[i].indices]


def test_knn_rejects(sample):
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 120\], got 0"):
        knn_context(sample, 0)
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 119\], got 120"):
        knn_context(sample, 120, include_self=False)
    with pytest.raises(TypeError, match="include_self must be a bool"):
        knn_context(sample, 3, include_self=1)
    with pytest.raises(ValueError, match=r"X must have at least 2 rows"):
        knn_context(sample[:1], 1)


def test_rbf_context(sample):
    gamma = 0.7
    ctx = rbf_context(sample, gamma)
    d2 = ((sample[:, None] - sample[None]) ** 2).sum(-1)
    expect = np.exp(-gamma * d2)
    expect /= expect.sum(1, keepdims=True)
    np.testing.assert_allclose(ctx.conditional, expect, atol=1e-14)
    trunc = rbf_context(sample, gamma, truncate=1e-12)
    assert trunc.is_sparse
    np.testing.assert_allclose(dense(trunc.conditional), expect, atol=1e-10)
    np.testing.assert_allclose(dense(trunc.conditional).sum(1), 1.0, atol=TOL)
    with pytest.raises(ValueError, match=r"gamma must be a finite number in \(0\.0, inf\], got -1"):
        rbf_context(sample, -1.0)
    with pytest.raises(ValueError, match=r"dense RBF context needs n <= max_dense = 50"):
        rbf_context(sample, gamma, max_dense=50)


def test_masked_contexts(sample):
    ctx = rbf_mask_context(sample, 0.5, n_masks=7, seed=3)
    assert ctx.masks.shape == (7, 4) and np.all((~ctx.masks).sum(1) == 1)  # round(0.2 * 4) = 1
    np.testing.assert_allclose(ctx.conditional.sum(1), 1.0, atol=TOL)
    manual = np.zeros_like(ctx.conditional)
    for keep in ctx.masks:
        xs = sample[:, keep]
        e = np.exp(-0.5 * ((xs[:, None] - xs[None]) ** 2).sum(-1))
        manual += e / e.sum(1, keepdims=True)
    np.testing.assert_allclose(ctx.conditional, manual / 7, atol=1e-14)
    again = rbf_mask_context(sample, 0.5, n_masks=7, seed=3)
    np.testing.assert_array_equal(again.masks, ctx.masks)

    kctx = knn_mask_context(sample, 5, mask_fraction=0.5, n_masks=4, seed=1)
    assert np.all((~kctx.masks).sum(1) == 2)
    np.testing.assert_allclose(dense(kctx.conditional).sum(1), 1.0, atol=TOL)
    manual = np.zeros((120, 120))
    for keep in kctx.masks:
        single = knn_context(np.ascontiguousarray(sample[:, keep]), 5)
        manual += dense(single.conditional)
    np.testing.assert_allclose(dense(kctx.conditional), manual / 4, atol=TOL)
    with pytest.raises(ValueError, match=r"mask_fraction must be a finite number in \[0\.0, 1\.0"):
        rbf_mask_context(sample, 0.5, mask_fraction=1.0)


@pytest.mark.parametrize("maker", ["knn", "rbf", "knn_mask", "rbf_mask", "rbf_trunc"])
def test_conditional_at_new_points(sample, maker):
    ctx = {
        "knn": lambda: knn_context(sample, 5),
        "rbf": lambda: rbf_context(sample, 0.5),
        "knn_mask": lambda: knn_mask_context(sample, 5, n_masks=3),
        "rbf_mask": lambda: rbf_mask_context(sample, 0.5, n_masks=3),
        "rbf_trunc": lambda: rbf_context(sample, 0.5, truncate=1e-8),
    }[maker]()
    # the training points as "new" points reproduce the training rows (include_self=True)
    np.testing.assert_allclose(dense(ctx.conditional_at(sample)), dense(ctx.conditional),
                               atol=1e-13)
    new = np.random.default_rng(5).standard_normal((9, 4))
    rows = dense(ctx.conditional_at(new))
    assert rows.shape == (9, ctx.shape[1])
    np.testing.assert_allclose(rows.sum(1), 1.0, atol=TOL)
    with pytest.raises(ValueError, match=r"X_new must have 4 columns \(features\), got shape"):
        ctx.conditional_at(new[:, :3])


def test_label_context():
    y = np.array([0, 1, 2, 2, 1, 0, 0])
    ctx = label_context(y)
    np.testing.assert_allclose(ctx.conditional, np.eye(3)[y])
    noisy = label_context(y, noise=0.3)
    np.testing.assert_allclose(noisy.conditional, label_noise_channel(3, 0.3)[y])
    ch = label_noise_channel(4, 0.3)
    np.testing.assert_allclose(np.diag(ch), 0.7)
    np.testing.assert_allclose(ch[0, 1:], 0.1)
    ch = label_noise_channel(4, 0.3, flip_to="any")
    np.testing.assert_allclose(np.diag(ch), 0.7 + 0.075)
    with pytest.raises(ValueError, match=r"class 3 receives no probability"):
        label_context(y, n_classes=4)
    with pytest.raises(ValueError, match=r"y must hold labels in \[0, 1\], got values in \[0, 2\]"):
        label_context(y, n_classes=2)
    with pytest.raises(TypeError, match="y must hold integer class labels"):
        label_context(np.array([0.5, 1.0]))


def test_graph_context():
    w = np.array([[0, 2, 1, 0], [2, 0, 0, 1], [1, 0, 1, 3], [0, 1, 3, 0]], dtype=float)
    ctx = graph_context(w)
    deg = w.sum(1)
    np.testing.assert_allclose(ctx.px, deg / deg.sum(), atol=TOL)
    np.testing.assert_allclose(ctx.pa, ctx.px, atol=TOL)
    np.testing.assert_allclose(dense(ctx.conditional), w / deg[:, None], atol=TOL)
    np.testing.assert_allclose(dense(graph_context(sp.csr_matrix(w)).conditional),
                               w / deg[:, None], atol=TOL)
    bad = w.copy()
    bad[0, 1] = 3
    with pytest.raises(ValueError, match=r"W must be symmetric .* got max\|W - W\^T\| = 1\.0"):
        graph_context(bad)
    iso = np.zeros((3, 3))
    iso[0, 1] = iso[1, 0] = 1
    with pytest.raises(ValueError, match=r"W has 1 isolated vertex\(es\) .* first at index 2"):
        graph_context(iso)


# -- kernels and operators ----------------------------------------------------------------


@pytest.fixture(scope="module", params=["finite", "knn", "rbf"])
def any_context(request, joint, sample):
    return {
        "finite": lambda: FiniteContext(joint),
        "knn": lambda: knn_context(sample[:40], 4, include_self=False),
        "rbf": lambda: rbf_context(sample[:40], 0.3),
    }[request.param]()


def test_kernels_match_definition_1(any_context):
    ctx = any_context
    j, px, pa = dense(ctx.joint), ctx.px, ctx.pa
    # P+(x, x') = sum_a P(x|a) P(x'|a) P_A(a), P+(a, a') = sum_x P(a|x) P(a'|x) P_X(x)
    pxx = (j / pa) @ j.T
    paa = (j / px[:, None]).T @ j
    np.testing.assert_allclose(dense(kernel_x(ctx)), pxx / np.outer(px, px), rtol=1e-10)
    np.testing.assert_allclose(dense(kernel_a(ctx)), paa / np.outer(pa, pa), rtol=1e-10)
    np.testing.assert_allclose(dense(ctx.kernel_x()), dense(kernel_x(ctx)), atol=0)


def test_operators_definition_2(any_context):
    ctx = any_context
    t, ts = dense(expectation_operator(ctx)), dense(adjoint_operator(ctx))
    rng = np.random.default_rng(2)
    f, g = rng.standard_normal(ctx.shape[0]), rng.standard_normal(ctx.shape[1])
    # adjoint in L2(P_X) / L2(P_A): <T g, f>_{P_X} = <g, T* f>_{P_A}
    assert abs(ctx.px @ ((t @ g) * f) - ctx.pa @ (g * (ts @ f))) < 1e-12
    # T g = E[g(A) | x] and T 1 = 1, T* 1 = 1
    np.testing.assert_allclose(t @ np.ones(ctx.shape[1]), 1.0, atol=TOL)
    np.testing.assert_allclose(ts @ np.ones(ctx.shape[0]), 1.0, atol=TOL)
    # T_{k_A} = T* T and T_{k_X} = T T*
    np.testing.assert_allclose(dense(kernel_a_operator(ctx)), ts @ t, atol=TOL)
    np.testing.assert_allclose(dense(kernel_x_operator(ctx)), t @ ts, atol=TOL)
    # matrix-free versions agree with the matrices, for vectors and blocks
    blk = rng.standard_normal((ctx.shape[0], 3))
    for free, mat, x in [
        (expectation_operator(ctx, matrix_free=True), t, g),
        (adjoint_operator(ctx, matrix_free=True), ts, f),
        (adjoint_operator(ctx, matrix_free=True), ts, blk),
        (kernel_x_operator(ctx, matrix_free=True), t @ ts, blk),
        (kernel_a_operator(ctx, matrix_free=True), ts @ t, g),
    ]:
        np.testing.assert_allclose(free @ x, mat @ x, atol=TOL)
    np.testing.assert_allclose(adjoint_operator(ctx, matrix_free=True).T @ g, ts.T @ g, atol=TOL)


def test_chi_square_formula(any_context):
    ctx = any_context
    j = dense(ctx.joint)
    expect = (j**2 / np.outer(ctx.px, ctx.pa)).sum() - 1.0
    assert abs(chi_square(ctx) - expect) < 1e-10
    assert abs(ctx.chi_square() - expect) < 1e-10
    # independence (J = px pa^T) has chi^2 = 0 (1e-12)
    assert abs(chi_square(FiniteContext(np.outer(ctx.px, ctx.pa)))) < 1e-12


def test_sparse_joint_rejects_negative():
    bad = sp.csr_matrix(np.array([[0.5, -0.1], [0.3, 0.3]]))
    with pytest.raises(ValueError, match=r"joint must be nonnegative, got -0\.1 at index \(0, 1\)"):
        FiniteContext(bad)
