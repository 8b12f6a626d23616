"""The Rust text codecs of the endpoint against the Python codecs they replaced, byte for byte.

The references below are the Python codecs as they were before the Rust ones (NumPy's parser for
CSV; ``repr`` for the answers); the JSON reference is the Python reader the JSON codec still keeps
for the bodies the strict Rust reader refuses. Hypothesis draws the inputs.
"""

from __future__ import annotations

import json
from typing import Any, List

import numpy as np
import pytest
from conftest import within
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from fastkmeans import _core
from fastkmeans.server._errors import RequestError
from fastkmeans.server.codecs import Model, _json
from fastkmeans.server.codecs import _csv as csv_codec
from fastkmeans.server.codecs._rows import bad_payload

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)


# --- the Python encoders the Rust ones replace --------------------------------------------------

def _as_floats(closest: np.ndarray, distance: np.ndarray) -> Any:
    return closest.tolist(), distance.astype(np.float32).astype(np.float64).tolist()


def _cluster_strings(closest: np.ndarray, template: str) -> List[str]:
    largest = int(closest.max()) if closest.size else 0
    return [template.format(float(cluster)) for cluster in range(largest + 1)]


def reference_csv(closest: np.ndarray, distance: np.ndarray) -> bytes:
    clusters, distances = _as_floats(closest, distance)
    prefixes = _cluster_strings(closest, "{},")
    return ("\n".join(map(str.__add__, map(prefixes.__getitem__, clusters), map(repr, distances))) + "\n").encode()


def reference_json(closest: np.ndarray, distance: np.ndarray) -> bytes:
    clusters, distances = _as_floats(closest, distance)
    prefixes = _cluster_strings(closest, '{{"closest_cluster":{},"distance_to_cluster":')
    predictions = "},".join(map(str.__add__, map(prefixes.__getitem__, clusters), map(repr, distances)))
    return f'{{"predictions":[{predictions}}}]}}'.encode()


def reference_jsonlines(closest: np.ndarray, distance: np.ndarray) -> bytes:
    clusters, distances = _as_floats(closest, distance)
    suffixes = _cluster_strings(closest, ', "closest_cluster": {}}}\n')
    return "".join(map(str.__add__, map('{{"distance_to_cluster": {}'.format, distances),
                       map(suffixes.__getitem__, clusters))).encode()


SPECIAL_FLOATS = [0.0, -0.0, 1.0, 3.0, 1e16, 1e-5, 1e-4, 9.999e-5, 1e15, 123456.0, 1e38, 3.4028234663852886e38,
                  1.401298464324817e-45, 2.0 ** 24, 2.0 ** 24 + 2, 0.1, 1.5e-7, 16777215.0, 1e10]
f32_values = st.floats(width=32, allow_nan=False, allow_infinity=False) | st.sampled_from(SPECIAL_FLOATS) \
    | st.integers(0, 2 ** 24).map(float)


@settings(max_examples=300)
@given(st.lists(st.tuples(st.integers(0, 999), f32_values), min_size=1, max_size=50))
@example([(0, v) for v in SPECIAL_FLOATS])
@example([(10 ** 6, 1e16), (7, -0.0)])
def test_rust_answers_equal_the_python_encoders_byte_for_byte(rows):
    closest = np.array([c for c, _ in rows], dtype=np.int32)
    distance = np.array([d for _, d in rows], dtype=np.float64)
    assert csv_codec.encode_csv(closest, distance) == reference_csv(closest, distance)
    assert _json.encode_json(closest, distance) == reference_json(closest, distance)
    assert _json.encode_jsonlines(closest, distance) == reference_jsonlines(closest, distance)


def test_answers_take_float64_distances_as_float32_and_reject_other_media_types():
    closest, distance = np.array([1, 0], dtype=np.int32), np.array([np.sqrt(2.0), 1e-5])
    assert csv_codec.encode_csv(closest, distance) == b"1.0,1.4142135381698608\n0.0,9.999999747378752e-06\n"
    with pytest.raises(ValueError, match="no text answer"):
        _core.write_answers(closest, distance.astype(np.float32), "text/plain")
    with pytest.raises(ValueError, match="one of each a row"):
        _core.write_answers(closest, distance[:1].astype(np.float32), "text/csv")


# --- the CSV decoder: NumPy's parse as the reference --------------------------------------------

def reference_decode_csv(body: bytes, label_size: int, model: Model) -> np.ndarray:
    """The Python CSV decoder the Rust one replaced (good bodies only: None where it refused)."""
    width = model.n_features + label_size
    text = body.replace(b"\r\n", b"\n")
    lines = [line for line in text.split(b"\n") if line]
    if not lines or any(line.count(b",") + 1 != width for line in lines):
        return None
    try:
        values = np.fromstring(b",".join(lines), dtype=np.float64, sep=",")
    except ValueError:
        return None
    if values.size != len(lines) * width:
        return None
    with np.errstate(over="ignore"):
        rows = np.ascontiguousarray(values.reshape(len(lines), width)[:, label_size:], dtype=model.dtype)
    return rows if np.isfinite(rows).all() else None


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


number_text = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda v: f"{v:.6g}"),
    st.floats(width=32, allow_nan=False, allow_infinity=False).map(lambda v: f"{v:.9e}"),
    st.integers(-2 ** 60, 2 ** 60).map(str),
    st.sampled_from(["0", "-0", "-0.0", ".5", "5.", "+1.5", "1E3", "1e-320", "4.9e-324", "1e-46", "3.4028235e38",
                     "3.4028236e38", "9007199254740993", "0.1", "2.5e-08"]),
)
padded = st.tuples(st.sampled_from(["", " ", "\t", "  "]), number_text, st.sampled_from(["", " ", "\t"])).map("".join)


@settings(max_examples=300)
@given(st.integers(1, 4), st.integers(0, 2), st.data(), st.sampled_from([F32, F64]),
       st.sampled_from(["\n", "\r\n"]), st.booleans())
def test_rust_csv_reads_every_number_as_numpy_did(n_features, label_size, data, dtype, newline, blank_lines):
    model = Model(n_features=n_features, dtype=dtype)
    width = n_features + label_size
    rows = data.draw(st.lists(st.lists(padded, min_size=width, max_size=width), min_size=1, max_size=6))
    lines = [",".join(row) for row in rows]
    if blank_lines:
        lines = [""] + [line for row in lines for line in (row, "")]
    body = newline.join(lines).encode() + data.draw(st.sampled_from([b"", newline.encode()]))
    expected = reference_decode_csv(body, label_size, model)
    params = {"label_size": str(label_size)}
    if expected is None:  # overflowed float32: both refuse, the Rust codec names the line
        with pytest.raises(RequestError, match="holds NaN or infinity"):
            csv_codec.decode_csv(body, params, model)
        return
    assert same_bits(csv_codec.decode_csv(body, params, model), expected)


@pytest.mark.parametrize("body, label_size, message", [
    (b"1,2,3\n4,5\n", 0, "line 2: 2 fields, but the model takes 3 features"),
    (b"0,1,2,3\n4,5,6\n", 1, "line 2: 3 fields, but the model takes 3 features after 1 label columns"),
    (b"1,x,3\n1,2\n", 0, "line 2: 2 fields, but the model takes 3 features"),  # a wrong count anywhere first
    (b"1,2,3\r\n\r\n4, x ,6\r\n", 0, "line 3, column 2: 'x' is not a number"),
    (b"1,2,3\n4,,6\n", 0, "line 2, column 2: '' is not a number (an empty cell)"),
    (b"1,2,\xff\n", 0, "line 1, column 3: '\ufffd' is not a number"),
    (b"1,2,3\n4,nan,6\n", 0, "line 2 holds NaN or infinity"),
    (b"1,2,3\n4,5,-Infinity\n", 0, "line 2 holds NaN or infinity"),
    (b"1,2,3\n4,5,1e39\n", 0, "line 2 holds NaN or infinity"),  # float32 overflow
    (b"nan,1,2,3\n", 1, None),  # NaN in a label column is no feature
    (b"\n\r\n", 0, "the CSV body holds no row"),
])
def test_csv_errors_name_the_line_and_column(body, label_size, message):
    model = Model(n_features=3, dtype=F32)
    if message is None:
        assert csv_codec.decode_csv(body, {"label_size": str(label_size)}, model).tolist() == [[1.0, 2.0, 3.0]]
        return
    with pytest.raises(RequestError) as raised:
        csv_codec.decode_csv(body, {"label_size": str(label_size)}, model)
    assert raised.value.status == 400
    assert raised.value.message == bad_payload(message).message


# --- the JSON decoders: the Rust reader against the Python reader it leaves the rest to ---------

def python_reader(decode: Any, body: bytes, model: Model) -> Any:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_json, "_parse", lambda *args, **kwargs: None)
        return decode(body, {}, model)


def same_rows(a: Any, b: Any) -> bool:
    if hasattr(a, "toarray") != hasattr(b, "toarray"):
        return False
    if hasattr(a, "toarray"):
        a.sort_indices()
        b.sort_indices()
        return (a.shape == b.shape and same_bits(a.data, b.data) and np.array_equal(a.indices, b.indices)
                and np.array_equal(a.indptr, b.indptr))
    return same_bits(a, b)


json_number = st.one_of(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15),
                        st.floats(allow_nan=False, allow_infinity=False, width=32, min_value=-2.0 ** 40,
                                  max_value=2.0 ** 40),
                        st.integers(-2 ** 53 + 1, 2 ** 53 - 1), st.sampled_from([0, -0.0, 1e-320, 2.5]))


def instances(n_features: int) -> Any:
    row = st.lists(json_number, min_size=n_features, max_size=n_features)
    sparse = st.lists(st.tuples(st.integers(0, n_features - 1), json_number), max_size=4).map(
        lambda pairs: {"data": {"features": {"keys": [k for k, _ in pairs], "shape": [n_features],
                                             "values": [v for _, v in pairs]}}})
    return st.one_of(row, row.map(lambda r: {"features": r}), row.map(lambda r: {"data": {"features": r}}),
                     row.map(lambda r: {"data": {"features": {"values": r}}, "label": 1}), sparse)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 4), st.data(), st.sampled_from([F32, F64]))
def test_rust_json_reads_every_form_as_the_python_reader(n_features, data, dtype):
    model = Model(n_features=n_features, dtype=dtype)
    items = data.draw(st.lists(instances(n_features), min_size=1, max_size=5))
    form = data.draw(st.sampled_from(["instances", "list", "single", "row", "lines"]))
    if form == "instances":
        body, decode = json.dumps({"instances": items}).encode(), _json.decode_json
    elif form == "list":
        body, decode = json.dumps(items).encode(), _json.decode_json
    elif form == "single":
        assume(isinstance(items[0], dict))
        body, decode = json.dumps(items[0]).encode(), _json.decode_json
    elif form == "row":
        assume(isinstance(items[0], list))
        body, decode = json.dumps(items[0]).encode(), _json.decode_json
    else:
        body, decode = ("\n".join(map(json.dumps, items)) + "\n").encode(), _json.decode_json
        decode = _json.decode_jsonlines
    fast = _json._parse(body, model, lines=decode is _json.decode_jsonlines)
    assert fast is not None, body
    assert same_rows(fast, python_reader(decode, body, model))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=3),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["instances", "features", "data", "values", "keys", "shape", "x"]), children, max_size=4),
    max_leaves=25)


@settings(max_examples=500, deadline=None)
@given(json_values, st.sampled_from([F32, F64]), st.booleans())
def test_what_the_rust_json_reader_accepts_the_python_reader_reads_the_same(document, dtype, lines):
    model = Model(n_features=2, dtype=dtype)
    body = json.dumps(document, allow_nan=True).encode()
    fast = _json._parse(body, model, lines)
    if fast is None:
        return
    decode = _json.decode_jsonlines if lines else _json.decode_json
    assert same_rows(fast, python_reader(decode, body, model))


def test_json_bodies_the_rust_reader_refuses_get_the_python_readers_words():
    model = Model(n_features=3, dtype=F64)
    for body, message in [
        (b'{"instances": [{"features": [1, "a", 3]}]}', 'instances[0], feature 1: "a" is not a number'),
        (b'{"instances": [{"features": [1, NaN, 3]}]}', "instances[0] holds NaN or infinity"),
        (b'{"instances": [{"features": [1, 2]}, {"features": [1, 2, 3]}]}', "instances[0]: 2 features"),
        (b'[[1, 2, 3], [4, 5]]', "row 1: 2 features"),
    ]:
        with pytest.raises(RequestError, match=message.replace("[", r"\[")):
            _json.decode_json(body, {}, model)
    # Odd but valid bodies the Rust reader leaves to Python are still read.
    assert _json.decode_json(b'[[1, 2, 3], [1, true, 3.5]]', {}, model).tolist() == [[1, 2, 3], [1, 1, 3.5]]
    big = _json.decode_json(b'[[9007199254740993, 0, 1]]', {}, model)
    assert big.tolist() == [[9007199254740992.0, 0.0, 1.0]]


# --- the worker's speed-ups: same answers -------------------------------------------------------

@pytest.mark.parametrize("dtype", [F32, F64])
def test_small_assignments_on_the_calling_thread_give_the_pool_paths_bits(dtype):
    rng = np.random.default_rng(1)
    centers = rng.normal(size=(8, 10)).astype(dtype)
    x = rng.normal(size=(4000, 10)).astype(dtype)  # 4000 x 8 x 10 > 2**17: the pool, several tasks
    labels, dist2 = within(60, _core.assign, x, centers)  # within: on another thread
    for rows in (slice(0, 1), slice(5, 6), slice(0, 1000), slice(1500, 2500)):  # <= 2**17: the calling thread
        part = np.ascontiguousarray(x[rows])
        for small_labels, small_dist2 in (within(60, _core.assign, part, centers),
                                          _core.assign(part, centers)):  # the home thread, on its own pool
            assert np.array_equal(small_labels, labels[rows])
            assert small_dist2.tobytes() == dist2[rows].tobytes()


def test_a_started_worker_freezes_its_objects_out_of_garbage_collection(tmp_path):
    import asyncio
    import gc

    import fastkmeans
    from fastkmeans.server import ServerConfig
    from fastkmeans.server._app import create_app

    path = str(tmp_path / "model.fkm")
    fastkmeans.KMeans(k=2, random_state=0).fit(np.random.default_rng(0).normal(size=(50, 3))).save(path)
    app = create_app(ServerConfig.from_environment(path, access_log=False))

    async def lifespan() -> List[str]:
        inbox: asyncio.Queue[Any] = asyncio.Queue()
        sent: List[str] = []
        for message in ("lifespan.startup", "lifespan.shutdown"):
            inbox.put_nowait({"type": message})

        async def send(message: Any) -> None:
            sent.append(message["type"])
            if message["type"] == "lifespan.startup.complete":
                sent.append(f"frozen {gc.get_freeze_count()}")

        await app({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, send)
        return sent

    gc.unfreeze()
    try:
        sent = asyncio.run(lifespan())
    finally:
        gc.unfreeze()
    assert sent[0] == "lifespan.startup.complete" and sent[-1] == "lifespan.shutdown.complete"
    assert int(sent[1].split()[1]) > 1000  # every module, the model and the app
