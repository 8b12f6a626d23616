"""Seeding: init_method="kmeans||" (k-means‖) wherever init methods are accepted, and the user's
own initial centres (``initial_centers``)."""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest

from fastkmeans import KMeans, _core, load
from fastkmeans._hyperparameters import HyperparameterError

sklearn_base = pytest.importorskip("sklearn.base")


def blobs(n: int, d: int, k: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    means = rng.uniform(-10, 10, size=(k, d))
    return (means[rng.integers(0, k, n)] + rng.normal(0, 0.5, (n, d))).astype(np.float32)


X = blobs(6000, 4, 12, 0)


# k-means|| -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("params", [
    {"algorithm": "lloyd", "local_lloyd_init_method": "kmeans||"},
    {"init_method": "kmeans||"},
    {"local_lloyd_init_method": "kmeans||"},
])
def test_kmeans_parallel_is_deterministic_on_any_thread_count(params):
    one = KMeans(k=12, random_state=3, n_threads=1, mini_batch_size=1000, **params).fit(X)
    two = KMeans(k=12, random_state=3, n_threads=2, mini_batch_size=1000, **params).fit(X)
    np.testing.assert_array_equal(one.cluster_centers_, two.cluster_centers_)
    other = KMeans(k=12, random_state=4, n_threads=2, mini_batch_size=1000, **params).fit(X)
    assert not np.array_equal(one.cluster_centers_, other.cluster_centers_)


def test_kmeans_parallel_seeds_lloyd_as_well_as_kmeans_pp_on_blobs():
    def loss(init: str) -> float:
        return float(np.mean([KMeans(k=12, algorithm="lloyd", local_lloyd_init_method=init,
                                     random_state=s).fit(X).inertia_ for s in range(5)]))
    assert loss("kmeans||") <= 1.05 * loss("kmeans++")
    assert loss("kmeans||") < loss("random")


def test_kmeans_parallel_seeds_sparse_rows_without_densifying_them():
    sparse = pytest.importorskip("scipy.sparse")
    Xs = X.copy()
    Xs[np.abs(Xs) < 2.0] = 0.0
    dense = KMeans(k=12, algorithm="lloyd", local_lloyd_init_method="kmeans||", random_state=0).fit(Xs)
    csr = KMeans(k=12, algorithm="lloyd", local_lloyd_init_method="kmeans||", random_state=0).fit(sparse.csr_matrix(Xs))
    assert np.isfinite(csr.cluster_centers_).all()
    assert csr.inertia_ == pytest.approx(dense.inertia_, rel=0.05)


def test_kmeans_parallel_is_a_sagemaker_string():
    model = KMeans.from_hyperparameters({"k": "3", "feature_dim": "4", "init_method": "kmeans||",
                                         "local_lloyd_init_method": "kmeans||"})
    assert model.init_method == "kmeans||" and model.get_hyperparameters()["local_lloyd_init_method"] == "kmeans||"
    expected = 'Expecting: "auto" or "random" or "kmeans\\+\\+" or "kmeans\\|\\|" or "coreset"'
    with pytest.raises(HyperparameterError, match=expected):
        KMeans(k=3, local_lloyd_init_method="kmeans+++").fit(X)


def test_the_core_refuses_unknown_seeding_names():
    with pytest.raises(ValueError, match="'random', 'kmeans\\+\\+', 'kmeans\\|\\|' or 'coreset'"):
        _core.fit_lloyd(X, k=3, init_method="kmeans|||", num_trials=1, max_iter=5, tol=0.0, seed=0)


# initial_centers -----------------------------------------------------------------------------------

def test_lloyd_starts_from_the_given_centres():
    start = X[:12].astype(np.float64)
    model = KMeans(k=12, algorithm="lloyd", initial_centers=start, random_state=0).fit(X)
    expected = _core.fit_lloyd(X, k=12, init_method="kmeans++", num_trials=1, max_iter=300, tol=1e-4, seed=0,
                               init_centers=start.astype(np.float32), stop_rule="shift")
    np.testing.assert_array_equal(model.cluster_centers_, expected["centers"])
    assert model.local_lloyd_num_trials_ == 1
    # From the centres it reached, Lloyd can only lower the loss further.
    again = KMeans(k=12, algorithm="lloyd", initial_centers=model.cluster_centers_, random_state=1).fit(X)
    assert again.inertia_ <= model.inertia_ * (1 + 1e-6)


def test_minibatch_streams_from_the_given_centres():
    good = KMeans(k=12, algorithm="lloyd", random_state=0).fit(X).cluster_centers_
    model = KMeans(k=12, initial_centers=good, random_state=0, mini_batch_size=500, epochs=2).fit(X)
    assert model.extra_center_factor_ == 1 and model.n_steps_ == 24
    # K = k: the reduction keeps the streaming centres, which stay near the good ones.
    np.testing.assert_allclose(np.sort(model.cluster_centers_, axis=0), np.sort(good, axis=0), atol=0.1)
    more = KMeans(k=4, initial_centers=X[:12], random_state=0).fit(X)
    assert more.extra_center_factor_ == 3 and more.cluster_centers_.shape == (4, 4)
    explicit = KMeans(k=4, extra_center_factor=3, initial_centers=X[:12], random_state=0).fit(X)
    np.testing.assert_array_equal(explicit.cluster_centers_, more.cluster_centers_)


def test_partial_fit_and_streamed_fit_seed_from_the_given_centres():
    start = X[:24]
    model = KMeans(k=12, initial_centers=start, random_state=0, mini_batch_size=1000)
    for chunk in np.array_split(X, 3):
        model.partial_fit(chunk)
    assert model.n_steps_ == 6 and model.extra_center_factor_ == 2
    streamed = KMeans(k=12, initial_centers=start, random_state=0, mini_batch_size=1000).fit(list(np.array_split(X, 3)))
    assert streamed.extra_center_factor_ == 2 and streamed.n_steps_ == 6
    assert streamed.cluster_centers_.shape == (12, 4)


@pytest.mark.parametrize(("initial", "params", "message"), [
    (np.zeros(4), {}, r"initial_centers must be a 2-D array of real numbers, not shape \(4,\)"),
    ([["a", "b", "c", "d"]] * 12, {}, "initial_centers must be a 2-D array of real numbers"),
    (np.zeros((12, 4), dtype=complex), {}, "initial_centers must be a 2-D array of real numbers"),
    (np.zeros((12, 3)), {}, "initial_centers has 3 features, but X has 4"),
    (np.where(np.arange(48).reshape(12, 4) == 21, np.nan, 0.0), {}, r"NaN or infinity \(row 5\)"),
    (np.full((12, 4), np.inf), {}, r"NaN or infinity \(row 0\)"),
    (np.zeros((11, 4)), {"algorithm": "lloyd"}, "initial_centers has 11 rows, but algorithm='lloyd' starts from k=12"),
    (np.zeros((24, 4)), {"algorithm": "lloyd"}, "has 24 rows"),
    (np.zeros((11, 4)), {}, "k=12 rows or a multiple of k"),
    (np.zeros((30, 4)), {}, "k=12 rows or a multiple of k"),
    (np.zeros((36, 4)), {"extra_center_factor": 2}, "k=12 rows or k \\* extra_center_factor = 24"),
])
def test_bad_initial_centres_are_refused_naming_them(initial, params, message):
    model = KMeans(k=12, initial_centers=initial, **params)
    with pytest.raises(ValueError, match=message):
        model.fit(X)
    assert not hasattr(model, "cluster_centers_")


def test_initial_centres_survive_get_params_clone_and_save():
    start = X[:12].copy()
    model = KMeans(k=12, algorithm="lloyd", initial_centers=start, random_state=0)
    assert model.get_params()["initial_centers"] is start
    copy = sklearn_base.clone(model)
    np.testing.assert_array_equal(copy.initial_centers, start)
    np.testing.assert_array_equal(copy.fit(X).cluster_centers_, model.fit(X).cluster_centers_)
    assert "initial_centers" not in model.get_hyperparameters()
    assert "initial_centers=array" in repr(model)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.fkm")
        model.save(path)
        loaded = load(path)
    assert loaded.initial_centers is None
    np.testing.assert_array_equal(loaded.cluster_centers_, model.cluster_centers_)


def test_initial_centres_are_refused_for_dask():
    da = pytest.importorskip("dask.array")
    with pytest.raises(ValueError, match="initial_centers is not supported for a Dask collection"):
        KMeans(k=12, initial_centers=X[:12]).fit(da.from_array(X, chunks=3000))
