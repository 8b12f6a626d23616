"""Fuzzing the request decoders: whatever the body, a 4xx with a message or rows of the right shape.

In process for many examples (each decoder, random and structured bodies), then a smaller run
against a real server process, which must answer every request below 500 and stay up.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastkmeans.io import write_recordio
from fastkmeans.server._errors import RequestError
from fastkmeans.server.codecs import CONTENT_TYPES, Model, decoder

MODEL = Model(n_features=3, dtype=np.dtype(np.float64))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=5),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(
        st.sampled_from(["instances", "features", "data", "values", "keys", "shape", "x"]), children, max_size=4),
    max_leaves=30)
csv_cells = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers().map(str),
                      st.sampled_from(["", " ", "x", "1e400", "-", "1,", '"1"', "\x00", "nan", "0x1"]))
csv_bodies = st.lists(st.lists(csv_cells, min_size=0, max_size=5).map(",".join), max_size=6).map(
    lambda lines: "\n".join(lines).encode())


def check(content_type: str, body: bytes) -> None:
    decode, params = decoder(content_type)
    try:
        rows = decode(body, params, MODEL)
    except RequestError as error:
        assert 400 <= error.status < 500 and error.message
        return
    dense = rows.toarray() if hasattr(rows, "toarray") else rows
    assert dense.ndim == 2 and dense.shape[1] == 3 and dense.shape[0] >= 1
    assert np.isfinite(dense).all()


@given(st.sampled_from(CONTENT_TYPES), st.binary(max_size=200))
def test_random_bytes_never_escape_as_anything_but_a_4xx(content_type, body):
    check(content_type, body)


@given(json_values)
def test_structured_json_and_jsonlines(document):
    text = json.dumps(document, allow_nan=True).encode()
    check("application/json", text)
    check("application/jsonlines", text + b"\n" + text)


@given(csv_bodies, st.sampled_from(["text/csv", "text/csv; label_size=0", "text/csv; label_size=1"]))
def test_structured_csv(body, content_type):
    check(content_type, body)


@settings(max_examples=50)
@given(st.data())
def test_mutated_recordio(tmp_path_factory, data):
    dtype = data.draw(st.sampled_from([np.float32, np.float64, np.int32]))
    rows = np.arange(data.draw(st.integers(1, 4)) * 3).reshape(-1, 3).astype(dtype)
    path = tmp_path_factory.mktemp("rio") / "rows.pbr"
    write_recordio(rows, str(path))
    body = bytearray(path.read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(body) - 1))
        body[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(body)))
    check("application/x-recordio-protobuf", bytes(body[:cut]))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    pytest.importorskip("uvicorn", reason="the serve extra is not installed")
    from _serving import Server

    import fastkmeans

    folder = tmp_path_factory.mktemp("fuzz-model")
    fastkmeans.KMeans(k=2, random_state=0).fit(np.arange(30.0).reshape(10, 3)).save(str(folder / "m.fkm"))
    with Server(str(folder / "m.fkm")) as running:
        yield running


@settings(max_examples=60)
@given(content_type=st.sampled_from([*CONTENT_TYPES, "text/csv; label_size=2", "application/json; charset=utf-8",
                                     "bogus", "text/csv; label_size=-1"]),
       accept=st.sampled_from([None, "*/*", "text/csv", "application/x-recordio-protobuf", "nope/nope",
                               "application/jsonlines;q=0.5, text/csv"]),
       body=st.one_of(st.binary(max_size=100), csv_bodies, json_values.map(lambda d: json.dumps(d).encode())))
def test_a_real_server_answers_every_fuzzed_request_below_500(server, content_type, accept, body):
    status, _, answer = server.post(body, content_type, accept)
    assert status < 500, answer
    assert status in (200, 400, 406, 415)
    assert server.alive()
