"""fastkmeans on Dask, against a real distributed.LocalCluster: two worker processes on loopback.

The cluster is started once for the module. Every fit that could hang runs under a timeout, so a
failure shows as an error, not a stuck test run.
"""

import os
import pathlib
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

dask = pytest.importorskip("dask", reason="the dask extra (dask[array,dataframe], distributed) is not installed")
distributed = pytest.importorskip("distributed", reason="the dask extra (distributed) is not installed")
cloudpickle = pytest.importorskip("cloudpickle")
import dask.array as da  # noqa: E402
import dask.dataframe as dd  # noqa: E402
import pandas as pd  # noqa: E402
from conftest import within  # noqa: E402

import fastkmeans  # noqa: E402
from fastkmeans import KMeans  # noqa: E402
from fastkmeans.dask import _lloyd, read  # noqa: E402
from fastkmeans.io import DataError, write_recordio  # noqa: E402

# The workers cannot import this test module: functions defined here travel by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

TIMEOUT = 120
DATA = pathlib.Path(__file__).resolve().parents[1] / ".." / "shared" / "data"




def blobs(n=24_000, d=6, k=8, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 8, (k, d))
    return (centers[rng.integers(0, k, n)] + rng.normal(size=(n, d))).astype(dtype)


def ssd(model, X):
    return -model.score(X)


# Results ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("algorithm", ["minibatch", "lloyd"])
def test_a_dask_fit_is_within_one_percent_of_a_single_machine_fit(client, algorithm):
    X = blobs()
    params = dict(k=8, mini_batch_size=1000, algorithm=algorithm, random_state=0)
    single = KMeans(**params).fit(X)
    distributed_fit = within(TIMEOUT, KMeans(**params).fit, da.from_array(X, chunks=6000))
    assert distributed_fit.cluster_centers_.shape == (8, 6)
    assert ssd(distributed_fit, X) <= 1.01 * ssd(single, X)


@pytest.mark.skipif(not (DATA / "sipu" / "s1.txt").exists(), reason="../shared/data (UEF s1) is not here")
@pytest.mark.parametrize("algorithm", ["minibatch", "lloyd"])
def test_on_real_data_the_loss_is_within_one_percent_of_a_single_machine_fit(client, algorithm):
    X = np.loadtxt(DATA / "sipu" / "s1.txt")
    X = X[np.random.default_rng(0).permutation(X.shape[0])]
    params = dict(k=15, mini_batch_size=500, epochs=3, algorithm=algorithm, random_state=1)
    single = KMeans(**params).fit(X)
    distributed_fit = within(TIMEOUT, KMeans(**params).fit, da.from_array(X, chunks=1250))
    assert ssd(distributed_fit, X) <= 1.01 * ssd(single, X)


def test_the_fit_is_reproducible_and_depends_on_the_seed(client):
    X = da.from_array(blobs(), chunks=5000)
    first = within(TIMEOUT, KMeans(k=8, mini_batch_size=500, epochs=2, random_state=3).fit, X)
    again = within(TIMEOUT, KMeans(k=8, mini_batch_size=500, epochs=2, random_state=3).fit, X)
    other = within(TIMEOUT, KMeans(k=8, mini_batch_size=500, epochs=2, random_state=4).fit, X)
    np.testing.assert_array_equal(first.cluster_centers_, again.cluster_centers_)
    np.testing.assert_array_equal(first._state["centers"], again._state["centers"])
    assert not np.array_equal(first._state["centers"], other._state["centers"])


def test_epochs_synchronise_and_only_centres_move(client):
    X = da.from_array(blobs(n=40_000), chunks=10_000)
    model = within(TIMEOUT, KMeans(k=8, mini_batch_size=1000, epochs=3, random_state=0).fit, X)
    assert len(model.sync_bytes_) == 3
    K, d = model._state["centers"].shape
    assert (model.extra_center_factor_, K, d) == (10, 80, 6)
    # Four partitions, each returning K centres + counts and at most K far points; the state goes back
    # to each: a few times partitions * K * d values, far below the 40,000 * 6 * 8 bytes of the data.
    assert max(model.sync_bytes_) < 4 * 4 * (2 * K * d + 3 * K) * 8 + 10_000
    assert model._state["points_seen"] == 3 * 40_000
    assert model.n_steps_ == 3 * 4 * 10
    np.testing.assert_allclose(model._state["counts"].sum(), 3 * 40_000)


def test_distributed_lloyd_iterates_as_the_core_does_empty_clusters_included(client, monkeypatch):
    X = blobs(n=3000, d=3, k=4, seed=5)
    # One centre far from every row: it is empty after the first assignment.
    init = np.vstack([X[:3], np.full((1, 3), 1e4)])
    monkeypatch.setattr(_lloyd, "seed_centers", lambda rows, hp, seed, trials: init.copy())
    model = within(TIMEOUT, KMeans(k=4, algorithm="lloyd", local_lloyd_tol=0.0, local_lloyd_max_iter=50).fit,
                   da.from_array(X, chunks=700))
    core = fastkmeans._core.fit_lloyd(X, k=4, init_method="random", num_trials=1, max_iter=50, tol=0.0, seed=0,
                                      init_centers=init.copy())
    np.testing.assert_allclose(model.cluster_centers_, core["centers"], rtol=1e-9, atol=1e-9)
    assert model.n_iter_ == core["n_iter"]
    assert model.inertia_ == pytest.approx(core["inertia"], rel=1e-9)
    np.testing.assert_array_equal(model.cluster_sizes_, np.bincount(core["labels"], minlength=4))


def test_partial_fit_continues_and_the_model_saves(client, tmp_path):
    X = blobs(n=20_000)
    model = within(TIMEOUT, KMeans(k=8, mini_batch_size=1000, random_state=0).partial_fit,
                   da.from_array(X[:10_000], chunks=5000))
    within(TIMEOUT, model.partial_fit, da.from_array(X[10_000:], chunks=5000))
    assert model._state["points_seen"] == 20_000
    assert model.n_steps_ == 20
    # A state trained on Dask continues in memory and back.
    model.partial_fit(X[:1000])
    model.save(tmp_path / "model.fkm")
    loaded = fastkmeans.load(tmp_path / "model.fkm")
    np.testing.assert_array_equal(loaded.cluster_centers_, model.cluster_centers_)
    assert ssd(loaded, X) <= 1.01 * ssd(KMeans(k=8, random_state=0).fit(X), X)


# Inference --------------------------------------------------------------------------------------

def test_predict_transform_assign_and_score_run_on_the_workers(client):
    X = blobs(n=10_000)
    model = KMeans(k=8, random_state=0).fit(X)
    dX = da.from_array(X, chunks=3000)
    labels = model.predict(dX)
    assert isinstance(labels, da.Array) and labels.dtype == np.int32
    np.testing.assert_array_equal(labels.compute(), model.predict(X))
    closest, distance = model.assign(dX)
    np.testing.assert_array_equal(closest.compute(), model.assign(X)[0])
    np.testing.assert_allclose(distance.compute(), model.assign(X)[1])
    distances = model.transform(dX)
    assert isinstance(distances, da.Array) and distances.shape == (10_000, 8)
    np.testing.assert_allclose(distances.compute(), model.transform(X))
    assert model.score(dX) == pytest.approx(model.score(X), rel=1e-12)
    assert model.evaluate(dX) == pytest.approx(model.evaluate(X), rel=1e-12)


def test_dataframes_keep_their_column_names(client):
    X = blobs(n=8000, d=3)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    ddf = dd.from_pandas(frame, npartitions=3)
    model = within(TIMEOUT, KMeans(k=8, random_state=0).fit, ddf, test=ddf)
    assert list(model.feature_names_in_) == ["a", "b", "c"]
    assert model.test_metrics_["msd"] == pytest.approx(-model.score(frame) / 8000, rel=1e-12)
    np.testing.assert_array_equal(model.predict(ddf).compute(), model.predict(frame))
    with pytest.raises(ValueError, match="feature names should match"):
        model.predict(dd.from_pandas(frame.rename(columns={"a": "z"}), npartitions=2))
    assert model.fit_predict(ddf).compute().shape == (8000,)


# Files ------------------------------------------------------------------------------------------

def _write(folder, X):
    parts = np.array_split(X, 4)
    np.savetxt(folder / "a.csv", parts[0], delimiter=",")
    np.save(folder / "b.npy", parts[1])
    pd.DataFrame(parts[2], columns=[f"x{i}" for i in range(X.shape[1])]).to_parquet(folder / "c.parquet")
    write_recordio(parts[3], folder / "d.pbr")
    return parts


def test_read_opens_csv_npy_parquet_and_recordio_one_partition_per_file(client, tmp_path):
    X = blobs(n=4000, d=3)
    _write(tmp_path, X)
    data = read(tmp_path)
    assert data.numblocks == (4, 1) and data.shape[1] == 3
    np.testing.assert_allclose(data.compute(), X)
    model = within(TIMEOUT, KMeans(k=8, random_state=0).fit, data)
    assert ssd(model, X) <= 1.01 * ssd(KMeans(k=8, random_state=0).fit(X), X)
    assert read(str(tmp_path / "*.npy")).numblocks == (1, 1)
    np.testing.assert_allclose(read(tmp_path.as_uri() + "/b.npy").compute(), np.array_split(X, 4)[1])


def test_read_copies_fsspec_urls_to_the_worker_and_names_the_url(tmp_path):
    fsspec = pytest.importorskip("fsspec")
    X = blobs(n=600, d=2)
    memory = fsspec.filesystem("memory")
    memory.pipe("/fastkmeans-test/good.csv", "\n".join(",".join(map(str, row)) for row in X).encode())
    memory.pipe("/fastkmeans-test/bad.csv", b"1,2\n3,4\n5\n")
    # memory:// lives in this process: the synchronous scheduler reads it here, as a worker would.
    with dask.config.set(scheduler="synchronous"):
        np.testing.assert_allclose(read("memory://fastkmeans-test/good.csv").compute(), X)
        with pytest.raises(DataError, match=r"memory:///?fastkmeans-test/bad\.csv, line 3"):
            KMeans(k=2).fit(read(["memory://fastkmeans-test/good.csv", "memory://fastkmeans-test/bad.csv"]))


# Failures ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("content", ["1,2,3\n4,5,6\n7,8\n", "1,2,3\n4,nan,6\n7,8,9\n"], ids=["ragged", "nan"])
def test_a_bad_file_fails_the_fit_naming_the_file(client, tmp_path, content):
    X = blobs(n=300, d=3)
    np.savetxt(tmp_path / "part-0.csv", X, delimiter=",")
    (tmp_path / "part-1.csv").write_text(content)
    with pytest.raises(DataError, match=r"part-1\.csv, line [23]"):
        within(TIMEOUT, KMeans(k=2).fit, read(tmp_path))


@pytest.mark.parametrize("algorithm", ["minibatch", "lloyd"])
def test_nan_in_a_partition_fails_the_fit_naming_the_partition(client, algorithm):
    X = blobs(n=900, d=3)
    X[700, 1] = np.nan
    with pytest.raises(ValueError, match=r"partition 2 contains NaN or infinity \(first in row 100\)"):
        within(TIMEOUT, KMeans(k=2, algorithm=algorithm).fit, da.from_array(X, chunks=300))


def test_wrong_widths_and_names_are_refused_before_any_task(client):
    model = KMeans(k=2, random_state=0).fit(blobs(n=100, d=3))
    with pytest.raises(ValueError, match="X has 2 features, but KMeans is expecting 3"):
        model.predict(da.zeros((10, 2), chunks=5))
    with pytest.raises(ValueError, match="feature_dim=4"):
        KMeans(k=2, feature_dim=4).fit(da.zeros((10, 3), chunks=5))
    with pytest.raises(ValueError, match="not numbers"):
        KMeans(k=2).fit(dd.from_pandas(pd.DataFrame({"a": ["x", "y"]}), npartitions=1))


def _slow(block):
    time.sleep(1.5)
    return block


@pytest.mark.parametrize("algorithm", ["minibatch", "lloyd"])
def test_a_worker_killed_during_the_fit_is_survived_with_the_same_answer(client, algorithm):
    X = da.from_array(blobs(n=8000), chunks=2000).map_blocks(_slow, dtype=np.float64)
    params = dict(k=8, mini_batch_size=500, algorithm=algorithm, random_state=7)
    expected = within(TIMEOUT, KMeans(**params).fit, X)
    pids = client.run(os.getpid)
    pool = ThreadPoolExecutor(1)
    try:
        fitting = pool.submit(KMeans(**params).fit, X)
        deadline = time.monotonic() + 30
        while not any(client.processing().values()):
            assert time.monotonic() < deadline, "no task started"
            time.sleep(0.05)
        busy = next(address for address, tasks in client.processing().items() if tasks)
        os.kill(pids[busy], signal.SIGKILL)
        model = fitting.result(timeout=TIMEOUT)
    finally:
        pool.shutdown(wait=False)
    client.wait_for_workers(2, timeout=60)
    assert busy not in client.scheduler_info()["workers"] or client.run(os.getpid)[busy] != pids[busy]
    np.testing.assert_array_equal(model.cluster_centers_, expected.cluster_centers_)


def test_an_unaligned_array_as_dask_delivers_them_is_copied_not_refused():
    buffer = np.zeros(8 * 300 + 1, dtype=np.uint8)
    X = np.frombuffer(buffer.data[1:], dtype=np.float64).reshape(100, 3)
    X[:] = blobs(n=100, d=3)
    assert not X.flags.aligned
    assert KMeans(k=2, random_state=0).fit(X).predict(X).shape == (100,)


def test_feature_names_are_checked_as_scikit_learn_checks_them(client):
    frame = pd.DataFrame(blobs(n=200, d=2), columns=["a", "b"])
    model = KMeans(k=2, random_state=0).fit(frame)
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        model.predict(da.from_array(frame.to_numpy(), chunks=100))
    unnamed = KMeans(k=2, random_state=0).fit(frame.to_numpy())
    with pytest.warns(UserWarning, match="X has feature names"):
        unnamed.predict(dd.from_pandas(frame, npartitions=2))


def test_persisted_rows_that_dask_moved_unaligned_are_summed_all_the_same():
    buffer = np.zeros(8 * 300 + 1, dtype=np.uint8)
    rows = np.frombuffer(buffer.data[1:], dtype=np.float64).reshape(100, 3)
    rows[:] = blobs(n=100, d=3)
    centers = rows[:4].copy()
    sums = _lloyd._partition_sums(rows, 0, centers, None)
    np.testing.assert_allclose(sums["weights"].sum(), 100)
    assert sums["ssd"] == pytest.approx(float(fastkmeans._core.assign(rows.copy(), centers)[1].sum()))


def test_a_sparse_partition_in_unaligned_network_buffers_is_copied_not_refused():
    sparse = pytest.importorskip("scipy.sparse")
    from fastkmeans.dask._partitions import partition_rows

    X = sparse.random(100, 5, density=0.3, random_state=0, format="csr")
    buffer = np.zeros(X.data.nbytes + 1, dtype=np.uint8)
    data = np.frombuffer(buffer.data[1:], dtype=np.float64)
    data[:] = X.data
    block = sparse.csr_matrix((data, X.indices, X.indptr), shape=X.shape)
    assert not block.data.flags.aligned
    np.testing.assert_array_equal(partition_rows(block, 0, np.dtype(np.float64)).toarray(), X.toarray())


def test_a_large_npy_file_is_read_in_blocks_of_rows(client, tmp_path):
    X = blobs(n=5000, d=4).astype(np.float32)
    np.save(tmp_path / "big.npy", X)
    data = read(tmp_path / "big.npy", rows_per_partition=1200)
    assert data.chunks[0] == (1200, 1200, 1200, 1200, 200) and data.dtype == np.float32
    np.testing.assert_array_equal(data.compute(), X)
    np.testing.assert_array_equal(read(tmp_path / "big.npy", rows_per_partition=1200, columns=[0, 2]).compute(),
                                  X[:, [0, 2]])
    X[3000, 2] = np.inf
    np.save(tmp_path / "bad.npy", X)
    with pytest.raises(DataError, match=r"bad\.npy, row 3000, column 3"):
        within(TIMEOUT, KMeans(k=2).fit, read(tmp_path / "bad.npy", rows_per_partition=1200))
    with pytest.raises(ValueError, match="rows_per_partition must be a positive integer"):
        read(tmp_path / "big.npy", rows_per_partition=0)


@pytest.mark.parametrize("algorithm", ["minibatch", "lloyd"])
def test_the_bytes_moved_per_round_do_not_grow_with_the_rows(client, algorithm):
    moved = []
    for n in (8_000, 64_000):
        X = da.from_array(blobs(n=n), chunks=n // 4)
        model = within(TIMEOUT, KMeans(k=8, mini_batch_size=1000, algorithm=algorithm, random_state=0).fit, X)
        moved.append(max(model.sync_bytes_))
    # Eight times the rows, the same four partitions: the same centres, counts and sums move.
    assert moved[1] <= 1.25 * moved[0]
    assert moved[1] < 64_000 * 6 * 8 / 20


@pytest.mark.parametrize("algorithm", ["minibatch", "lloyd"])
def test_sparse_partitions_stay_sparse_and_train_as_well(client, algorithm):
    sparse = pytest.importorskip("scipy.sparse")
    X = sparse.random(4000, 50, density=0.1, random_state=0, format="csr")
    parts = [da.from_delayed(dask.delayed(X.__getitem__)(slice(i, i + 1000)), shape=(1000, 50), dtype=np.float64,
                             meta=sparse.csr_matrix((0, 50))) for i in range(0, 4000, 1000)]
    dX = da.concatenate(parts)
    model = within(TIMEOUT, KMeans(k=5, algorithm=algorithm, random_state=0).fit, dX)
    # Uniform random rows have no clusters: over seeds, local optima of either fit spread by about 1%.
    assert ssd(model, X) <= 1.02 * ssd(KMeans(k=5, algorithm=algorithm, random_state=0).fit(X), X)
    np.testing.assert_array_equal(model.predict(dX).compute(), model.predict(X))
    np.testing.assert_allclose(model.transform(dX).compute(), model.transform(X))
