"""SageMaker's model.tar.gz both ways: the real artifacts, the NDArray list versions, untrusted archives, fuzzing."""

from __future__ import annotations

import gzip
import io
import os
import pathlib
import struct
import tarfile
import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastkmeans import KMeans
from fastkmeans._ndarray import NDArrayError, load_ndarray_list, save_ndarray_list
from fastkmeans.sagemaker import load_model, save_model

ARTIFACTS = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sagemaker-artifacts"
REAL = [ARTIFACTS / "pca-segmentation-2020" / "model.tar.gz", ARTIFACTS / "us-population-2021" / "model.tar.gz"]
# The real artifacts are in ../shared/data, which only the project's own machines have (not the release CI's).
needs_artifacts = pytest.mark.skipif(not ARTIFACTS.is_dir(), reason="../shared/data is not beside the checkout")


def members(path):
    """name -> (TarInfo, bytes) of every member, read with the standard library as an independent check."""
    with tarfile.open(path) as archive:
        return {m.name: (m, archive.extractfile(m).read() if m.isfile() else None) for m in archive.getmembers()}


def nearest(X, centers):
    """The obvious oracle: argmin and Euclidean distance over every centre, in float64."""
    d2 = ((X[:, None, :].astype(np.float64) - centers[None].astype(np.float64)) ** 2).sum(axis=2)
    return d2.argmin(axis=1), np.sqrt(d2.min(axis=1))


# The real artifacts --------------------------------------------------------------------------------


@needs_artifacts
def test_both_real_artifacts_are_present():
    assert sorted(ARTIFACTS.glob("*/model.tar.gz")) == REAL


@needs_artifacts
@pytest.mark.parametrize("artifact", REAL, ids=lambda p: p.parent.name)
def test_a_real_artifact_loads_predicts_and_saves_back_byte_for_byte(tmp_path, artifact):
    original = members(artifact)["model_algo-1"][1]
    assert len(original) == 296  # k = 8, d = 7: 72 + 4kd bytes
    model = load_model(artifact)
    assert model.cluster_centers_.shape == (8, 7) and model.cluster_centers_.dtype == np.float32
    assert model.k == 8 and model.feature_dim == 7 and model.n_features_in_ == 7
    # The centres are the float32 values at bytes 64..288 of model_algo-1.
    np.testing.assert_array_equal(model.cluster_centers_, np.frombuffer(original[64:288], "<f4").reshape(8, 7))
    X = np.random.default_rng(0).normal(0, 0.3, (500, 7)).astype(np.float32)
    labels, distances = nearest(X, model.cluster_centers_)
    np.testing.assert_array_equal(model.predict(X), labels)
    closest, distance = model.assign(X)
    np.testing.assert_array_equal(closest, labels)
    np.testing.assert_allclose(distance, distances, rtol=1e-5)
    np.testing.assert_allclose(model.transform(X).min(axis=1), distances, rtol=1e-5)
    assert model.evaluate(X)["msd"] == pytest.approx((distances ** 2).mean(), rel=1e-5)
    save_model(model, tmp_path / "model.tar.gz")
    written = members(tmp_path / "model.tar.gz")
    assert list(written) == ["model_algo-1"]
    info, content = written["model_algo-1"]
    assert content == original
    assert (info.mode, info.uid, info.gid, info.uname, info.gname) == (0o644, 0, 0, "", "")
    assert os.listdir(tmp_path) == ["model.tar.gz"]


@needs_artifacts
def test_the_2020_artifact_has_a_state_member_that_is_ignored():
    found = members(REAL[0])
    assert len(found) == 2 and any(name.startswith("state_") for name in found)
    arrays, names = load_ndarray_list(next(c for n, (_, c) in found.items() if n.startswith("state_")))
    assert sorted(names) == ["0", "1"] and sorted(a.shape for a in arrays) == [(80, 1), (80, 7)]


@needs_artifacts
def test_a_model_whose_feature_dim_differs_from_the_data_is_refused():
    model = load_model(REAL[1])
    with pytest.raises(ValueError, match="X has 5 features, but KMeans is expecting 7 features"):
        model.predict(np.zeros((3, 5)))


@needs_artifacts
def test_hyperparameters_are_checked_against_the_centres():
    model = load_model(REAL[1], hyperparameters={"k": "8", "feature_dim": "7", "mini_batch_size": "500"})
    assert model.mini_batch_size == 500
    with pytest.raises(ValueError, match="holds 8 centres of 7 features, but the hyperparameters say k=5, "
                                         "feature_dim=7"):
        load_model(REAL[1], hyperparameters={"k": "5", "feature_dim": "7"})
    with pytest.raises(ValueError, match="feature_dim=9"):
        load_model(REAL[1], hyperparameters={"k": 8, "feature_dim": 9})


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_fastkmeans_model_round_trips_through_model_tar_gz(tmp_path, dtype):
    X = np.random.default_rng(1).normal(size=(2000, 6))
    model = KMeans(k=5, mini_batch_size=400, random_state=0).fit(X)
    save_model(model, tmp_path / "model.tar.gz", dtype=dtype)
    loaded = load_model(tmp_path / "model.tar.gz")
    assert loaded.cluster_centers_.dtype == dtype
    np.testing.assert_array_equal(loaded.cluster_centers_, model.cluster_centers_.astype(dtype))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        save_model(model, tmp_path / "other.tar.gz", dtype=np.int32)


# NDArray list versions -------------------------------------------------------------------------------


def v1_record(array, type_flag):
    return struct.pack(f"<Ii{array.ndim}q", 0xF993FAC8, array.ndim, *array.shape) + struct.pack(
        "<iii", 1, 0, type_flag) + array.tobytes()


def legacy_record(array, type_flag):
    return struct.pack(f"<I{array.ndim}I", array.ndim, *array.shape) + struct.pack(
        "<iii", 1, 0, type_flag) + array.tobytes()


def ndarray_file(records, names=()):
    body = struct.pack("<QQQ", 0x112, 0, len(records)) + b"".join(records) + struct.pack("<Q", len(names))
    return body + b"".join(struct.pack("<Q", len(n)) + n.encode() for n in names)


@pytest.mark.parametrize("record", [v1_record, legacy_record])
@pytest.mark.parametrize("dtype, flag", [(np.float32, 0), (np.float64, 1)])
def test_v1_and_legacy_records_of_float32_and_float64_are_read(tmp_path, record, dtype, flag):
    centers = np.arange(12, dtype=dtype).reshape(4, 3) / 7
    content = ndarray_file([record(centers, flag)])
    arrays, names = load_ndarray_list(content)
    assert names == [] and arrays[0].dtype == dtype
    np.testing.assert_array_equal(arrays[0], centers)
    archive = tmp_path / "model.tar.gz"
    write_tar(archive, [("model_algo-1", content)])
    np.testing.assert_array_equal(load_model(archive).cluster_centers_, centers)


def test_v2_records_round_trip_every_mxnet_dtype_and_dicts():
    arrays = [np.arange(6, dtype=t).reshape(2, 3) for t in (np.float32, np.float64, np.float16, np.uint8, np.int32,
                                                             np.int8, np.int64)] + [np.ones((2, 1, 3), np.float32)]
    names = [f"a{i}" for i in range(len(arrays))]
    loaded, loaded_names = load_ndarray_list(save_ndarray_list(arrays, names))
    assert loaded_names == names
    for got, expected in zip(loaded, arrays):
        assert got.dtype == expected.dtype and got.flags.writeable
        np.testing.assert_array_equal(got, expected)


def test_none_arrays_are_read_as_none():
    none_v2 = struct.pack("<Iii", 0xF993FAC9, 0, 0)
    arrays, _ = load_ndarray_list(ndarray_file([none_v2, struct.pack("<I", 0)]))
    assert arrays == [None, None]


BAD_NDARRAYS = {
    "another kind of file": (b"PK\x03\x04" + bytes(40), "not an MXNet NDArray file"),
    "absurd array count": (struct.pack("<QQQ", 0x112, 0, 2**60), "claims 1152921504606846976 arrays"),
    "absurd shape": (ndarray_file([struct.pack("<Iii2q", 0xF993FAC9, 0, 2, 2**40, 2**40)
                                   + struct.pack("<iii", 1, 0, 0)]), r"claims shape \(1099511627776, 1099511627776\)"),
    "negative dimension": (ndarray_file([struct.pack("<Iii2q", 0xF993FAC9, 0, 2, -1, 3)]), "negative dimension"),
    "absurd ndim": (ndarray_file([struct.pack("<Iii", 0xF993FAC9, 0, 10**6)]), "has ndim 1000000"),
    "sparse storage": (ndarray_file([struct.pack("<Ii", 0xF993FAC9, 2)]), "csr storage"),
    "V3 record": (ndarray_file([struct.pack("<I", 0xF993FACA)]), "V3"),
    "unknown magic": (ndarray_file([struct.pack("<I", 0xDEADBEEF)]), "0xDEADBEEF: not an NDArray record magic"),
    "unknown type": (ndarray_file([struct.pack("<Iii1q", 0xF993FAC9, 0, 1, 1) + struct.pack("<iii", 1, 0, 42)]),
                     "type flag 42"),
    "truncated data": (ndarray_file([v1_record(np.ones((3, 3), np.float32), 0)])[:-20], "is truncated|are left"),
    "names mismatch": (ndarray_file([v1_record(np.ones(2, np.float32), 0)], names=("a", "b")), "2 names for 1"),
    "trailing bytes": (ndarray_file([v1_record(np.ones(2, np.float32), 0)]) + b"x", "1 bytes after the last name"),
}


@pytest.mark.parametrize("case", sorted(BAD_NDARRAYS))
def test_a_bad_ndarray_list_gives_a_clear_error(case):
    content, message = BAD_NDARRAYS[case]
    with pytest.raises(NDArrayError, match=message):
        load_ndarray_list(content, "model_algo-1")


@pytest.mark.parametrize("arrays, names, found", [
    ([np.ones((2, 3, 4), np.float32)], None, r"an array of shape \(2, 3, 4\) and dtype float32"),
    ([np.ones((2, 3), np.int32)], None, r"an array of shape \(2, 3\) and dtype int32"),
    ([np.ones((2, 3), np.float32)] * 2, None, "2 arrays"),
    ([np.ones((2, 3), np.float32)], ["centres"], "a dict"),
])
def test_model_algo_1_must_hold_one_2d_float_array(tmp_path, arrays, names, found):
    write_tar(tmp_path / "model.tar.gz", [("model_algo-1", save_ndarray_list(arrays, names))])
    with pytest.raises(ValueError, match=f"should hold a list of one .* it holds {found}"):
        load_model(tmp_path / "model.tar.gz")


# Untrusted archives -----------------------------------------------------------------------------------


def write_tar(path, entries, compress=True):
    """Write a tar of (name, bytes) or (TarInfo, bytes-or-None) entries, as an attacker may."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as archive:
        for entry, content in entries:
            info = entry if isinstance(entry, tarfile.TarInfo) else tarfile.TarInfo(entry)
            if content is not None:
                info.size = len(content)
            archive.addfile(info, io.BytesIO(content) if content is not None else None)
    data = buffer.getvalue()
    pathlib.Path(path).write_bytes(gzip.compress(data) if compress else data)


def special(name, kind, target=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


MODEL = save_ndarray_list([np.ones((2, 3), np.float32)])

UNSAFE = {
    "path traversal": ([("../evil", b"x"), ("model_algo-1", MODEL)], "climbs out of the archive's folder"),
    "nested traversal": ([("a/../../evil", b"x"), ("model_algo-1", MODEL)], "climbs out"),
    "backslash traversal": ([("..\\evil", b"x"), ("model_algo-1", MODEL)], "climbs out"),
    "absolute path": ([("/tmp/evil", b"x"), ("model_algo-1", MODEL)], "absolute path"),
    "drive letter": ([("C:evil", b"x"), ("model_algo-1", MODEL)], "absolute path"),
    "symbolic link": ([(special("model_algo-1", tarfile.SYMTYPE, "/etc/passwd"), None)], "a symbolic link"),
    "hard link": ([("a", MODEL), (special("model_algo-1", tarfile.LNKTYPE, "a"), None)], "a hard link"),
    "character device": ([(special("model_algo-1", tarfile.CHRTYPE), None)], "a device or FIFO"),
    "block device": ([(special("sda", tarfile.BLKTYPE), None), ("model_algo-1", MODEL)], "a device"),
    "fifo": ([(special("model_algo-1", tarfile.FIFOTYPE), None)], "a device or FIFO"),
    "no model": ([("state_1", MODEL)], "holds no model_algo-1 member"),
    "two models": ([("model_algo-1", MODEL), ("./model_algo-1", MODEL)], "holds two model_algo-1 members"),
}


@pytest.mark.parametrize("case", sorted(UNSAFE))
def test_an_unsafe_or_wrong_archive_is_refused_and_nothing_is_written(tmp_path, case):
    entries, message = UNSAFE[case]
    archive = tmp_path / "inside" / "model.tar.gz"
    archive.parent.mkdir()
    write_tar(archive, entries)
    before = sorted(p for p in tmp_path.rglob("*"))
    with pytest.raises(ValueError, match=message):
        load_model(archive)
    assert sorted(p for p in tmp_path.rglob("*")) == before
    assert not (tmp_path / "evil").exists()


def test_a_plain_tar_and_a_dot_slash_name_are_read(tmp_path):
    write_tar(tmp_path / "model.tar", [("./model_algo-1", MODEL)], compress=False)
    assert load_model(tmp_path / "model.tar").cluster_centers_.shape == (2, 3)


@pytest.mark.parametrize("content, message", [
    (b"", "not a readable model.tar.gz"),
    (b"not an archive at all" * 40, "not a readable model.tar.gz"),
    (gzip.compress(b"\x00" * 10), "not a readable model.tar.gz"),
    (b"\x1f\x8b\x08\x00" + bytes(20), "not a readable model.tar.gz"),
])
def test_a_file_that_is_no_tar_gz_is_refused(tmp_path, content, message):
    (tmp_path / "model.tar.gz").write_bytes(content)
    with pytest.raises(ValueError, match=message):
        load_model(tmp_path / "model.tar.gz")


def test_a_truncated_tar_gz_is_refused(tmp_path):
    write_tar(tmp_path / "model.tar.gz", [("model_algo-1", MODEL)])
    content = (tmp_path / "model.tar.gz").read_bytes()
    for keep in (10, len(content) // 2, len(content) - 4):
        (tmp_path / "cut.tar.gz").write_bytes(content[:keep])
        with pytest.raises(ValueError, match="not a readable model.tar.gz|truncated|holds no"):
            load_model(tmp_path / "cut.tar.gz")


def test_a_member_claiming_more_than_max_bytes_is_refused_before_it_is_read(tmp_path):
    header = tarfile.TarInfo("model_algo-1")
    header.size = 5 << 30  # 5 GiB claimed; a few real bytes follow
    (tmp_path / "model.tar.gz").write_bytes(gzip.compress(header.tobuf(tarfile.GNU_FORMAT) + bytes(4096)))
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"has 5368709120 bytes, more than max_bytes=1073741824"):
            load_model(tmp_path / "model.tar.gz")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_a_decompression_bomb_is_stopped_at_max_bytes_in_bounded_memory(tmp_path):
    # 48 MiB of zeros in six members compress to about 50 KB; max_bytes is 8 MiB.
    chunk = bytes(8 << 20)
    write_tar(tmp_path / "bomb.tar.gz", [(f"state_{i}", chunk) for i in range(6)] + [("model_algo-1", MODEL)])
    assert (tmp_path / "bomb.tar.gz").stat().st_size < 200_000
    del chunk
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"decompresses to more than max_bytes=8388608 bytes"):
            load_model(tmp_path / "bomb.tar.gz", max_bytes=8 << 20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 << 20, f"peak {peak} bytes while rejecting"
    # The same archive with room for it loads.
    assert load_model(tmp_path / "bomb.tar.gz", max_bytes=64 << 20).k == 2


# Fuzzing: only ValueErrors ---------------------------------------------------------------------------


@given(st.binary(max_size=300))
def test_fuzz_the_ndarray_reader_with_random_bytes(content):
    for candidate in (content, struct.pack("<QQ", 0x112, 0) + content):
        try:
            load_ndarray_list(candidate, "fuzzed")
        except NDArrayError as error:
            assert str(error).startswith("fuzzed: ")


VALID_LISTS = [
    save_ndarray_list([np.arange(12, dtype=np.float32).reshape(4, 3)]),
    save_ndarray_list([np.ones((2, 2)), np.zeros(3, np.int8)], ["a", "b"]),
    ndarray_file([v1_record(np.ones((2, 3), np.float64), 1), legacy_record(np.ones((3, 1), np.float32), 0)]),
]


@given(st.sampled_from(VALID_LISTS), st.data())
def test_fuzz_the_ndarray_reader_with_mutated_files(content, data):
    content = bytearray(content)
    for _ in range(data.draw(st.integers(1, 6))):
        position = data.draw(st.integers(0, len(content) - 1))
        content[position] = data.draw(st.sampled_from([0, 1, 2, 0x7F, 0x80, 0xC9, 0xFF]) | st.integers(0, 255))
    try:
        arrays, names = load_ndarray_list(bytes(content[:data.draw(st.integers(0, len(content)))]), "fuzzed")
    except NDArrayError:
        return
    assert all(a is None or isinstance(a, np.ndarray) for a in arrays) and len(names) in (0, len(arrays))


@given(st.data())
def test_fuzz_load_model_with_mutated_archives(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("fuzz")
    write_tar(folder / "model.tar.gz", [("model_algo-1", VALID_LISTS[0])], compress=data.draw(st.booleans()))
    content = bytearray((folder / "model.tar.gz").read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        content[data.draw(st.integers(0, len(content) - 1))] = data.draw(st.integers(0, 255))
    (folder / "model.tar.gz").write_bytes(bytes(content))
    try:
        model = load_model(folder / "model.tar.gz", max_bytes=1 << 20)
    except ValueError:
        return
    assert model.cluster_centers_.ndim == 2


def test_a_sagemaker_model_saves_natively_and_partial_fit_starts_a_new_training(tmp_path):
    import fastkmeans

    X = np.random.default_rng(2).normal(size=(1500, 4))
    save_model(KMeans(k=3, mini_batch_size=300, random_state=0).fit(X), tmp_path / "model.tar.gz")
    sagemaker = load_model(tmp_path / "model.tar.gz")
    sagemaker.save(tmp_path / "model.fkm")
    native = fastkmeans.load(tmp_path / "model.fkm")
    np.testing.assert_array_equal(native.cluster_centers_, sagemaker.cluster_centers_)
    assert getattr(native, "_state", None) is None and native.get_params() == sagemaker.get_params()
    np.testing.assert_array_equal(native.predict(X), sagemaker.predict(X))
    # No streaming state came with model_algo-1: partial_fit seeds afresh, as a new estimator would.
    sagemaker.set_params(random_state=5, mini_batch_size=300)
    fresh = KMeans(k=3, feature_dim=4, mini_batch_size=300, random_state=5)
    np.testing.assert_array_equal(sagemaker.partial_fit(X).cluster_centers_, fresh.partial_fit(X).cluster_centers_)
