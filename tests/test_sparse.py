"""Sparse data: scipy.sparse in memory and sparse RecordIO on disk, computed sparse x dense."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from fastkmeans import KMeans, _core
from fastkmeans.io import ShuffleBuffer, write_recordio
from fastkmeans.io._batch import Batch


def documents(n: int = 3000, d: int = 500, topics: int = 6, seed: int = 0, dtype=np.float32) -> sp.csr_matrix:
    """Word-count-like rows: each row draws a dozen words from its topic's block of columns."""
    rng = np.random.default_rng(seed)
    topic = rng.integers(0, topics, n)
    width = d // topics
    rows = np.repeat(np.arange(n), 12)
    cols = (np.repeat(topic, 12) * width + rng.integers(0, width, n * 12)).astype(np.int64)
    values = rng.integers(1, 4, n * 12).astype(dtype)
    X = sp.csr_matrix((values, (rows, cols)), shape=(n, d), dtype=dtype)
    X.sum_duplicates()
    return X


@pytest.fixture(scope="module")
def docs() -> sp.csr_matrix:
    return documents()


@pytest.mark.parametrize("algorithm", ["minibatch", "lloyd"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_and_dense_give_the_same_model_and_predictions(algorithm, dtype):
    X = documents(dtype=dtype)
    dense = X.toarray()
    params = dict(k=6, algorithm=algorithm, mini_batch_size=500, epochs=2, init_method="kmeans++", random_state=3)
    a, b = KMeans(**params).fit(X), KMeans(**params).fit(dense)
    assert a.cluster_centers_.dtype == dtype
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a.inertia_, b.inertia_, rtol=1e-6)
    new = documents(n=400, seed=9, dtype=dtype)
    np.testing.assert_array_equal(a.predict(new), b.predict(new.toarray()))
    (la, da), (lb, db) = a.assign(new), b.assign(new.toarray())
    np.testing.assert_array_equal(la, lb)
    np.testing.assert_allclose(da, db, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(a.transform(new), b.transform(new.toarray()), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(a.score(new), b.score(new.toarray()), rtol=1e-6)
    # The model recovers the topics: one cluster per topic.
    assert len(np.unique(a.labels_)) == 6


def test_partial_fit_on_sparse_chunks_equals_dense_chunks(docs):
    a, b = KMeans(k=6, mini_batch_size=300, random_state=1), KMeans(k=6, mini_batch_size=300, random_state=1)
    dense = docs.toarray()
    for start in range(0, docs.shape[0], 1000):
        a.partial_fit(docs[start:start + 1000])
        b.partial_fit(dense[start:start + 1000])
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=1e-5, atol=1e-6)
    assert a.n_steps_ == b.n_steps_ == 12


def test_the_core_gets_the_csr_arrays_not_a_dense_copy(docs, monkeypatch):
    seen = []
    real = _core.fit_minibatch

    def spy(x, **kwargs):
        seen.append(x)
        return real(x, **kwargs)

    monkeypatch.setattr(_core, "fit_minibatch", spy)
    KMeans(k=6, random_state=0).fit(docs)
    data, indices, indptr, n_features = seen[0]
    assert np.shares_memory(data, docs.data)  # borrowed: the values are not even copied
    assert (indices.dtype, indptr.dtype, n_features) == (np.int32, np.int64, docs.shape[1])


@pytest.mark.parametrize("fmt", ["csc", "coo", "lil", "dok", "bsr"])
def test_every_scipy_format_and_sparse_arrays_are_accepted(docs, fmt):
    reference = KMeans(k=6, random_state=0).fit(docs)
    for X in (docs.asformat(fmt), sp.csr_array(docs)):
        model = KMeans(k=6, random_state=0).fit(X)
        np.testing.assert_array_equal(model.labels_, reference.labels_)
        np.testing.assert_array_equal(model.cluster_centers_, reference.cluster_centers_)


def test_duplicate_entries_are_summed_without_touching_the_callers_matrix():
    cols = np.array([1, 1, 0, 2, 2, 2])
    values = np.array([1.0, 2.0, 5.0, 1.0, 1.0, 4.0])
    X = sp.csr_matrix((values, cols, np.array([0, 2, 3, 5, 6])), shape=(4, 3))  # duplicates kept as given
    assert not X.has_canonical_format
    before = X.data.copy()
    model = KMeans(k=4, algorithm="lloyd", random_state=0).fit(X)
    np.testing.assert_array_equal(X.data, before)
    assert model.inertia_ == 0.0
    expected = np.array([[0, 3, 0], [5, 0, 0], [0, 0, 2], [0, 0, 4]], dtype=float)
    np.testing.assert_array_equal(np.sort(model.cluster_centers_, axis=0), np.sort(expected, axis=0))


def test_integer_sparse_data_becomes_float64(docs):
    model = KMeans(k=6, random_state=0).fit(docs.astype(np.int64))
    assert model.cluster_centers_.dtype == np.float64
    np.testing.assert_array_equal(model.labels_, KMeans(k=6, random_state=0).fit(docs.astype(np.float64)).labels_)


def test_bad_sparse_input_is_named(docs):
    bad = docs.copy()
    bad.data[bad.indptr[17]] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity.*row 17"):
        KMeans(k=2).fit(bad)
    with pytest.raises(ValueError, match="0 sample"):
        KMeans(k=2).fit(sp.csr_matrix((0, 5)))
    with pytest.raises(ValueError, match="n_samples=3 should be >= k=4"):
        KMeans(k=4).fit(docs[:3])
    model = KMeans(k=6, random_state=0).fit(docs)
    with pytest.raises(ValueError, match="X has 499 features, but KMeans is expecting 500"):
        model.predict(docs[:, :499])
    with pytest.raises(ValueError, match="feature_dim=400"):
        KMeans(k=2, feature_dim=400).fit(docs)
    with pytest.raises(ValueError, match="Complex"):
        KMeans(k=2).fit(sp.csr_matrix(np.eye(3, dtype=complex)))


def test_the_core_checks_csr_arrays_it_is_given():
    data, indices = np.ones(2, np.float32), np.array([0, 7], np.int32)
    with pytest.raises(ValueError, match="column index 7 of row 1 is outside 0..3"):
        _core.first_non_finite_row((data, indices, np.array([0, 1, 2], np.int64), 3))
    with pytest.raises(ValueError, match="indptr decreases at row 1"):
        _core.first_non_finite_row((data, np.array([0, 1], np.int32), np.array([0, 2, 1], np.int64), 3))
    with pytest.raises(TypeError, match="int64"):
        _core.first_non_finite_row((data, np.array([0, 1], np.int32), np.array([0, 1, 2], np.int32), 3))


def test_sparse_recordio_on_disk_trains_like_the_same_numbers_dense(tmp_path, docs):
    (tmp_path / "sparse").mkdir()
    (tmp_path / "dense").mkdir()
    for i, part in enumerate((docs[:1200], docs[1200:])):
        write_recordio(part, tmp_path / "sparse" / f"part-{i}.pbr")
        write_recordio(part.toarray(), tmp_path / "dense" / f"part-{i}.pbr")
    params = dict(k=6, mini_batch_size=400, epochs=2, random_state=5)
    a = KMeans(**params).fit(tmp_path / "sparse", test=tmp_path / "sparse")
    b = KMeans(**params).fit(tmp_path / "dense", test=tmp_path / "dense")
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a.test_metrics_["msd"], b.test_metrics_["msd"], rtol=1e-6)
    np.testing.assert_array_equal(a.predict(tmp_path / "sparse"), b.predict(docs.toarray()))
    np.testing.assert_array_equal(a.predict(tmp_path / "sparse"), a.predict(docs))


def test_a_streamed_sparse_fit_hands_the_core_sparse_batches(tmp_path, docs, monkeypatch):
    write_recordio(docs, tmp_path / "docs.pbr")
    kinds = set()
    real = _core.minibatch_update

    def spy(batch, **kwargs):
        kinds.add(type(batch).__name__)
        return real(batch, **kwargs)

    monkeypatch.setattr(_core, "minibatch_update", spy)
    KMeans(k=6, mini_batch_size=300, random_state=0).fit(tmp_path / "docs.pbr")
    assert kinds == {"tuple"}  # (data, indices, indptr, n_features): never densified


@pytest.mark.parametrize(("batch_rows", "capacity"), [(250, 1000), (7, 50), (300, 300)])
def test_the_sparse_shuffle_buffer_draws_the_rows_the_dense_one_draws(docs, batch_rows, capacity):
    def batches(X, cut):
        return (Batch(X[i:i + cut], "x", i) for i in range(0, X.shape[0], cut))

    def run(X, cut):
        buffer = ShuffleBuffer(batches(X, cut), batch_rows=batch_rows, capacity=capacity,
                               rng=np.random.default_rng(4))
        return list(buffer)

    # The sparse pool stores rows in append-only arrays and compacts them every few refills.
    sparse, dense = run(docs, 700), run(docs.toarray(), 300)
    assert len(sparse) == len(dense) == -(-docs.shape[0] // batch_rows)
    for s, d in zip(sparse, dense):
        assert sp.issparse(s)
        np.testing.assert_array_equal(s.toarray(), d)
    # Every row exactly once per pass.
    together = np.concatenate([s.toarray() for s in sparse])
    assert sorted(map(bytes, together)) == sorted(map(bytes, docs.toarray()))


def test_centres_too_large_for_memory_are_refused_with_the_numbers():
    # 16 non-zeros, but 8 dense centres of 2**31 - 1 features would need ~170 GB per float64 copy.
    X = sp.csr_matrix((np.ones(16), (np.arange(16), np.arange(16))), shape=(16, 2**31 - 1))
    for algorithm, what in (("lloyd", "k = 8 centres"), ("minibatch", "k \\* extra_center_factor = 16 centres")):
        with pytest.raises(ValueError, match=f"{what} of 2147483647 features need about .* GB"):
            KMeans(k=8, algorithm=algorithm).fit(X)
    with pytest.raises(ValueError, match="GB"):
        KMeans(k=8).partial_fit(X)
    with pytest.raises(ValueError, match="GB"):
        KMeans(k=8).fit([X])  # streamed


def test_more_features_than_int32_indices_name_are_refused_not_wrapped():
    X = sp.csr_matrix((np.ones(3), (np.arange(3), np.array([0, 2**32 + 1, 5]))), shape=(3, 2**32 + 5))
    with pytest.raises(ValueError, match="at most 2147483647"):
        KMeans(k=1).fit(X)
    with pytest.raises(ValueError, match="at most 2147483647"):
        KMeans(k=1).fit([X])
    with pytest.raises(ValueError, match="int32 column indices name at most 2147483647"):
        _core.first_non_finite_row((np.ones(1), np.zeros(1, np.int32), np.array([0, 1], np.int64), 2**62))


def test_the_core_checks_weights_on_every_lloyd_path():
    X = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(ValueError, match="5 weights for 20 rows"):
        _core.fit_lloyd(X, k=2, init_method="random", num_trials=1, max_iter=5, tol=0.0, seed=0,
                        weights=np.ones(5), init_centers=X[:2].copy())
