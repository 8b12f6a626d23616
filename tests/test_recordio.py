"""RecordIO-protobuf: SageMaker's bytes, an independent protobuf runtime, round trips, bad files.

The independent check: the official ``protobuf`` runtime, with SageMaker's ``record.proto`` built
from its descriptor at test time (no protoc), runs the SDK's writer (``write_numpy_to_dense_tensor``
and ``write_spmatrix_to_sparse_tensor``, transcribed) and parses what fastkmeans writes.
"""

import io
import os
import pickle
import struct
import threading

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fastkmeans import KMeans, _core
from fastkmeans.io import RecordIOError, iter_recordio, read_recordio, write_recordio

MAGIC = 0xCED7230A


# --- SageMaker's record.proto and the SDK's writers, on the official protobuf runtime ----------------


def _record_class():
    descriptor_pb2 = pytest.importorskip("google.protobuf.descriptor_pb2")
    from google.protobuf import descriptor_pool, message_factory

    F = descriptor_pb2.FieldDescriptorProto
    proto = descriptor_pb2.FileDescriptorProto(name="aialgs_record.proto", package="aialgs.data", syntax="proto2")
    packed = descriptor_pb2.FieldOptions(packed=True)
    scalars = [("Float32Tensor", F.TYPE_FLOAT), ("Float64Tensor", F.TYPE_DOUBLE), ("Int32Tensor", F.TYPE_INT32)]
    for name, scalar in scalars:
        message = proto.message_type.add(name=name)
        message.field.add(name="values", number=1, label=F.LABEL_REPEATED, type=scalar, options=packed)
        message.field.add(name="keys", number=2, label=F.LABEL_REPEATED, type=F.TYPE_UINT64, options=packed)
        message.field.add(name="shape", number=3, label=F.LABEL_REPEATED, type=F.TYPE_UINT64, options=packed)
    message = proto.message_type.add(name="Bytes")
    message.field.add(name="value", number=1, label=F.LABEL_REPEATED, type=F.TYPE_BYTES)
    message.field.add(name="content_type", number=2, label=F.LABEL_OPTIONAL, type=F.TYPE_STRING)
    value = proto.message_type.add(name="Value")
    value.oneof_decl.add(name="value")
    for name, number, type_name in [("float32_tensor", 2, "Float32Tensor"), ("float64_tensor", 3, "Float64Tensor"),
                                    ("int32_tensor", 7, "Int32Tensor"), ("bytes", 9, "Bytes")]:
        value.field.add(name=name, number=number, label=F.LABEL_OPTIONAL, type=F.TYPE_MESSAGE,
                        type_name=f".aialgs.data.{type_name}", oneof_index=0)
    record = proto.message_type.add(name="Record")
    for name, number, entry in [("features", 1, "FeaturesEntry"), ("label", 2, "LabelEntry")]:
        nested = record.nested_type.add(name=entry, options=descriptor_pb2.MessageOptions(map_entry=True))
        nested.field.add(name="key", number=1, label=F.LABEL_OPTIONAL, type=F.TYPE_STRING)
        nested.field.add(name="value", number=2, label=F.LABEL_OPTIONAL, type=F.TYPE_MESSAGE,
                         type_name=".aialgs.data.Value")
        record.field.add(name=name, number=number, label=F.LABEL_REPEATED, type=F.TYPE_MESSAGE,
                         type_name=f".aialgs.data.Record.{entry}")
    for name, number in [("uid", 3), ("metadata", 4), ("configuration", 5)]:
        record.field.add(name=name, number=number, label=F.LABEL_OPTIONAL, type=F.TYPE_STRING)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("aialgs.data.Record"))


Record = _record_class()


def _tensor(value, dtype):
    # The SDK's _resolve_type: np.dtype(int) -> Int32, np.dtype(float) -> Float64, float32 -> Float32.
    return {np.dtype(int): value.int32_tensor, np.dtype(float): value.float64_tensor,
            np.dtype("float32"): value.float32_tensor}[np.dtype(dtype)]


def _write_recordio(f, data):
    # serializer_utils._write_recordio.
    length = len(data)
    f.write(struct.pack("I", MAGIC))
    f.write(struct.pack("I", length))
    pad = (((length + 3) >> 2) << 2) - length
    f.write(data)
    f.write(b"\x00" * pad)


def sdk_write_dense(array, labels=None):
    """serializer_utils.write_numpy_to_dense_tensor, on the official protobuf runtime."""
    f = io.BytesIO()
    record = Record()
    for index, vector in enumerate(array):
        record.Clear()
        _tensor(record.features["values"], array.dtype).values.extend(vector)
        if labels is not None:
            _tensor(record.label["values"], labels.dtype).values.extend([labels[index]])
        _write_recordio(f, record.SerializeToString())
    return f.getvalue()


def sdk_write_sparse(array, labels=None):
    """serializer_utils.write_spmatrix_to_sparse_tensor, on the official protobuf runtime."""
    f = io.BytesIO()
    csr = array.tocsr()
    n_rows, n_cols = csr.shape
    record = Record()
    for row_idx in range(n_rows):
        record.Clear()
        row = csr.getrow(row_idx)
        tensor = _tensor(record.features["values"], csr.dtype)
        tensor.values.extend(row.data)
        tensor.keys.extend(row.indices.astype(np.uint64))
        if labels is not None:
            _tensor(record.label["values"], labels.dtype).values.extend([labels[row_idx]])
        tensor.shape.extend([n_cols])
        _write_recordio(f, record.SerializeToString())
    return f.getvalue()


def parse_records(data):
    """Every Record of a RecordIO file (cflag 0 only, as the SDK's reader)."""
    records, pos = [], 0
    while pos < len(data):
        magic, length = struct.unpack_from("<II", data, pos)
        assert magic == MAGIC
        records.append(Record.FromString(data[pos + 8:pos + 8 + length]))
        pos += 8 + ((length + 3) & ~3)
    return records


def dmlc_write_record(f, data):
    """dmlc-core's RecordIOWriter::WriteRecord: split where the magic sits at a 4-aligned offset."""
    magic = struct.pack("<I", MAGIC)
    dptr = 0
    for i in range(0, len(data) // 4 * 4, 4):
        if data[i:i + 4] == magic:
            f.write(magic + struct.pack("<I", ((1 if dptr == 0 else 2) << 29) | (i - dptr)) + data[dptr:i])
            dptr = i + 4
    f.write(magic + struct.pack("<I", ((3 if dptr else 0) << 29) | (len(data) - dptr)) + data[dptr:])
    f.write(b"\x00" * ((-len(data)) % 4))


def write_bytes(tmp_path, data, name="data.pbr"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --- The SDK's bytes ---------------------------------------------------------------------------------


def test_a_float32_row_is_written_as_the_documented_bytes(tmp_path):
    path = tmp_path / "row.pbr"
    write_recordio(np.array([[1.0, 2.0]], dtype=np.float32), path)
    header = bytes.fromhex("0a23d7ce 18000000 0a16 0a06")
    expected = header + b"values" + bytes.fromhex("120c 120a 0a08 0000803f 00000040")
    assert path.read_bytes() == expected and len(expected) == 32


def test_a_label_is_appended_as_the_documented_bytes(tmp_path):
    path = tmp_path / "row.pbr"
    write_recordio(np.array([[1.0, 2.0]], dtype=np.float32), path, labels=np.array([3.0], dtype=np.float32))
    data = path.read_bytes()
    assert data[4:8] == bytes.fromhex("2c000000")
    assert data[32:] == bytes.fromhex("1212 0a06") + b"values" + bytes.fromhex("1208 1206 0a04 00004040")


def test_a_sparse_row_has_the_documented_tensor_body(tmp_path):
    path = tmp_path / "row.pbr"
    write_recordio(sp.csr_matrix((np.array([1.0, 2.0], dtype=np.float32), [1, 3], [0, 2]), shape=(1, 4)), path)
    body = bytes.fromhex("0a08 0000803f 00000040 1202 0103 1a01 04")
    data = path.read_bytes()
    assert data[8 + 31 - len(body):8 + 31] == body and data[4] == 31 and data[39:] == b"\x00"


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("with_labels", [False, True])
def test_dense_files_are_byte_identical_to_the_sdk_writer(tmp_path, dtype, with_labels):
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(50, 7)) * 1000).astype(dtype)
    labels = rng.integers(0, 5, size=50).astype(np.float64) if with_labels else None
    write_recordio(X, tmp_path / "x.pbr", labels=labels)
    assert (tmp_path / "x.pbr").read_bytes() == sdk_write_dense(X, labels)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_files_are_byte_identical_to_the_sdk_writer(tmp_path, dtype):
    X = sp.random(40, 30, density=0.1, format="csr", dtype=dtype, random_state=1)
    X = sp.vstack([X[:3], sp.csr_matrix((1, 30), dtype=dtype), X[4:]]).tocsr()  # row 3 is empty
    labels = np.arange(40, dtype=np.float32)
    write_recordio(X, tmp_path / "x.pbr", labels=labels)
    assert (tmp_path / "x.pbr").read_bytes() == sdk_write_sparse(X, labels)


@pytest.mark.slow  # needs the SageMaker SDK: pip install sagemaker, then pytest -m slow
def test_byte_identical_to_the_installed_sagemaker_sdk(tmp_path):
    from sagemaker.amazon import common as serializers
    X = np.random.default_rng(2).normal(size=(20, 5)).astype(np.float32)
    f = io.BytesIO()
    serializers.write_numpy_to_dense_tensor(f, X, np.arange(20, dtype=np.float32))
    write_recordio(X, tmp_path / "x.pbr", labels=np.arange(20, dtype=np.float32))
    assert (tmp_path / "x.pbr").read_bytes() == f.getvalue()


def test_the_official_protobuf_runtime_reads_what_we_write(tmp_path):
    X = np.array([[1, -2, 3], [2**31 - 1, -(2**31), 0]])
    write_recordio(X, tmp_path / "x.pbr", labels=np.array([0.5, 1.5], dtype=np.float32))
    records = parse_records((tmp_path / "x.pbr").read_bytes())
    assert [list(r.features["values"].int32_tensor.values) for r in records] == X.tolist()
    assert [list(r.label["values"].float32_tensor.values) for r in records] == [[0.5], [1.5]]


def test_files_of_the_sdk_writer_read_back(tmp_path):
    X = np.random.default_rng(3).normal(size=(30, 4))
    path = write_bytes(tmp_path, sdk_write_dense(X, np.ones(30)))
    np.testing.assert_array_equal(read_recordio(path), X)
    S = sp.random(30, 9, density=0.2, format="csr", dtype=np.float32, random_state=4)
    path = write_bytes(tmp_path, sdk_write_sparse(S), "sparse.pbr")
    got = read_recordio(path)
    assert sp.issparse(got) and got.dtype == np.float32 and got.shape == (30, 9)
    assert (got != S).nnz == 0


# --- What records may hold -----------------------------------------------------------------------


def _record_bytes(fill, labels=None):
    record = Record()
    fill(record.features["values"])
    return record.SerializeToString()


def _file(*payloads):
    f = io.BytesIO()
    for payload in payloads:
        _write_recordio(f, payload)
    return f.getvalue()


def test_a_two_dimensional_tensor_holds_several_rows(tmp_path):
    def block(value):
        value.float64_tensor.values.extend(range(6))
        value.float64_tensor.shape.extend([3, 2])

    def sparse_block(value):  # sagemaker-spark's keys: row * n_cols + col
        value.float32_tensor.values.extend([7.0, 8.0])
        value.float32_tensor.keys.extend([5, 0])
        value.float32_tensor.shape.extend([3, 2])

    dense = read_recordio(write_bytes(tmp_path, _file(_record_bytes(block))))
    np.testing.assert_array_equal(dense, np.arange(6.0).reshape(3, 2))
    sparse = read_recordio(write_bytes(tmp_path, _file(_record_bytes(sparse_block)), "s.pbr"))
    np.testing.assert_array_equal(sparse.toarray(), [[8.0, 0.0], [0.0, 0.0], [0.0, 7.0]])


def test_records_split_by_dmlc_core_are_joined(tmp_path):
    # A float whose bits are the magic lands on a 4-aligned offset of the payload: dmlc-core splits there.
    X = np.array([[1.0, np.frombuffer(struct.pack("<I", MAGIC), np.float32)[0], 2.0]] * 3, dtype=np.float32)
    f = io.BytesIO()
    for payload in [Record.SerializeToString(r) for r in parse_records(sdk_write_dense(X))]:
        dmlc_write_record(f, payload)
    data = f.getvalue()
    assert struct.unpack_from("<I", data, 4)[0] >> 29 == 1  # really split
    got = read_recordio(write_bytes(tmp_path, data))
    assert got.tobytes() == X.tobytes()


# --- Round trips ---------------------------------------------------------------------------------


@given(X=hnp.arrays(st.sampled_from([np.float32, np.float64]), hnp.array_shapes(min_dims=2, max_dims=2, max_side=9),
                    elements={"allow_nan": False, "allow_subnormal": True}))
def test_dense_float_arrays_round_trip_exactly(tmp_path_factory, X):
    path = tmp_path_factory.mktemp("rt") / "x.pbr"
    write_recordio(X, path)
    got = read_recordio(path)
    assert got.dtype == X.dtype and got.shape == X.shape and got.tobytes() == X.tobytes()


def _int32_valued(dtype):
    info = np.iinfo(dtype)
    elements = hnp.from_dtype(np.dtype(dtype), min_value=max(info.min, -(2**31)), max_value=min(info.max, 2**31 - 1))
    return hnp.arrays(dtype, hnp.array_shapes(min_dims=2, max_dims=2), elements=elements)


@given(X=st.sampled_from([np.int8, np.int32, np.int64, np.uint16]).flatmap(_int32_valued))
def test_integer_arrays_round_trip_as_float64(tmp_path_factory, X):
    path = tmp_path_factory.mktemp("rt") / "x.pbr"
    write_recordio(X, path)
    got = read_recordio(path)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, X.astype(np.float64))


@given(n_rows=st.integers(1, 30), n_cols=st.integers(1, 50), density=st.floats(0, 1), seed=st.integers(0, 2**32 - 1),
       dtype=st.sampled_from([np.float32, np.float64]), batch_rows=st.integers(1, 40))
def test_sparse_matrices_round_trip_in_batches(tmp_path_factory, n_rows, n_cols, density, seed, dtype, batch_rows):
    X = sp.random(n_rows, n_cols, density=density, format="csr", dtype=dtype, random_state=seed)
    path = tmp_path_factory.mktemp("rt") / "x.pbr"
    write_recordio(X, path)
    batches = list(iter_recordio(path, batch_rows))
    assert [first for _, first in batches] == list(range(0, n_rows, batch_rows))
    got = sp.vstack([batch for batch, _ in batches]).tocsr()
    assert got.dtype == dtype and got.shape == X.shape and (got != X).nnz == 0


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_streams_as_in_sagemaker_pipe_mode(tmp_path):
    fifo = tmp_path / "train_0"
    os.mkfifo(fifo)
    X = np.random.default_rng(6).normal(size=(1000, 3)).astype(np.float32)

    def feed():
        with open(fifo, "wb") as f:
            f.write(sdk_write_dense(X))

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        batches = list(iter_recordio(fifo, batch_rows=300))
    finally:
        writer.join(timeout=10)
    assert [first for _, first in batches] == [0, 300, 600, 900]
    assert np.vstack([batch for batch, _ in batches]).tobytes() == X.tobytes()


def test_batches_hold_batch_rows_rows_and_name_their_first_record(tmp_path):
    X = np.arange(22, dtype=np.float64).reshape(11, 2)
    write_recordio(X, tmp_path / "x.pbr")
    batches = list(iter_recordio(tmp_path / "x.pbr", batch_rows=4))
    assert [(first, batch.shape) for batch, first in batches] == [(0, (4, 2)), (4, (4, 2)), (8, (3, 2))]
    np.testing.assert_array_equal(np.vstack([b for b, _ in batches]), X)


@pytest.mark.parametrize("batch_rows", [0, -1, 2.5, "5", True])
def test_batch_rows_must_be_a_positive_integer(tmp_path, batch_rows):
    write_recordio(np.ones((2, 2)), tmp_path / "x.pbr")
    with pytest.raises(ValueError, match="batch_rows must be an integer >= 1"):
        iter_recordio(tmp_path / "x.pbr", batch_rows)


def test_streaming_training_from_a_recordio_file(tmp_path):
    rng = np.random.default_rng(5)
    X = np.concatenate([rng.normal(c, 0.1, size=(300, 3)) for c in (0.0, 10.0)]).astype(np.float32)
    write_recordio(X[rng.permutation(600)], tmp_path / "train.pbr")
    model = KMeans(k=2, mini_batch_size=100, random_state=0)
    for batch, _ in iter_recordio(tmp_path / "train.pbr", batch_rows=100):
        model.partial_fit(batch)
    np.testing.assert_allclose(np.sort(model.cluster_centers_[:, 0]), [0.0, 10.0], atol=0.1)


# --- Bad files -----------------------------------------------------------------------------------


def _three_records(tmp_path):
    write_recordio(np.ones((3, 2), dtype=np.float32), tmp_path / "x.pbr")
    return bytearray((tmp_path / "x.pbr").read_bytes())  # 3 records of 32 bytes


def _read_error(tmp_path, data):
    path = write_bytes(tmp_path, bytes(data), "bad.pbr")
    with pytest.raises(RecordIOError) as read_error:
        read_recordio(path)
    with pytest.raises(RecordIOError) as iter_error:
        list(iter_recordio(path, batch_rows=1))
    assert str(read_error.value) == str(iter_error.value)
    assert str(read_error.value).startswith(f"{path}: ")
    assert read_error.value.path == str(path)
    return read_error.value


def test_a_bad_magic_names_the_file_and_the_record(tmp_path):
    data = _three_records(tmp_path)
    data[64:68] = b"\x00\x00\x00\x00"
    error = _read_error(tmp_path, data)
    assert error.record == 2
    assert "record 2 (0-based, at byte 64): bad magic 0x00000000 (expected 0xced7230a)" in str(error)


def test_a_length_past_the_end_of_the_file_names_the_record(tmp_path):
    data = _three_records(tmp_path)
    data[36:40] = struct.pack("<I", 1000)
    error = _read_error(tmp_path, data)
    assert error.record == 1
    assert "record 1 (0-based, at byte 32): truncated or bad length: the header announces 1000 bytes" in str(error)


@pytest.mark.parametrize("cut", [96 - 1, 96 - 10, 64 + 5])
def test_a_truncated_file_names_the_record_it_cuts(tmp_path, cut):
    error = _read_error(tmp_path, _three_records(tmp_path)[:cut])
    assert error.record == 2 and "truncated" in str(error)


def test_batches_before_a_bad_record_are_yielded_whole(tmp_path):
    data = _three_records(tmp_path)
    path = write_bytes(tmp_path, bytes(data[:80]))
    batches = iter_recordio(path, batch_rows=1)
    assert [first for _, first in (next(batches), next(batches))] == [0, 1]
    with pytest.raises(RecordIOError, match="record 2"):
        next(batches)


@given(cut=st.integers(1, 95), position=st.integers(0, 95), byte=st.integers(0, 255))
def test_any_truncation_or_corrupted_byte_is_a_record_io_error_or_valid_rows(tmp_path_factory, cut, position, byte):
    tmp_path = tmp_path_factory.mktemp("bad")
    data = _three_records(tmp_path)
    data[position] = byte
    path = write_bytes(tmp_path, bytes(data[:cut]))
    try:
        X = read_recordio(path)
    except RecordIOError as error:
        assert error.record in (0, 1, 2) and f"record {error.record} (0-based" in str(error)
    else:  # a cut between records, or a byte that changed a value
        assert X.shape[0] <= 3


def test_a_corrupted_protobuf_message_names_the_record(tmp_path):
    data = _three_records(tmp_path)
    data[32 + 8 + 1] = 0x7F  # record 1's features entry now claims 127 bytes
    error = _read_error(tmp_path, data)
    assert error.record == 1 and "protobuf decode error" in str(error)


def test_records_that_disagree_name_the_record(tmp_path):
    def row(n, tensor="float32_tensor"):
        return _record_bytes(lambda value: getattr(value, tensor).values.extend([1.0] * n))

    error = _read_error(tmp_path, _file(row(2), row(2), row(3)))
    assert error.record == 2 and "rows of 3 features, but the records before it have 2" in str(error)
    error = _read_error(tmp_path, _file(row(2), row(2, "float64_tensor")))
    assert error.record == 1 and "Float64Tensor values, but the records before it hold Float32Tensor" in str(error)
    error = _read_error(tmp_path, _file(row(2), Record(uid="x").SerializeToString()))
    assert error.record == 1 and 'no "values" feature' in str(error)


def test_an_empty_file_is_an_error(tmp_path):
    error = _read_error(tmp_path, b"")
    assert error.record is None and "empty input (0 bytes)" in str(error)


def test_a_missing_file_is_a_file_not_found_error_naming_it(tmp_path):
    path = tmp_path / "missing.pbr"
    with pytest.raises(FileNotFoundError) as error:
        read_recordio(path)
    assert error.value.filename == str(path)
    with pytest.raises(FileNotFoundError):
        iter_recordio(path, batch_rows=10)  # at the call, not at the first batch


def test_record_io_errors_are_value_errors_that_pickle():
    error = pickle.loads(pickle.dumps(RecordIOError("f.pbr: record 3 ...", "f.pbr", 3)))
    assert isinstance(error, ValueError)
    assert (str(error), error.path, error.record) == ("f.pbr: record 3 ...", "f.pbr", 3)


def test_the_reader_reads_bytes_too():
    batch, first = _core.RecordIOReader.from_bytes(sdk_write_dense(np.eye(2, dtype=np.float32))).next_batch(5)
    assert first == 0 and batch.tolist() == [[1.0, 0.0], [0.0, 1.0]]


# --- Writing -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("X", "labels", "message"), [
    (np.ones(3), None, "X must be a 2-D array"),
    (np.ones((0, 3)), None, "X has no rows"),
    (np.ones((2, 2), dtype=bool), None, "unsupported dtype bool for X"),
    (np.ones((2, 2), dtype=np.float16), None, "unsupported dtype float16 for X"),
    (np.array([[2**31]]), None, "X holds 2147483648, outside int32"),
    (np.ones((2, 2)), np.ones(3), r"labels must hold one label per row, shape \(2,\), not \(3,\)"),
    (np.ones((2, 2)), np.array(["a", "b"]), "unsupported dtype <U1 for labels"),
])
def test_writing_refuses_what_the_sdk_refuses(tmp_path, X, labels, message):
    with pytest.raises(ValueError, match=message):
        write_recordio(X, tmp_path / "x.pbr", labels=labels)
    assert os.listdir(tmp_path) == []


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "x.pbr"
    write_recordio(np.ones((2, 2)), path)
    before = path.read_bytes()

    def fail_halfway(temporary, x, labels):
        with open(temporary, "xb") as f:
            f.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(_core, "write_recordio_dense", fail_halfway)
    with pytest.raises(KeyboardInterrupt):
        write_recordio(np.zeros((5, 2)), path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["x.pbr"]


def test_the_low_level_writer_never_overwrites(tmp_path):
    (tmp_path / "x.pbr").write_bytes(b"keep")
    with pytest.raises(FileExistsError):
        _core.write_recordio_dense(str(tmp_path / "x.pbr"), np.ones((1, 1)))
    assert (tmp_path / "x.pbr").read_bytes() == b"keep"


def test_fortran_ordered_and_non_contiguous_arrays_are_written_by_row(tmp_path):
    X = np.asfortranarray(np.arange(12.0).reshape(3, 4))
    write_recordio(X[:, ::2], tmp_path / "x.pbr")
    np.testing.assert_array_equal(read_recordio(tmp_path / "x.pbr"), X[:, ::2])
