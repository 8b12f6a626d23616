"""Data in: files, directories and iterables read by fastkmeans.io, and KMeans trained on them.

Every test writes real files in a temporary folder (or reads ../shared/data) and reads them back
through the public API.
"""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import scipy.sparse
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from fastkmeans import KMeans
from fastkmeans.io import CSV, NPY, PARQUET, RECORDIO, TEXT, DataError, Source, detect, open_source

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data is not beside the checkout")


def write_csv(path: Path, X: np.ndarray, header: str = "") -> Path:
    np.savetxt(path, X, delimiter=",", fmt="%.17g", header=header, comments="")
    return path


@pytest.fixture(scope="module")
def blobs() -> np.ndarray:
    X, _ = make_blobs(n_samples=6000, n_features=4, centers=5, cluster_std=1.0, random_state=3)
    return X


@pytest.fixture()
def blob_files(tmp_path: Path, blobs: np.ndarray) -> dict:
    """The same rows as CSV, gzip CSV, .npy, Parquet and a directory of three CSV parts."""
    channel = tmp_path / "train"
    channel.mkdir()
    for i, part in enumerate(np.array_split(blobs, 3)):
        write_csv(channel / f"part-{i}.csv", part)
    (channel / ".amazon.manifest").write_text("[]")
    (channel / "_SUCCESS").write_text("")
    np.save(tmp_path / "blobs.npy", blobs)
    pq.write_table(pa.table({f"x{j}": blobs[:, j] for j in range(blobs.shape[1])}), tmp_path / "blobs.parquet")
    csv = write_csv(tmp_path / "blobs.csv", blobs)
    with open(csv, "rb") as source, gzip.open(tmp_path / "blobs.csv.gz", "wb") as target:
        shutil.copyfileobj(source, target)
    return {"csv": csv, "gz": tmp_path / "blobs.csv.gz", "npy": tmp_path / "blobs.npy",
            "parquet": tmp_path / "blobs.parquet", "dir": channel}


# Formats ---------------------------------------------------------------------------------------


@given(X=hnp.arrays(np.float64, st.tuples(st.integers(1, 40), st.integers(1, 6)),
                    elements=st.floats(-1e300, 1e300, allow_nan=False, allow_infinity=False)))
def test_csv_round_trips_every_finite_float64_exactly(X):
    with tempfile.TemporaryDirectory() as folder:
        path = write_csv(Path(folder) / "x.csv", X)
        np.testing.assert_array_equal(open_source(path).read(), X)


@given(X=hnp.arrays(np.float32, st.tuples(st.integers(1, 40), st.integers(1, 6)),
                    elements=st.floats(allow_nan=False, allow_infinity=False, width=32)))
def test_csv_round_trips_every_finite_float32_exactly_in_float32(X):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.csv"
        np.savetxt(path, X, delimiter=",", fmt="%.9g")
        got = open_source(path, dtype="float32").read()
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, X)


def test_every_format_reads_the_same_rows(blob_files, blobs):
    for name, path in blob_files.items():
        got = open_source(path).read()
        assert got.dtype == np.float64, name
        np.testing.assert_array_equal(got, blobs, err_msg=name)


def test_a_directory_is_its_visible_files_sorted_and_a_list_is_read_in_order(blob_files, blobs):
    source = open_source(blob_files["dir"])
    assert [Path(path).name for path in source.files] == ["part-0.csv", "part-1.csv", "part-2.csv"]
    parts = sorted(blob_files["dir"].glob("part-*.csv"))
    np.testing.assert_array_equal(open_source(parts[::-1]).read()[:2000], blobs[4000:])
    np.testing.assert_array_equal(open_source([blob_files["npy"], blob_files["csv"]]).read(), np.vstack([blobs, blobs]))


def test_header_label_size_and_columns_pick_the_features(tmp_path):
    X = np.arange(12.0).reshape(4, 3)
    path = write_csv(tmp_path / "h.csv", X, header="a,b,c")
    np.testing.assert_array_equal(open_source(path, header=True).read(), X)
    np.testing.assert_array_equal(open_source(path, content_type="text/csv;header=present").read(), X)
    np.testing.assert_array_equal(open_source(path, header=True, columns=["c", "a"]).read(), X[:, [2, 0]])
    np.testing.assert_array_equal(open_source(path, content_type="text/csv;label_size=1;header=present").read(),
                                  X[:, 1:])
    plain = write_csv(tmp_path / "p.csv", X)
    np.testing.assert_array_equal(open_source(plain, columns=[1]).read(), X[:, [1]])
    with pytest.raises(ValueError, match="header=True"):
        open_source(plain, columns=["b"]).read()


def test_csv_quirks_blank_lines_crlf_spaces_quotes_and_no_final_newline(tmp_path):
    path = tmp_path / "q.csv"
    path.write_bytes(b'\n1, 2 ,3\r\n\n"4",5e0,6\r\n7,8,-9.5')
    np.testing.assert_array_equal(open_source(path).read(), [[1, 2, 3], [4, 5, 6], [7, 8, -9.5]])


def test_npy_keeps_float32_converts_integers_and_reads_fortran_order(tmp_path, blobs):
    np.save(tmp_path / "f32.npy", blobs.astype(np.float32))
    np.save(tmp_path / "int.npy", np.arange(6).reshape(3, 2))
    np.save(tmp_path / "fortran.npy", np.asfortranarray(blobs))
    assert open_source(tmp_path / "f32.npy").read().dtype == np.float32
    np.testing.assert_array_equal(open_source(tmp_path / "int.npy").read(), [[0.0, 1], [2, 3], [4, 5]])
    np.testing.assert_array_equal(open_source(tmp_path / "fortran.npy").read(), blobs)
    np.testing.assert_array_equal(open_source(tmp_path / "f32.npy", columns=[3, 0]).read(),
                                  blobs.astype(np.float32)[:, [3, 0]])


def test_parquet_reads_numeric_columns_or_the_chosen_ones(tmp_path):
    table = pa.table({"name": ["a", "b", "c"], "x": [1.0, 2.0, 3.0], "n": pa.array([4, 5, 6], pa.int32()),
                      "y": pa.array([0.5, 1.5, 2.5], pa.float32())})
    pq.write_table(table, tmp_path / "t.parquet")
    np.testing.assert_array_equal(open_source(tmp_path / "t.parquet").read(), [[1, 4, 0.5], [2, 5, 1.5], [3, 6, 2.5]])
    only_y = open_source(tmp_path / "t.parquet", columns=["y"]).read()
    assert only_y.dtype == np.float32 and only_y.shape == (3, 1)
    with pytest.raises(DataError, match=r"t\.parquet: the chosen column\(s\) name \(string\) are not numeric"):
        open_source(tmp_path / "t.parquet", columns=["x", "name"]).read()
    with pytest.raises(DataError, match="has no column 'z'"):
        open_source(tmp_path / "t.parquet", columns=["z"]).read()


def test_format_comes_from_content_type_else_extension_else_magic_bytes(tmp_path, blob_files, blobs):
    for name, kind in [("npy", NPY), ("parquet", PARQUET), ("csv", CSV), ("gz", CSV)]:
        assert detect(str(blob_files[name])) == kind
        renamed = tmp_path / f"renamed-{name}.data"
        shutil.copy(blob_files[name], renamed)
        assert detect(str(renamed)) == kind
        np.testing.assert_array_equal(open_source(renamed).read(), blobs)
    (tmp_path / "ws.data").write_text("1 2\n3\t4\n")
    assert detect(str(tmp_path / "ws.data")) == TEXT
    (tmp_path / "rec.data").write_bytes(b"\x0a\x23\xd7\xce" + bytes(12))
    assert detect(str(tmp_path / "rec.data")) == RECORDIO
    forced = tmp_path / "forced.bin"
    forced.write_text("1 2\n3 4\n")
    np.testing.assert_array_equal(open_source(forced, content_type="text/plain").read(), [[1, 2], [3, 4]])


def test_an_iterable_of_arrays_dataframes_and_sparse_matrices_is_a_source(blobs):
    parts = np.array_split(blobs, 4)
    items = [parts[0], pd.DataFrame(parts[1]), scipy.sparse.csr_matrix(parts[2]), parts[3].tolist()]
    np.testing.assert_array_equal(Source(items).read(), blobs)
    np.testing.assert_array_equal(Source(iter(parts)).read(), blobs)


@needs_data
def test_real_whitespace_and_header_files_from_shared_data():
    s1 = open_source(DATA / "sipu" / "s1.txt").read()
    np.testing.assert_array_equal(s1, np.loadtxt(DATA / "sipu" / "s1.txt"))
    crime = open_source(DATA / "statecrime" / "statecrime.csv", header=True, columns=list(range(1, 8))).read()
    expected = np.genfromtxt(DATA / "statecrime" / "statecrime.csv", delimiter=",", skip_header=1, usecols=range(1, 8))
    np.testing.assert_array_equal(crime, expected)


# Training and inference on sources -------------------------------------------------------------


def test_streamed_fit_finds_the_blobs_as_well_as_the_in_memory_fit(blob_files, blobs):
    truth = make_blobs(n_samples=6000, n_features=4, centers=5, cluster_std=1.0, random_state=3)[1]
    memory = KMeans(k=5, mini_batch_size=500, epochs=3, init_method="kmeans++", random_state=0).fit(blobs)
    for name in ("csv", "dir", "parquet"):
        model = KMeans(k=5, mini_batch_size=500, epochs=3, init_method="kmeans++", random_state=0)
        model.fit(open_source(blob_files[name], shuffle_buffer_rows=1000))  # a buffer smaller than the data
        assert adjusted_rand_score(truth, model.predict(blobs)) > 0.99, name
        assert model.evaluate(blobs)["msd"] == pytest.approx(memory.evaluate(blobs)["msd"], rel=0.03), name


def test_streamed_fit_is_deterministic_and_independent_of_how_the_rows_are_cut(blob_files, blobs):
    def fit(data, random_state=7):
        model = KMeans(k=5, mini_batch_size=300, epochs=2, random_state=random_state)
        return model.fit(open_source(data, shuffle_buffer_rows=1000)).cluster_centers_

    reference = fit(blob_files["csv"])
    np.testing.assert_array_equal(fit(blob_files["csv"]), reference)
    for data in (blob_files["npy"], blob_files["dir"], blob_files["gz"], np.array_split(blobs, 7)):
        np.testing.assert_array_equal(fit(data), reference)
    assert not np.array_equal(fit(blob_files["csv"], random_state=8), reference)


def test_a_streamed_fit_reports_sagemakers_train_metrics_and_keeps_no_labels(blob_files):
    model = KMeans(k=5, mini_batch_size=500, eval_metrics=["msd", "ssd"], random_state=0).fit(blob_files["csv"])
    assert model.n_features_in_ == 4 and model.n_steps_ == 12
    assert not hasattr(model, "labels_") and not hasattr(model, "cluster_sizes_")
    assert model.inertia_ == model.train_metrics_["ssd"] > 0
    assert model.train_metrics_["msd"] == pytest.approx(model.inertia_ / model.cluster_weights_.sum())
    assert model.cluster_weights_.sum() == pytest.approx(6000)


def test_lloyd_on_a_source_reads_it_into_memory(blob_files, blobs):
    streamed = KMeans(k=5, algorithm="lloyd", random_state=0).fit(blob_files["npy"])
    memory = KMeans(k=5, algorithm="lloyd", random_state=0).fit(blobs)
    np.testing.assert_array_equal(streamed.cluster_centers_, memory.cluster_centers_)
    np.testing.assert_array_equal(streamed.labels_, memory.labels_)


def test_partial_fit_on_a_source_is_one_epoch_of_fit_and_continues_a_state(blob_files, blobs):
    fitted = KMeans(k=5, mini_batch_size=500, random_state=1).fit(blob_files["csv"])
    partial = KMeans(k=5, mini_batch_size=500, random_state=1).partial_fit(blob_files["csv"])
    np.testing.assert_array_equal(partial.cluster_centers_, fitted.cluster_centers_)
    partial.partial_fit(blob_files["dir"]).partial_fit(blobs[:1000])
    assert partial.n_steps_ == 12 + 12 + 2
    assert partial.cluster_weights_.sum() == pytest.approx(13000)


def test_predict_assign_transform_score_and_evaluate_on_a_source_equal_those_on_the_array(blob_files, blobs):
    model = KMeans(k=5, eval_metrics=["ssd", "msd"], random_state=0).fit(blobs)
    for name in ("csv", "dir", "npy"):
        np.testing.assert_array_equal(model.predict(blob_files[name]), model.predict(blobs))
        for got, expected in zip(model.assign(blob_files[name]), model.assign(blobs)):
            np.testing.assert_array_equal(got, expected)
        np.testing.assert_allclose(model.transform(blob_files[name]), model.transform(blobs), rtol=1e-12)
        assert model.score(blob_files[name]) == pytest.approx(model.score(blobs), rel=1e-12)
        got, expected = model.evaluate(blob_files[name]), model.evaluate(blobs)
        assert list(got) == ["ssd", "msd"] and got == pytest.approx(expected, rel=1e-12)
    labels = KMeans(k=5, random_state=0).fit_predict(blob_files["csv"])
    np.testing.assert_array_equal(labels, KMeans(k=5, random_state=0).fit(blob_files["csv"]).predict(blobs))


def test_the_test_channel_reports_test_msd_and_ssd_as_evaluate_does(blob_files, blobs):
    hp = {"k": 5, "mini_batch_size": 500, "eval_metrics": ["msd", "ssd"], "random_state": 0}
    test = blobs[::3]
    streamed = KMeans(**hp).fit(blob_files["dir"], test=open_source([blob_files["npy"]]))
    assert streamed.test_metrics_ == pytest.approx(streamed.evaluate(blobs), rel=1e-12)
    memory = KMeans(**hp).fit(blobs, test=test)
    assert memory.test_metrics_ == pytest.approx(memory.evaluate(test), rel=1e-12)
    assert not hasattr(KMeans(**hp).fit(blobs), "test_metrics_")


def test_a_generator_serves_one_pass_and_more_epochs_need_a_reiterable(blobs):
    model = KMeans(k=5, mini_batch_size=500, random_state=0).fit(chunk for chunk in np.array_split(blobs, 5))
    assert model.n_steps_ == 12
    with pytest.raises(ValueError, match="an iterator can be read only once"):
        KMeans(k=5, epochs=2).fit(iter(np.array_split(blobs, 5)))
    assert KMeans(k=5, epochs=2, mini_batch_size=500).fit(np.array_split(blobs, 5)).n_steps_ == 24


# Bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, message", [
    ("1,2,3\n4,5,6\n7,8\n", r"bad\.csv, line 3: 2 columns, but the file's first row has 3"),
    ("1,2\n3,4\n\n5,6,7\n", r"bad\.csv, line 4: 3 columns, but the file's first row has 2"),
    ("1,2\n3,abc\n", r"bad\.csv, line 2, column 2: 'abc' is not a number"),
    ("1,2\n3,\n", r"bad\.csv, line 2, column 2: '' is not a number \(an empty cell\)"),
    ("1,2\n\n\n3,nan\n", r"bad\.csv, line 4, column 2: NaN or infinity \(nan\)"),
    ("1,2\n-inf,4\n", r"bad\.csv, line 2, column 1: NaN or infinity \(-inf\)"),
    ("x,y\n1,2\n", r"bad\.csv, line 1, column 1: 'x' is not a number \(if the file starts with a header row"),
    ("", r"bad\.csv is empty"),
    ("\n\n", r"bad\.csv is empty"),
])
def test_bad_csv_names_the_file_and_the_line(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        KMeans(k=1).fit(path)


def test_errors_deep_in_a_large_gzip_file_name_the_exact_line(tmp_path):
    rows = ["1.5,2.5,3.5"] * 400_000  # several parse segments
    rows[345_677] = "1.5,oops,3.5"
    with gzip.open(tmp_path / "big.csv.gz", "wt") as file:
        file.write("\n".join(rows))
    with pytest.raises(DataError, match=r"big\.csv\.gz, line 345678, column 2: 'oops' is not a number"):
        open_source(tmp_path / "big.csv.gz").read()


def test_other_bad_inputs_name_the_file(tmp_path, blobs):
    (tmp_path / "header_only.csv").write_text("a,b\n")
    with pytest.raises(DataError, match=r"header_only\.csv has a header row but no data"):
        open_source(tmp_path / "header_only.csv", header=True).read()
    np.save(tmp_path / "good.npy", blobs)
    (tmp_path / "truncated.npy").write_bytes((tmp_path / "good.npy").read_bytes()[:-100])
    with pytest.raises(DataError, match=r"truncated\.npy is not a readable \.npy file"):
        KMeans(k=2).fit(tmp_path / "truncated.npy")
    np.save(tmp_path / "nan.npy", np.where(np.arange(12).reshape(6, 2) == 9, np.nan, 1.0))
    with pytest.raises(DataError, match=r"nan\.npy, row 4, column 2: NaN or infinity"):
        KMeans(k=2).fit(tmp_path / "nan.npy")
    for name in ("zero.npy", "zero.pbr", "zero.parquet"):
        (tmp_path / name).write_bytes(b"")
        with pytest.raises(DataError, match=rf"{name} is empty"):
            KMeans(k=2).fit(tmp_path / name)
    (tmp_path / "broken.parquet").write_bytes(b"PAR1" + bytes(100))
    with pytest.raises(DataError, match=r"broken\.parquet is not a readable Parquet file"):
        KMeans(k=2).fit(tmp_path / "broken.parquet")
    with gzip.open(tmp_path / "x.npy.gz", "wb") as file:
        file.write((tmp_path / "good.npy").read_bytes())
    with pytest.raises(DataError, match=r"x\.npy\.gz is gzip-compressed application/x-npy"):
        open_source(tmp_path / "x.npy.gz")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="is a directory with no data file"):
        open_source(tmp_path / "empty")
    with pytest.raises(ValueError, match="Unknown content type 'text/json'"):
        open_source(tmp_path / "good.npy", content_type="text/json")


def test_a_feature_count_other_than_feature_dim_names_the_file(tmp_path, blobs):
    write_csv(tmp_path / "a.csv", blobs[:10])
    write_csv(tmp_path / "b.csv", blobs[:10, :3])
    with pytest.raises(DataError, match=r"a\.csv, line 1: the data has 4 features, but feature_dim=3"):
        KMeans(k=2, feature_dim=3).fit(tmp_path / "a.csv")
    with pytest.raises(DataError, match=r"b\.csv, line 1: 3 features, but .*a\.csv, line 1 has 4"):
        KMeans(k=2).fit(tmp_path)
    model = KMeans(k=2, random_state=0).fit(blobs)
    with pytest.raises(DataError, match=r"b\.csv, line 1: X has 3 features, but KMeans is expecting 4"):
        model.predict(tmp_path / "b.csv")


def test_fewer_rows_than_k_in_a_file_names_both_numbers_and_the_file(tmp_path, blobs):
    write_csv(tmp_path / "small.csv", blobs[:7])
    with pytest.raises(ValueError, match=r"n_samples=7 should be >= k=8 \(the data from .*small\.csv\)"):
        KMeans(k=8).fit(tmp_path / "small.csv")


def test_a_missing_path_is_file_not_found_naming_it(tmp_path, blobs):
    with pytest.raises(FileNotFoundError, match="nowhere.csv"):
        KMeans(k=2).fit(tmp_path / "nowhere.csv")
    np.save(tmp_path / "good.npy", blobs)
    with pytest.raises(FileNotFoundError, match="nowhere.csv"):
        KMeans(k=2).fit([tmp_path / "good.npy", tmp_path / "nowhere.csv"])


class BadOnPass:
    """Re-iterable chunks whose pass number ``bad_pass`` (0-based) holds a NaN in its last chunk."""

    def __init__(self, X, bad_pass):
        self.X, self.bad_pass, self.passes = X, bad_pass, 0

    def __iter__(self):
        chunks = np.array_split(self.X, 4)
        if self.passes == self.bad_pass:
            chunks[-1] = chunks[-1].copy()
            chunks[-1][10, 1] = np.nan
        self.passes += 1
        return iter(chunks)


def test_a_failure_in_a_later_epoch_leaves_no_model_and_keeps_the_old_one(tmp_path, blobs):
    fresh = KMeans(k=5, epochs=3, mini_batch_size=500, random_state=0)
    with pytest.raises(DataError, match=r"item 3 of the iterable, row 10, column 2: NaN"):
        fresh.fit(BadOnPass(blobs, bad_pass=2))
    assert not hasattr(fresh, "cluster_centers_") and not hasattr(fresh, "_state")
    fitted = KMeans(k=5, epochs=3, mini_batch_size=500, random_state=0).fit(blobs)
    before = {name: getattr(fitted, name) for name in ("cluster_centers_", "labels_", "n_steps_", "_state")}
    with pytest.raises(DataError):
        fitted.fit(BadOnPass(blobs, bad_pass=1))
    with pytest.raises(DataError):
        fitted.partial_fit(BadOnPass(blobs, bad_pass=0))
    (tmp_path / "bad.csv").write_text("1,2,3,4\n" * 50 + "1,2,x,4\n")
    with pytest.raises(DataError, match="line 51"):
        fitted.fit(blobs, test=tmp_path / "bad.csv")
    for name, value in before.items():
        assert getattr(fitted, name) is value


def test_recordio_files_train_like_the_array(tmp_path, blobs):
    from fastkmeans.io import _recordio as recordio

    X = blobs.astype(np.float32)
    for i, part in enumerate(np.array_split(X, 3)):
        recordio.write_recordio(part, str(tmp_path / f"part-{i}.pbr"))
    np.testing.assert_array_equal(open_source(tmp_path).read(), X)
    streamed = KMeans(k=5, mini_batch_size=500, random_state=0).fit(tmp_path)
    memory = KMeans(k=5, mini_batch_size=500, random_state=0).fit(np.array_split(X, 5))
    np.testing.assert_array_equal(streamed.cluster_centers_, memory.cluster_centers_)
    sparse = scipy.sparse.random(200, 30, density=0.1, format="csr", dtype=np.float32, random_state=0)
    recordio.write_recordio(sparse, str(tmp_path / "sparse.rec"))
    read_back = open_source(tmp_path / "sparse.rec").read()
    assert scipy.sparse.issparse(read_back)  # sparse records stay sparse
    np.testing.assert_array_equal(read_back.toarray(), sparse.toarray())
    data = (tmp_path / "part-0.pbr").read_bytes()
    (tmp_path / "cut.pbr").write_bytes(data[: len(data) // 2 + 3])
    with pytest.raises(ValueError, match=r"cut\.pbr.*record"):
        KMeans(k=2).fit(tmp_path / "cut.pbr")


@pytest.mark.slow
@needs_data
def test_kddcup99_gzip_csv_with_string_columns_streams_its_numeric_columns():
    path = DATA / "kddcup99" / "kddcup.data_10_percent.gz"
    columns = [0] + list(range(4, 41))
    X = open_source(path, columns=columns).read()
    assert X.shape == (494021, 38)
    expected = pd.read_csv(path, header=None, usecols=columns).to_numpy(dtype=np.float64)
    np.testing.assert_array_equal(X, expected)
    model = KMeans(k=23, random_state=0).fit(open_source(path, columns=columns))
    assert model.cluster_centers_.shape == (23, 38) and os.path.getsize(path) < 3e6


def test_without_pyarrow_csv_and_parquet_say_what_to_install(tmp_path, monkeypatch, blobs):
    write_csv(tmp_path / "a.csv", blobs[:10])
    np.save(tmp_path / "a.npy", blobs[:10])
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # makes `import pyarrow` raise ImportError
    with pytest.raises(ImportError, match=r"Reading CSV needs pyarrow: pip install 'fastkmeans-sagemaker\[io\]'"):
        KMeans(k=2).fit(tmp_path / "a.csv")
    (tmp_path / "a.parquet").write_bytes(b"PAR1" + bytes(8) + b"PAR1")
    with pytest.raises(ImportError, match="Reading Parquet needs pyarrow"):
        open_source(tmp_path / "a.parquet").read()
    assert KMeans(k=2, random_state=0).fit(tmp_path / "a.npy").n_features_in_ == 4  # .npy needs numpy only


STREAMED_LONG_FIT = textwrap.dedent("""
    import sys, numpy as np
    from fastkmeans import KMeans
    np.savetxt(sys.argv[1], np.random.default_rng(0).normal(size=(50_000, 8)), delimiter=",", fmt="%.5f")
    print("ready", flush=True)
    model = KMeans(k=50, epochs=100_000, mini_batch_size=1000, random_state=0)
    try:
        model.fit(sys.argv[1])
    except KeyboardInterrupt:
        print("interrupted", hasattr(model, "cluster_centers_"), flush=True)
        sys.exit(3)
""")


def test_ctrl_c_stops_a_streamed_fit_within_a_second_and_leaves_no_model(tmp_path):
    process = subprocess.Popen([sys.executable, "-c", STREAMED_LONG_FIT, str(tmp_path / "x.csv")],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "ready"
        time.sleep(1.5)  # well inside the fit, which takes hours
        assert process.poll() is None
        sent = time.perf_counter()
        process.send_signal(signal.SIGINT)
        out = process.stdout.readline()  # the fit has stopped: the time to here is what Ctrl-C costs
        elapsed = time.perf_counter() - sent
        process.communicate(timeout=10)
    finally:
        process.kill()
    assert out.strip() == "interrupted False" and process.returncode == 3
    assert elapsed < 1.0, f"took {elapsed:.2f} s to stop"


def test_read_ahead_keeps_the_order_passes_errors_and_stops_when_the_reader_stops():
    from fastkmeans.io._prefetch import prefetch

    closed = []

    def blocks(fail_at=None):
        try:
            for i in range(100):
                if i == fail_at:
                    raise DataError(f"block {i} is bad")
                yield i
        finally:
            closed.append(True)

    assert list(prefetch(blocks)) == list(range(100))
    with pytest.raises(DataError, match="block 7 is bad"):
        assert list(prefetch(lambda: blocks(fail_at=7))) == []
    reader = prefetch(blocks)
    assert [next(reader) for _ in range(3)] == [0, 1, 2]
    reader.close()
    for _ in range(100):
        if len(closed) == 3:
            break
        time.sleep(0.01)
    assert closed == [True, True, True]
