"""fastkmeans.metrics against sklearn.metrics: the same numbers (1e-6 relative), dense and sparse."""

import numpy as np
import pytest
import scipy.sparse
from hypothesis import given
from hypothesis import strategies as st
from sklearn import metrics as sk
from sklearn.datasets import make_blobs

from fastkmeans import metrics

RTOL = 1e-6


def blobs(n=600, d=5, centers=4, seed=0, dtype=np.float64):
    X, y = make_blobs(n_samples=n, n_features=d, centers=centers, cluster_std=2.0, random_state=seed)
    return X.astype(dtype), y


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_silhouette_samples_and_score_equal_sklearn(dtype):
    X, y = blobs(dtype=dtype)
    # float32 rows are computed in float64, as scikit-learn computes float64 rows; scikit-learn rounds
    # float32 rows' distances to float32 (about 1e-7 absolute on each silhouette value).
    exact = X.astype(np.float64)
    ours = metrics.silhouette_samples(X, y)
    np.testing.assert_allclose(ours, sk.silhouette_samples(exact, y), rtol=RTOL, atol=1e-9)
    np.testing.assert_allclose(ours, sk.silhouette_samples(X, y), rtol=0, atol=1e-6)
    assert metrics.silhouette_score(X, y) == pytest.approx(sk.silhouette_score(exact, y), rel=RTOL)


def test_silhouette_of_sparse_rows_equals_sklearn_and_dense():
    rng = np.random.default_rng(1)
    X = scipy.sparse.random(300, 40, density=0.1, format="csr", random_state=2)
    y = rng.integers(0, 3, size=300)
    ours = metrics.silhouette_samples(X, y)
    np.testing.assert_allclose(ours, sk.silhouette_samples(X, y), rtol=RTOL, atol=1e-9)
    np.testing.assert_allclose(ours, metrics.silhouette_samples(X.toarray(), y), rtol=1e-9, atol=1e-12)
    assert metrics.silhouette_score(X, y) == pytest.approx(sk.silhouette_score(X, y), rel=RTOL)


def test_silhouette_with_a_singleton_cluster_duplicates_and_string_labels():
    X = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 1.0], [5.0, 5.0], [5.0, 5.0], [9.0, 9.0]])
    y = np.array(["a", "a", "a", "b", "b", "c"])
    np.testing.assert_allclose(metrics.silhouette_samples(X, y), sk.silhouette_samples(X, y), rtol=RTOL, atol=1e-12)
    assert metrics.silhouette_samples(X, y)[5] == 0.0


def test_silhouette_far_from_the_origin_stays_accurate():
    # A common offset of 1e6: the kernel centres the data, so no digits are lost.
    X, y = blobs(n=300, d=3)
    exact = sk.silhouette_samples(X, y)
    np.testing.assert_allclose(metrics.silhouette_samples(X + 1e6, y), exact, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_silhouette_of_adversarial_rows_equals_sklearn(dtype):
    # Exact and near duplicates (1e-7 apart), a common offset of 1e4, uneven clusters: the fused
    # kernel's rows (16 features) and its masked panels, against scikit-learn on the same values.
    rng = np.random.default_rng(7)
    X, y = blobs(n=1501, d=16, centers=5, seed=5)
    X[-200:] = X[:200] + rng.choice([0.0, 1e-7], size=(200, 1))
    X = (X + 1e4).astype(dtype)
    exact = X.astype(np.float64)
    ours = metrics.silhouette_samples(X, y)
    np.testing.assert_allclose(ours, sk.silhouette_samples(exact, y), rtol=RTOL, atol=1e-9)
    assert metrics.silhouette_score(X, y) == pytest.approx(sk.silhouette_score(exact, y), rel=RTOL)


def test_silhouette_does_not_depend_on_the_thread_count():
    X, y = blobs(n=1000)
    one = metrics.silhouette_samples(X, y, n_threads=1)
    two = metrics.silhouette_samples(X, y, n_threads=2)
    assert np.array_equal(one, two)


@given(n=st.integers(3, 60), d=st.integers(1, 6), k=st.integers(2, 5), seed=st.integers(0, 2**31))
def test_silhouette_equals_sklearn_on_random_inputs(n, d, k, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.1, 100)
    y = rng.integers(0, min(k, n - 1), size=n)
    if not 1 < len(np.unique(y)) < n:
        return
    np.testing.assert_allclose(metrics.silhouette_samples(X, y), sk.silhouette_samples(X, y), rtol=RTOL, atol=1e-9)


@pytest.mark.parametrize("std, d", [(0.5, 16), (2.0, 16), (6.0, 16), (2.0, 80)])
def test_pruned_silhouette_equals_sklearn(std, d):
    # Far apart to overlapping blobs; 16 features take the fused kernel, 80 the GEMM tiles. The
    # pruning skips clusters (fewer distances than pairs) and the values stay scikit-learn's.
    X, y = make_blobs(n_samples=3000, n_features=d, centers=8, cluster_std=std, random_state=4)
    computed, pairs = metrics._silhouette_pairs(X, y)
    assert pairs == 3000 * 2999 // 2
    assert computed < 0.7 * pairs
    ours = metrics.silhouette_samples(X, y)
    np.testing.assert_allclose(ours, sk.silhouette_samples(X, y), rtol=RTOL, atol=1e-9)
    assert np.array_equal(ours, metrics.silhouette_samples(X, y, n_threads=1))


def test_silhouette_with_random_labels_computes_every_pair():
    # Nothing to prune: every cluster may be the nearest one for some row of every other.
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(1200, 6)), rng.integers(0, 5, size=1200)
    computed, pairs = metrics._silhouette_pairs(X, y)
    assert computed == pairs
    np.testing.assert_allclose(metrics.silhouette_samples(X, y), sk.silhouette_samples(X, y), rtol=RTOL, atol=1e-9)


@given(n=st.integers(20, 400), d=st.integers(1, 20), k=st.integers(2, 12), std=st.floats(0.01, 10.0),
       seed=st.integers(0, 2**31))
def test_pruned_silhouette_equals_sklearn_on_random_blobs(n, d, k, std, seed):
    X, y = make_blobs(n_samples=n, n_features=d, centers=k, cluster_std=std, random_state=seed)
    if not 1 < len(np.unique(y)) < n:
        return
    np.testing.assert_allclose(metrics.silhouette_samples(X, y), sk.silhouette_samples(X, y), rtol=RTOL, atol=1e-9)


def test_sampled_silhouette_is_within_its_error_bar():
    X, y = blobs(n=3000, d=4, centers=6, seed=3)
    exact = metrics.silhouette_score(X, y)
    estimate = metrics.silhouette_estimate(X, y, 400, random_state=0)
    assert estimate.sample_size == 400 and estimate.n_samples == 3000
    assert 0 < estimate.standard_error < 0.05
    low, high = estimate.interval
    assert low - estimate.standard_error <= exact <= high + estimate.standard_error
    assert metrics.silhouette_score(X, y, sample_size=400, random_state=0) == estimate.score
    # The sampled rows' values are their exact silhouettes: the mean over a sample of all rows is exact.
    whole = metrics.silhouette_estimate(X, y, 5000, random_state=0)
    assert whole.standard_error == 0.0 and whole.score == pytest.approx(exact, rel=1e-12)


def test_sampled_silhouette_error_bar_covers_the_truth_most_of_the_time():
    X, y = blobs(n=1500, d=3, centers=5, seed=4)
    exact = metrics.silhouette_score(X, y)
    inside = sum(low <= exact <= high for low, high in
                 (metrics.silhouette_estimate(X, y, 100, random_state=seed).interval for seed in range(40)))
    assert inside >= 32  # 95% nominal coverage; 32 of 40 fails only with probability < 1e-3


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_calinski_harabasz_and_davies_bouldin_equal_sklearn(dtype):
    X, y = blobs(n=2000, d=7, centers=5, dtype=dtype)
    assert metrics.calinski_harabasz_score(X, y) == pytest.approx(sk.calinski_harabasz_score(X, y), rel=RTOL)
    assert metrics.davies_bouldin_score(X, y) == pytest.approx(sk.davies_bouldin_score(X, y), rel=RTOL)


def test_degenerate_clusterings_score_as_in_sklearn():
    X = np.array([[1.0, 1.0], [1.0, 1.0], [2.0, 2.0], [2.0, 2.0]])
    y = [0, 0, 1, 1]
    assert metrics.calinski_harabasz_score(X, y) == sk.calinski_harabasz_score(X, y) == 1.0
    same = np.ones((4, 2))
    assert metrics.davies_bouldin_score(same, y) == sk.davies_bouldin_score(same, y) == 0.0


def test_ssd_and_msd_are_sagemakers_losses():
    X, _ = blobs(n=500)
    centers = X[:4]
    dist2 = ((X[:, None, :] - centers[None]) ** 2).sum(-1).min(1)
    assert metrics.ssd(X, centers) == pytest.approx(dist2.sum(), rel=1e-12)
    assert metrics.msd(X, centers) == pytest.approx(dist2.mean(), rel=1e-12)
    w = np.linspace(0, 2, 500)
    assert metrics.ssd(X, centers, w) == pytest.approx((w * dist2).sum(), rel=1e-12)
    assert metrics.msd(X, centers, w) == pytest.approx((w * dist2).sum() / w.sum(), rel=1e-12)
    assert metrics.ssd(scipy.sparse.csr_matrix(X), centers) == pytest.approx(dist2.sum(), rel=1e-9)


def test_bad_inputs_name_the_problem():
    X, y = blobs(n=50)
    with pytest.raises(ValueError, match="Number of labels is 1"):
        metrics.silhouette_score(X, np.zeros(50))
    with pytest.raises(ValueError, match="one label per row"):
        metrics.silhouette_score(X, y[:10])
    with pytest.raises(ValueError, match="NaN"):
        metrics.calinski_harabasz_score(np.full((4, 2), np.nan), [0, 0, 1, 1])
    with pytest.raises(TypeError, match="dense X"):
        metrics.davies_bouldin_score(scipy.sparse.csr_matrix(X), y)
    with pytest.raises(ValueError, match="sample_size"):
        metrics.silhouette_estimate(X, y, 1)
    with pytest.raises(ValueError, match="features"):
        metrics.ssd(X, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="sample_weight"):
        metrics.ssd(X, X[:2], np.ones(3))
