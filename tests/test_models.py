"""fastkmeans' own model file: round trips, resumed training, atomic writes, damaged and crafted files."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import pickle
import signal
import struct
import subprocess
import sys
import textwrap
import time
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import fastkmeans
from fastkmeans import KMeans, _atomic, _persist
from fastkmeans.io import write_recordio


def blobs(n=3000, d=5, centers=6, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    means = rng.uniform(-20, 20, (centers, d))
    return (means[rng.integers(0, centers, n)] + rng.normal(0, 1, (n, d))).astype(dtype)


def sparse_rows(n=2000, d=300, seed=0):
    rng = np.random.default_rng(seed)
    rows = np.repeat(np.arange(n), 8)
    cols = (np.repeat(rng.integers(0, 6, n), 8) * 50 + rng.integers(0, 50, n * 8)).astype(np.int64)
    X = sp.csr_matrix((rng.integers(1, 4, n * 8).astype(np.float32), (rows, cols)), shape=(n, d))
    X.sum_duplicates()
    return X


def fitted_attributes(model):
    """Every public fitted attribute (scikit-learn's trailing underscore)."""
    return {name: value for name, value in vars(model).items() if name.endswith("_") and not name.startswith("_")}


def assert_same_model(loaded, model, omitted=("labels_",)):
    assert type(loaded) is KMeans
    assert loaded.get_params() == {**model.get_params(), "eval_metrics": tuple(model.eval_metrics)}
    expected = {name: value for name, value in fitted_attributes(model).items() if name not in omitted}
    got = fitted_attributes(loaded)
    assert set(got) == set(expected)
    for name, value in expected.items():
        if isinstance(value, np.ndarray):
            assert got[name].dtype == value.dtype, name
            np.testing.assert_array_equal(got[name], value, err_msg=name)
        else:
            assert got[name] == value and type(got[name]) is type(value), name
    state = getattr(model, "_state", None)
    if state is None:
        assert getattr(loaded, "_state", None) is None
    else:
        assert set(loaded._state) == set(state)
        for key, value in state.items():
            if isinstance(value, np.ndarray):
                assert loaded._state[key].dtype == value.dtype
                np.testing.assert_array_equal(loaded._state[key], value, err_msg=key)
            else:
                assert loaded._state[key] == value


def round_trip(model, tmp_path, name="model.fkm"):
    path = tmp_path / name
    model.save(path)
    return fastkmeans.load(path)


# Round trips ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("algorithm", ["minibatch", "lloyd"])
def test_every_fitted_attribute_but_labels_survives_save_and_load(tmp_path, dtype, algorithm):
    X = blobs(dtype=dtype)
    model = KMeans(k=6, mini_batch_size=500, epochs=2, algorithm=algorithm, eval_metrics=["ssd", "msd"],
                   random_state=7).fit(X, test=X[:300])
    assert hasattr(model, "test_metrics_") and hasattr(model, "cluster_sizes_")
    loaded = round_trip(model, tmp_path)
    assert_same_model(loaded, model)
    assert not hasattr(loaded, "labels_")
    new = blobs(n=400, seed=1, dtype=dtype)
    np.testing.assert_array_equal(loaded.predict(new), model.predict(new))
    np.testing.assert_array_equal(loaded.transform(new), model.transform(new))
    assert loaded.score(new) == model.score(new)
    assert loaded.evaluate(new) == model.evaluate(new)
    np.testing.assert_array_equal(loaded.predict(X), model.labels_)


def test_a_streamed_fit_and_a_dataframe_fit_round_trip(tmp_path):
    X = blobs()
    streamed = KMeans(k=6, mini_batch_size=400, epochs=2, random_state=1).fit([X[:1500], X[1500:]])
    assert not hasattr(streamed, "cluster_sizes_")
    assert_same_model(round_trip(streamed, tmp_path, "streamed.fkm"), streamed)
    frame = pd.DataFrame(X, columns=[f"feature {i}" for i in range(5)])
    named = KMeans(k=6, mini_batch_size=400, random_state=1).fit(frame)
    loaded = round_trip(named, tmp_path, "named.fkm")
    assert_same_model(loaded, named)
    assert list(loaded.feature_names_in_) == list(frame.columns)
    with pytest.raises(ValueError, match="feature names should match"):
        loaded.predict(frame.rename(columns={"feature 0": "other"}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(loaded.predict(frame), named.predict(frame))


def test_hyperparameters_and_random_state_come_back(tmp_path):
    model = KMeans(k=3, feature_dim=5, extra_center_factor=3, local_lloyd_num_trials=2, half_life_time_size=700,
                   init_method="kmeans++", local_lloyd_tol=0.25, n_threads=1, random_state=2**63 + 5).fit(blobs())
    loaded = round_trip(model, tmp_path)
    assert loaded.get_params() == model.get_params()
    generator = KMeans(k=3, random_state=np.random.default_rng(0)).fit(blobs())
    loaded = round_trip(generator, tmp_path, "generator.fkm")
    assert loaded.random_state is None  # a Generator is not data; the state keeps the seed it drew
    assert loaded._state["seed"] == generator._state["seed"]


def test_saving_an_unfitted_model_is_refused_and_writes_nothing(tmp_path):
    with pytest.raises(fastkmeans.NotFittedError):
        KMeans().save(tmp_path / "model.fkm")
    assert os.listdir(tmp_path) == []


def test_the_arrays_are_read_from_the_file_bytes_not_parsed(tmp_path):
    model = KMeans(k=4, mini_batch_size=500, random_state=0).fit(blobs(dtype=np.float32))
    loaded = round_trip(model, tmp_path)
    # Every array is a view of the one buffer the file was read into, and writable like a fitted one.
    def owner(array):
        while isinstance(array, np.ndarray):
            array = array.base
        return array.obj if isinstance(array, memoryview) else array

    owners = [owner(a) for a in (loaded.cluster_centers_, loaded._state["centers"], loaded._state["counts"])]
    assert isinstance(owners[0], bytearray) and all(o is owners[0] for o in owners)
    assert loaded.cluster_centers_.flags.writeable


def test_the_file_starts_with_the_magic_and_a_readable_header(tmp_path):
    model = KMeans(k=4, mini_batch_size=500, random_state=0).fit(blobs())
    model.save(tmp_path / "model.fkm")
    content = (tmp_path / "model.fkm").read_bytes()
    magic, version, _, total, length = struct.unpack_from("<8sIIQQ", content)
    assert magic == b"\x89FKM\r\n\x1a\n" and version == 1 and total == len(content)
    metadata = json.loads(content[32:32 + length])
    assert metadata["kind"] == "fastkmeans.KMeans"
    assert metadata["library_version"] == fastkmeans.__version__
    assert metadata["params"]["k"] == 4 and metadata["state"]["points_seen"] == model._state["points_seen"]
    assert content[-32:] == hashlib.sha256(content[:-32]).digest()


# Resumed training ----------------------------------------------------------------------------------


def resume_and_compare(tmp_path, chunks, params, first_fit=False):
    """Train on every chunk without stopping, and with a save/load after each chunk: identical bits."""
    straight = KMeans(**params)
    resumed = KMeans(**params)
    for index, chunk in enumerate(chunks):
        if first_fit and index == 0:
            straight.fit(chunk)
            resumed.fit(chunk)
        else:
            straight.partial_fit(chunk)
            resumed.partial_fit(chunk)
        resumed = round_trip(resumed, tmp_path, f"step{index}.fkm")
    np.testing.assert_array_equal(resumed.cluster_centers_, straight.cluster_centers_)
    for key, value in straight._state.items():
        np.testing.assert_array_equal(resumed._state[key], value)
    assert resumed.n_steps_ == straight.n_steps_ and resumed.inertia_ == straight.inertia_
    return straight


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_partial_fit_after_load_continues_bit_for_bit_on_dense_chunks(tmp_path, dtype):
    X = blobs(n=4000, dtype=dtype)
    params = dict(k=6, mini_batch_size=300, half_life_time_size=2000, random_state=11)
    model = resume_and_compare(tmp_path, np.array_split(X, 5), params)
    assert model.n_steps_ > 5


def test_partial_fit_after_load_continues_a_fit(tmp_path):
    X = blobs(n=4000)
    resume_and_compare(tmp_path, [X[:2000], X[2000:3000], X[3000:]],
                       dict(k=6, mini_batch_size=300, epochs=2, random_state=5), first_fit=True)


def test_partial_fit_after_load_continues_bit_for_bit_on_sparse_chunks(tmp_path):
    X = sparse_rows()
    resume_and_compare(tmp_path, [X[:700], X[700:1400], X[1400:]], dict(k=6, mini_batch_size=250, random_state=3))


def test_partial_fit_after_load_continues_bit_for_bit_on_streamed_sources(tmp_path):
    X = blobs(n=3000)
    files = []
    for index, part in enumerate(np.array_split(X, 3)):
        files.append(tmp_path / f"part{index}.npy")
        np.save(files[-1], part)
    model = resume_and_compare(tmp_path, [str(f) for f in files], dict(k=6, mini_batch_size=250, random_state=8))
    assert not hasattr(model, "labels_")


def test_partial_fit_after_load_continues_bit_for_bit_on_sparse_recordio_files(tmp_path):
    X = sparse_rows(n=1500)
    files = []
    for index, start in enumerate(range(0, 1500, 500)):
        files.append(str(tmp_path / f"part{index}.pbr"))
        write_recordio(X[start:start + 500], files[-1])
    resume_and_compare(tmp_path, files, dict(k=6, mini_batch_size=200, random_state=4))


# pickle and joblib keep working --------------------------------------------------------------------


@pytest.mark.parametrize("dump", ["pickle", "joblib"])
def test_pickle_and_joblib_round_trip_and_resume(tmp_path, dump):
    X = blobs(n=3000)
    model = KMeans(k=6, mini_batch_size=300, random_state=9).partial_fit(X[:1500])
    if dump == "pickle":
        copy = pickle.loads(pickle.dumps(model))
    else:
        joblib.dump(model, tmp_path / "model.joblib")
        copy = joblib.load(tmp_path / "model.joblib")
    assert_same_model(copy, model, omitted=())
    np.testing.assert_array_equal(copy.labels_, model.labels_)
    model.partial_fit(X[1500:])
    copy.partial_fit(X[1500:])
    np.testing.assert_array_equal(copy.cluster_centers_, model.cluster_centers_)
    unfitted = pickle.loads(pickle.dumps(KMeans(k=4, epochs=3)))
    assert unfitted.get_params() == KMeans(k=4, epochs=3).get_params()


# Atomic writes -------------------------------------------------------------------------------------


@pytest.fixture
def old_and_new(tmp_path):
    """A good old model on disk, and a different new one to write over it."""
    old = KMeans(k=3, mini_batch_size=500, random_state=0).fit(blobs(seed=1))
    path = tmp_path / "model.fkm"
    old.save(path)
    new = KMeans(k=5, mini_batch_size=500, random_state=0).fit(blobs(seed=2))
    return path, path.read_bytes(), new


def assert_untouched(path, old_bytes):
    assert path.read_bytes() == old_bytes
    assert os.listdir(path.parent) == [path.name], "a temporary file was left behind"
    assert fastkmeans.load(path).k == 3


def test_a_failed_fsync_leaves_the_old_model_and_no_temporary_file(old_and_new, monkeypatch):
    path, old_bytes, new = old_and_new

    def failing_fsync(fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(_atomic.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="Input/output"):
        new.save(path)
    monkeypatch.undo()
    assert_untouched(path, old_bytes)


def test_a_failed_rename_leaves_the_old_model_and_no_temporary_file(old_and_new, monkeypatch):
    path, old_bytes, new = old_and_new

    def failing_replace(source, target):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(_atomic.os, "replace", failing_replace)
    with pytest.raises(PermissionError):
        new.save(path)
    monkeypatch.undo()
    assert_untouched(path, old_bytes)


def test_a_ctrl_c_right_after_the_file_is_named_leaves_the_old_model_and_no_temporary_file(old_and_new, monkeypatch):
    # The moment between giving the complete file its temporary name (linkat on Linux, the named
    # open elsewhere) and the rename: a real Ctrl-C there once left the named file behind.
    path, old_bytes, new = old_and_new
    real_name, real_open = _atomic._name, _atomic.os.open

    def named_then_interrupted(file, temporary):
        real_name(file, temporary)
        raise KeyboardInterrupt

    def open_then_interrupted(target, flags, *args, **kwargs):
        descriptor = real_open(target, flags, *args, **kwargs)
        if str(target).endswith(_atomic.TEMPORARY_SUFFIX):
            os.close(descriptor)
            raise KeyboardInterrupt
        return descriptor

    monkeypatch.setattr(_atomic, "_name", named_then_interrupted)
    monkeypatch.setattr(_atomic.os, "open", open_then_interrupted)
    with pytest.raises(KeyboardInterrupt):
        new.save(path)
    monkeypatch.undo()
    assert_untouched(path, old_bytes)


def test_a_full_disk_leaves_the_old_model_and_no_temporary_file(old_and_new, monkeypatch):
    path, old_bytes, new = old_and_new
    real_open = open

    class FullDisk:
        """A file on a disk that fills up after 100 bytes."""

        def __init__(self, *args, **kwargs):
            self.file, self.written = real_open(*args, **kwargs), 0

        def write(self, chunk):
            self.written += len(chunk)
            if self.written > 100:
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.file.write(chunk)

        def __getattr__(self, name):
            return getattr(self.file, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

    monkeypatch.setattr(_atomic, "open", FullDisk, raising=False)
    with pytest.raises(OSError, match="No space left"):
        new.save(path)
    monkeypatch.undo()
    assert_untouched(path, old_bytes)


def test_ctrl_c_in_the_middle_of_a_write_leaves_the_old_model_and_no_temporary_file(old_and_new, monkeypatch):
    path, old_bytes, new = old_and_new
    real_signed = _persist._signed
    written = []

    def interrupted(chunks):
        for chunk in real_signed(chunks):
            written.append(len(chunk))
            if len(written) == 3:  # header and metadata are out, the arrays are not
                raise KeyboardInterrupt
            yield chunk

    monkeypatch.setattr(_persist, "_signed", interrupted)
    with pytest.raises(KeyboardInterrupt):
        new.save(path)
    monkeypatch.undo()
    assert len(written) == 3
    assert_untouched(path, old_bytes)
    new.save(path)  # and the next save goes through
    assert fastkmeans.load(path).k == 5 and os.listdir(path.parent) == [path.name]


@pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits")
def test_a_saved_model_gets_the_usual_permissions(tmp_path):
    previous = os.umask(0o022)
    try:
        KMeans(k=2, random_state=0).fit(blobs(n=100)).save(tmp_path / "model.fkm")
    finally:
        os.umask(previous)
    assert (tmp_path / "model.fkm").stat().st_mode & 0o777 == 0o644


def test_saving_onto_a_folder_fails_cleanly(tmp_path):
    (tmp_path / "model.fkm").mkdir()
    with pytest.raises(OSError):
        KMeans(k=2, random_state=0).fit(blobs(n=100)).save(tmp_path / "model.fkm")
    assert os.listdir(tmp_path) == ["model.fkm"]


# Real signals in a real process ---------------------------------------------------------------------

SAVE_LOOP = textwrap.dedent("""
    import sys
    import fastkmeans
    path, first, second = sys.argv[1:]
    models = [fastkmeans.load(first), fastkmeans.load(second)]
    models[0].save(path)
    print("ready", flush=True)
    saves = 0
    try:
        while True:
            models[saves % 2].save(path)
            saves += 1
    except KeyboardInterrupt:
        print("interrupted", saves, flush=True)
        sys.exit(3)
""")


@pytest.fixture(scope="module")
def two_models(tmp_path_factory):
    """Two saved models of a few MB each (k = 200 and 201), for a process to save over and over."""
    folder = tmp_path_factory.mktemp("two_models")
    X = np.random.default_rng(0).standard_normal((3000, 300))
    for k in (200, 201):
        KMeans(k=k, mini_batch_size=3000, extra_center_factor=2, local_lloyd_num_trials=1, local_lloyd_max_iter=5,
               random_state=0).fit(X).save(folder / f"{k}.fkm")
    return folder / "200.fkm", folder / "201.fkm"


def save_loop(path, two_models):
    process = subprocess.Popen([sys.executable, "-c", SAVE_LOOP, str(path), *map(str, two_models)],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    return process


@pytest.mark.skipif(os.name == "nt", reason="POSIX signals")
def test_a_real_ctrl_c_during_repeated_saves_leaves_a_whole_model_and_no_temporary_file(tmp_path, two_models):
    path = tmp_path / "model.fkm"
    for delay in (0.2, 0.6):
        process = save_loop(path, two_models)
        try:
            time.sleep(delay)
            process.send_signal(signal.SIGINT)
            out, _ = process.communicate(timeout=30)
        finally:
            process.kill()
        words = out.split()
        assert process.returncode == 3 and words[0] == "interrupted" and int(words[1]) > 0
        assert os.listdir(tmp_path) == ["model.fkm"]
        assert fastkmeans.load(path).k in (200, 201)


@pytest.mark.skipif(os.name == "nt", reason="POSIX signals")
def test_a_process_killed_mid_save_never_leaves_a_half_written_model(tmp_path, two_models):
    path = tmp_path / "model.fkm"
    unnamed = unnamed_here(tmp_path)
    for delay in (0.1, 0.3, 0.5):
        process = save_loop(path, two_models)
        time.sleep(delay)
        process.kill()  # SIGKILL: no cleanup runs
        process.wait(timeout=30)
        assert fastkmeans.load(path).k in (200, 201)
        # All a kill can leave is a temporary file of the documented name, never mistaken for the model.
        strays = [name for name in os.listdir(tmp_path) if name != "model.fkm"]
        assert all(name.startswith(".model.fkm.") and name.endswith(_atomic.TEMPORARY_SUFFIX) for name in strays)
        for name in strays:
            if unnamed:
                # Written unnamed (Linux), the file gets its name only once complete, between the link
                # and the rename: a kill can land there (rarely; it did in CI), and leaves a whole model.
                assert fastkmeans.load(tmp_path / name).k in (200, 201)
            os.unlink(tmp_path / name)


def unnamed_here(folder) -> bool:
    """Whether files in ``folder`` are written unnamed (O_TMPFILE), as _atomic does where it can."""
    descriptor = _atomic._open_unnamed(str(folder))
    if descriptor is None:
        return False
    os.close(descriptor)
    return True


def test_arrays_in_other_integer_or_byte_orders_are_stored_in_the_file_types(tmp_path):
    model = KMeans(k=3, random_state=0).fit(blobs(n=300))
    model.cluster_sizes_ = model.cluster_sizes_.astype(np.int32)  # what np.bincount gives on some platforms
    model.cluster_centers_ = model.cluster_centers_.astype(">f8")
    loaded = round_trip(model, tmp_path)
    assert loaded.cluster_sizes_.dtype == np.int64 and loaded.cluster_centers_.dtype == np.dtype("<f8")
    np.testing.assert_array_equal(loaded.cluster_sizes_, model.cluster_sizes_)
    np.testing.assert_array_equal(loaded.cluster_centers_, model.cluster_centers_)


def test_on_linux_the_file_has_no_name_until_it_is_complete(tmp_path):
    unnamed = _atomic._open_unnamed(str(tmp_path))
    if unnamed is None:
        pytest.skip("this OS or file system has no unnamed files (O_TMPFILE): a named temporary file is used")
    os.close(unnamed)
    seen = []

    def chunks():
        yield b"first half, "
        seen.append(sorted(os.listdir(tmp_path)))  # mid-write
        yield b"second half"

    _atomic.write_atomically(tmp_path / "out.bin", chunks())
    assert seen == [[]]
    assert (tmp_path / "out.bin").read_bytes() == b"first half, second half"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_where_linking_is_refused_the_unnamed_file_is_copied_out(tmp_path, monkeypatch):
    if _atomic._open_unnamed(str(tmp_path)) is None:
        pytest.skip("this OS or file system has no unnamed files (O_TMPFILE)")

    def refuse(*args, **kwargs):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(_atomic.os, "link", refuse)
    (tmp_path / "out.bin").write_bytes(b"old")
    _atomic.write_atomically(tmp_path / "out.bin", [b"new ", b"bytes" * 1000])
    assert (tmp_path / "out.bin").read_bytes() == b"new " + b"bytes" * 1000
    assert os.listdir(tmp_path) == ["out.bin"]
