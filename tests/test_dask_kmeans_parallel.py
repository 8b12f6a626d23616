"""k-means|| on Dask (``local_lloyd_init_method="kmeans||"`` with ``algorithm="lloyd"``), on a real LocalCluster.

The seeds must not depend on how the data is partitioned or scheduled, must find a small far group
that a uniform sample misses, and must be as good as the in-memory k-means||.
"""

import sys
from fractions import Fraction

import numpy as np
import pytest

dask = pytest.importorskip("dask", reason="the dask extra (dask[array,dataframe], distributed) is not installed")
distributed = pytest.importorskip("distributed", reason="the dask extra (distributed) is not installed")
cloudpickle = pytest.importorskip("cloudpickle")
import dask.array as da  # noqa: E402
from conftest import within  # noqa: E402

from fastkmeans import KMeans, _core  # noqa: E402
from fastkmeans.dask import _kmeans_parallel, _lloyd  # noqa: E402
from fastkmeans.dask._partitions import partition_rows, partitions  # noqa: E402

cloudpickle.register_pickle_by_value(sys.modules[__name__])

TIMEOUT = 120




def blobs(n=24_000, d=6, k=8, seed=0, spread=8.0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, spread, (k, d))
    return centers[rng.integers(0, k, n)] + rng.normal(size=(n, d))


def persisted(X, chunks):
    """The checked rows of ``da.from_array(X, chunks)``, persisted on the workers as the Lloyd fit holds them."""
    parts = partitions(da.from_array(X, chunks=chunks))
    return list(dask.persist(*[dask.delayed(partition_rows, pure=True)(block, i, parts.dtype)
                               for i, block in enumerate(parts.blocks)]))


def seeds(X, chunks, k, seed=0, **kwargs):
    """k-means||'s seeding of ``da.from_array(X, chunks)``."""
    return within(TIMEOUT, _kmeans_parallel.seed, persisted(X, chunks), k, seed, **kwargs)


def ssd(centers, X):
    return float(_core.assign(np.ascontiguousarray(X), np.ascontiguousarray(centers, dtype=X.dtype))[1].sum())


# The two pieces that make the seeds independent of the partitioning ----------------------------

def test_exact_sum_is_the_exact_sum_whatever_the_split():
    rng = np.random.default_rng(0)
    values = rng.exponential(1.0, 20_000) * 10.0 ** rng.integers(-300, 300, 20_000)
    values[:5] = 0.0
    values[5:10] = 5e-324 * rng.integers(1, 1000, 5)  # subnormals
    total = _kmeans_parallel.exact_sum(values)
    assert Fraction(total, 2**1127) == sum(Fraction(v) for v in values.tolist())
    cuts = np.sort(rng.integers(0, values.shape[0], 6))
    assert sum(_kmeans_parallel.exact_sum(part) for part in np.split(values, cuts)) == total
    # Floating-point sums depend on the split; this one does not, and rounds once, as fsum does.
    import math

    assert total / 2**1127 == math.fsum(values)


def test_any_stretch_of_the_uniform_stream_is_the_stream_s_own():
    whole = _kmeans_parallel.uniforms(12345, 0, 1000)
    assert whole.min() >= 0.0 and whole.max() < 1.0 and 0.45 < whole.mean() < 0.55
    for start in (1, 3, 4, 5, 17, 998):
        np.testing.assert_array_equal(_kmeans_parallel.uniforms(12345, start, 1000 - start), whole[start:])
    assert not np.array_equal(_kmeans_parallel.uniforms(12346, 0, 1000), whole)


# Determinism -------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_seeds_are_the_same_bits_on_any_partitioning_and_scheduler(client, dtype):
    X = blobs().astype(dtype)
    one = seeds(X, (24_000, 6), 8)
    three = seeds(X, ((5_000, 9_000, 10_000), 6), 8)
    np.testing.assert_array_equal(one.centers, three.centers)
    assert one.centers.dtype == dtype and one.centers.shape == (8, 6)
    assert (one.n_candidates, one.rounds) == (three.n_candidates, three.rounds)
    with dask.config.set(scheduler="synchronous"):  # no workers at all, five partitions, one of them empty
        local = seeds(X, ((0, 4_000, 4_000, 6_000, 10_000), 6), 8)
    np.testing.assert_array_equal(one.centers, local.centers)
    assert not np.array_equal(one.centers, seeds(X, (24_000, 6), 8, seed=1).centers), "another seed, other seeds"
    # Candidates, potentials and counts moved, not rows: a small fraction of the 24,000 x 6 values.
    assert three.bytes_moved < X.nbytes / 10


def test_a_lloyd_fit_from_them_differs_by_rounding_only_between_partitionings(client):
    X = blobs()
    fits = [within(TIMEOUT, KMeans(k=8, algorithm="lloyd", local_lloyd_init_method="kmeans||", random_state=0).fit,
                   da.from_array(X, chunks=chunks)) for chunks in (24_000, 7_000)]
    # The same seeds; each Lloyd iteration adds the partitions' sums, whose rounding follows the partitions.
    np.testing.assert_allclose(fits[0].cluster_centers_, fits[1].cluster_centers_, rtol=1e-10, atol=1e-10)
    assert fits[0].n_iter_ == fits[1].n_iter_


def test_few_distinct_rows_still_give_k_centres_the_same_on_any_partitioning(client):
    X = np.repeat(np.array([[0.0, 0.0], [1.0, 1.0], [5.0, 5.0]]), [400, 300, 300], axis=0)
    X = X[np.random.default_rng(0).permutation(X.shape[0])]
    one = seeds(X, (1000, 2), 5)
    four = seeds(X, (250, 2), 5)
    np.testing.assert_array_equal(one.centers, four.centers)
    assert one.centers.shape == (5, 2) and np.isfinite(one.centers).all()
    # Every distinct row is a centre; the two more are rows too (duplicates: there are no others).
    assert {tuple(c) for c in one.centers} == {(0.0, 0.0), (1.0, 1.0), (5.0, 5.0)}


def test_rounds_that_leave_fewer_than_k_candidates_are_followed_by_more(client):
    # Five far rows hold nearly all of ψ: one round of ℓ = k takes them (probability 1) and few others.
    X = np.vstack([np.random.default_rng(6).normal(size=(3000, 3)), np.full((5, 3), 1000.0)])
    few = seeds(X, (3005, 3), 20, oversampling=1, rounds=1)
    assert few.rounds > 1 and few.n_candidates >= 20
    assert np.unique(few.centers, axis=0).shape[0] == 20
    np.testing.assert_array_equal(few.centers, seeds(X, ((1000, 1000, 1005), 3), 20, oversampling=1, rounds=1).centers)


def test_sparse_partitions_seed_the_same_on_any_partitioning(client):
    sparse = pytest.importorskip("scipy.sparse")
    X = sparse.random(3000, 40, density=0.1, random_state=0, format="csr")

    def sparse_seeds(step):
        parts = [dask.delayed(partition_rows, pure=True)(X[i:i + step], i // step, np.dtype(np.float64))
                 for i in range(0, 3000, step)]
        return within(TIMEOUT, _kmeans_parallel.seed, list(dask.persist(*parts)), 6, 0)

    one, three = sparse_seeds(3000), sparse_seeds(1000)
    np.testing.assert_array_equal(one.centers, three.centers)
    assert one.centers.shape == (6, 40) and isinstance(one.centers, np.ndarray)


# Quality -----------------------------------------------------------------------------------------

def test_it_finds_a_small_far_group_that_the_sample_seeding_misses(client):
    rng = np.random.default_rng(3)
    means = rng.normal(0, 8, (8, 4))
    labels = np.append(rng.integers(0, 8, 24_000), np.full(12, 8))  # 12 rows (0.05%) far away, at the end
    X = np.vstack([means, np.full((1, 4), 200.0)])[labels] + rng.normal(size=(24_012, 4))
    far = X[-12:].mean(0)
    truth = np.vstack([X[labels == c].mean(0) for c in range(9)])  # the generating groups' means
    rows = persisted(X, (6_003, 4))

    def distance_to_far(centers):
        return np.sqrt(((centers - far) ** 2).sum(1)).min()

    for seed in range(3):
        params = dict(k=9, algorithm="lloyd", mini_batch_size=1000, random_state=seed)
        hp = KMeans(local_lloyd_init_method="kmeans||", **params)._checked()
        assert distance_to_far(within(TIMEOUT, _lloyd.seed_centers, rows, hp, seed, 1)) < 5.0
        # The sample of the first partition never sees the group: no seed lies near it.
        hp = KMeans(**params)._checked()
        assert distance_to_far(within(TIMEOUT, _lloyd.seed_centers, rows, hp, seed, 1)) > 150.0
        fit = within(TIMEOUT, KMeans(local_lloyd_init_method="kmeans||", **params).fit, da.from_array(X, chunks=6_003))
        assert distance_to_far(fit.cluster_centers_) < 1.0 and fit.cluster_sizes_.min() == 12
        assert fit.inertia_ <= 1.0001 * ssd(truth, X), "as good as knowing the answer"


def test_its_quality_matches_the_in_memory_kmeans_parallel(client):
    # Overlapping blobs (no obvious answer): seeds matter and losses differ between seeds.
    X = blobs(n=30_000, d=8, k=40, seed=4, spread=3.0)
    dX = da.from_array(X, chunks=7_500)
    dask_loss, memory_loss = [], []
    for seed in range(3):
        params = dict(k=20, algorithm="lloyd", local_lloyd_init_method="kmeans||", random_state=seed)
        dask_loss.append(within(TIMEOUT, KMeans(**params).fit, dX).inertia_)
        memory_loss.append(KMeans(**params).fit(X).inertia_)
    assert np.mean(dask_loss) <= 1.02 * np.mean(memory_loss), (dask_loss, memory_loss)
    # And the seeds alone are k-means||'s: far better than k rows drawn uniformly.
    seeded = seeds(X, (7_500, 8), 20)
    uniform = X[np.random.default_rng(0).choice(X.shape[0], 20, replace=False)]
    assert ssd(seeded.centers, X) < 0.8 * ssd(uniform, X)


def test_the_estimator_uses_it_only_when_asked(client, monkeypatch):
    calls = []
    original = _kmeans_parallel.seed
    monkeypatch.setattr(_kmeans_parallel, "seed", lambda *a, **kw: calls.append(kw) or original(*a, **kw))
    dX = da.from_array(blobs(n=4000), chunks=1000)
    within(TIMEOUT, KMeans(k=8, algorithm="lloyd", random_state=0).fit, dX)
    assert calls == []
    model = within(TIMEOUT, KMeans(k=8, algorithm="lloyd", local_lloyd_init_method="kmeans||", random_state=0,
                                   local_lloyd_num_trials=3).fit, dX)
    assert calls and calls[0]["trials"] == 3
    assert model.local_lloyd_num_trials_ == 3
    within(TIMEOUT, KMeans(k=8, algorithm="lloyd", local_lloyd_init_method="kmeans||", random_state=0).fit, dX)
    assert calls[1]["trials"] == 10, "auto: ten reductions on the client for k <= 100"


# Bad input ---------------------------------------------------------------------------------------

def test_too_few_rows_and_bad_settings_are_refused_by_name(client):
    with pytest.raises(ValueError, match=r"n_samples=20 should be >= k=30"):
        within(TIMEOUT, KMeans(k=30, algorithm="lloyd", local_lloyd_init_method="kmeans||").fit,
               da.from_array(blobs(n=20), chunks=7))
    X = blobs(n=100)
    for name in ("rounds", "oversampling", "trials"):
        with pytest.raises(ValueError, match=rf"{name} must be an integer >= 1, got 0"):
            seeds(X, (50, 6), 4, **{name: 0})
    with pytest.raises(ValueError, match="local_lloyd_init_method"):
        KMeans(k=2, algorithm="lloyd", local_lloyd_init_method="kmeans|").fit(da.from_array(X, chunks=50))


def test_reduce_candidates_checks_its_weights():
    candidates = np.arange(8.0).reshape(4, 2)
    with pytest.raises(ValueError, match="3 weights for 4 rows"):
        _core.reduce_candidates(candidates, np.ones(3), k=2, seed=0)
    with pytest.raises(ValueError, match="weight -1"):
        _core.reduce_candidates(candidates, np.array([1.0, -1.0, 1.0, 1.0]), k=2, seed=0)
    with pytest.raises(ValueError, match="k must be at least 1"):
        _core.reduce_candidates(candidates, np.ones(4), k=0, seed=0)
    # A candidate standing for a million rows holds its centre; with k >= m the candidates come back.
    line = np.array([[0.0], [1.0], [2.0], [10.0]])
    centers = np.sort(_core.reduce_candidates(line, np.array([1e6, 1, 1, 1]), k=2, seed=0)[:, 0])
    assert abs(centers[0]) < 1e-4 and centers[1] == 10.0
    np.testing.assert_array_equal(_core.reduce_candidates(line, np.ones(4), k=4, seed=0), line)

