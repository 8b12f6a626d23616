"""The inference endpoint against a real ``fastkmeans serve`` process on a loopback port.

Every request format in, every answer format out (byte for byte as SageMaker's), every error case
(4xx with a message naming the row, never a 5xx, the worker still serving), batch-transform
settings from SageMaker's environment variables, several workers, and SIGTERM with a request in flight.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time

import numpy as np
import pytest
import scipy.sparse

import fastkmeans
from fastkmeans.io import write_recordio
from fastkmeans.sagemaker import save_model

pytest.importorskip("uvicorn", reason="the serve extra is not installed")
from _serving import HOST, Server, free_port  # noqa: E402

RNG = np.random.default_rng(0)
TRAIN = np.concatenate([RNG.normal(center, 0.5, size=(200, 3)) for center in (0.0, 5.0, 10.0)])
ROWS = np.array([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0], [9.5, 10.0, 11.0]])


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    model = fastkmeans.KMeans(k=3, random_state=0).fit(TRAIN)
    model.save(str(folder / "model.fkm"))
    save_model(model, str(folder / "model.tar.gz"))
    return folder


@pytest.fixture(scope="module")
def model(model_dir):
    return fastkmeans.load(str(model_dir / "model.fkm"))


@pytest.fixture(scope="module")
def server(model_dir):
    with Server(str(model_dir / "model.fkm"), "--body-timeout", "1", "--max-payload-mb", "1") as running:
        yield running


def read_until_closed(sock):
    answer = b""
    while True:
        piece = sock.recv(65536)
        if not piece:
            return answer
        answer += piece


def announce_body(port, length):
    """Send a request's headers announcing ``length`` bytes of body, send none of it, return the answer."""
    with socket.create_connection((HOST, port), timeout=10) as sock:
        sock.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
                     b"Content-Length: %d\r\n\r\n" % length)
        return read_until_closed(sock)


def expected(model, rows):
    closest, distance = model.assign(rows)
    return closest.astype(np.float64).tolist(), distance.astype(np.float32).astype(np.float64).tolist()


def json_answer(model, rows):
    clusters, distances = expected(model, rows)
    return ('{"predictions":[' + ",".join(f'{{"closest_cluster":{c},"distance_to_cluster":{d}}}'
                                          for c, d in zip(clusters, distances)) + "]}").encode()


def recordio_bytes(rows, tmp_path, name="rows.pbr"):
    path = tmp_path / name
    write_recordio(rows, str(path))
    return path.read_bytes()


# A reader of protobuf's wire format, independent of the server's template encoder.
def _varint(buf, at):
    value = shift = 0
    while True:
        byte = buf[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at


def _fields(buf):
    at, out = 0, []
    while at < len(buf):
        key, at = _varint(buf, at)
        field, wire = key >> 3, key & 7
        assert wire == 2, f"unexpected wire type {wire}"
        length, at = _varint(buf, at)
        out.append((field, bytes(buf[at:at + length])))
        at += length
    return out


def read_answer_records(body):
    """Return [(closest_cluster, distance_to_cluster)] from RecordIO Records with those two labels."""
    at, answers = 0, []
    while at < len(body):
        magic, length = struct.unpack_from("<II", body, at)
        assert magic == 0xCED7230A and length >> 29 == 0
        record = body[at + 8:at + 8 + length]
        at += 8 + length + (-length % 4)
        labels = {}
        for field, entry in _fields(record):
            assert field == 2, "answers hold labels only, no features"
            parts = dict(_fields(entry))
            value = dict(_fields(parts[2]))
            tensor = dict(_fields(value[2]))  # float32_tensor
            labels[parts[1].decode()] = struct.unpack("<f", tensor[1])[0]
        answers.append((labels["closest_cluster"], labels["distance_to_cluster"]))
    return answers


def test_ping_answers_200_with_an_empty_body(server):
    status, _, body = server.request("GET", "/ping")
    assert (status, body) == (200, b"")


@pytest.mark.parametrize("content_type, body", [
    ("text/csv", b"1,2,3\n5,5,5\n9.5,10,11\n"),
    ("text/csv; label_size=0", b"1,2,3\r\n5,5,5\r\n9.5,10,11"),
    ("text/csv;label_size=1", b"7,1,2,3\n7,5,5,5\n7,9.5,10,11\n"),
    ("application/json", b'{"instances": [{"features": [1, 2, 3]}, {"features": [5, 5, 5]}, '
                         b'{"features": [9.5, 10, 11]}]}'),
    ("application/json", b'{"instances": [{"data": {"features": {"values": [1, 2, 3]}}}, '
                         b'{"data": {"features": {"values": [5, 5, 5]}}}, {"features": [9.5, 10, 11]}]}'),
    ("application/json", b"[[1, 2, 3], [5, 5, 5], [9.5, 10, 11]]"),
    ("application/jsonlines", b'{"features": [1, 2, 3]}\n{"data": {"features": {"values": [5, 5, 5]}}}\n'
                              b"[9.5, 10, 11]\n"),
    ("application/json", b'{"instances": [{"data": {"features": {"keys": [0, 1, 2], "shape": [3], '
                         b'"values": [1, 2, 3]}}}, {"features": [5, 5, 5]}, '
                         b'{"data": {"features": {"keys": [2, 0, 1], "shape": [3], "values": [11, 9.5, 10]}}}]}'),
])
def test_every_request_format_gives_the_models_answer(server, model, content_type, body):
    status, headers, answer = server.post(body, content_type)
    assert status == 200, answer
    assert headers["content-type"] == "application/json"
    assert answer == json_answer(model, ROWS)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_recordio_requests_as_the_sdk_writes_them_dense_and_sparse(server, model, tmp_path, dtype):
    rows = np.array([[1, 2, 3], [5, 5, 5], [9, 10, 11]]).astype(dtype)
    for body in (recordio_bytes(rows, tmp_path), recordio_bytes(scipy.sparse.csr_matrix(rows), tmp_path, "s.pbr")):
        status, _, answer = server.post(body, "application/x-recordio-protobuf")
        assert status == 200, answer
        assert answer == json_answer(model, rows.astype(np.float64))


def test_a_single_sdk_jsonserializer_row_is_one_instance(server, model):
    status, _, answer = server.post(b"[1.0, 2.0, 3.0]", "application/json")
    assert (status, answer) == (200, json_answer(model, ROWS[:1]))


def test_answers_in_every_accept_type_are_sagemakers_bytes(server, model):
    clusters, distances = expected(model, ROWS)
    body = b"1,2,3\n5,5,5\n9.5,10,11\n"
    for accept in (None, "*/*", "application/json", "text/html, application/json;q=0.9"):
        status, headers, answer = server.post(body, "text/csv", accept)
        assert (status, headers["content-type"], answer) == (200, "application/json", json_answer(model, ROWS))
    status, headers, answer = server.post(body, "text/csv", "application/jsonlines")
    assert headers["content-type"] == "application/jsonlines"
    assert answer.decode().splitlines() == [f'{{"distance_to_cluster": {d}, "closest_cluster": {c}}}'
                                            for c, d in zip(clusters, distances)]
    status, headers, answer = server.post(body, "text/csv", "text/csv")
    assert headers["content-type"].startswith("text/csv")
    assert answer.decode() == "".join(f"{c},{d}\n" for c, d in zip(clusters, distances))
    status, headers, answer = server.post(body, "text/csv", "application/x-recordio-protobuf")
    assert headers["content-type"] == "application/x-recordio-protobuf"
    got = read_answer_records(answer)
    assert [c for c, _ in got] == clusters
    assert np.allclose([d for _, d in got], distances, rtol=1e-7)


def test_distance_is_euclidean_and_the_cluster_a_float(server, model):
    status, _, answer = server.post(b"1,2,3\n", "text/csv")
    prediction = json.loads(answer)["predictions"][0]
    center = model.cluster_centers_[int(prediction["closest_cluster"])]
    assert isinstance(prediction["closest_cluster"], float)
    assert prediction["distance_to_cluster"] == pytest.approx(np.linalg.norm(ROWS[0] - center), rel=1e-6)


@pytest.mark.parametrize("content_type, body, message", [
    ("text/csv", b"1,2,3\n4,5\n", "line 2: 2 fields, but the model takes 3"),
    ("text/csv", b"1,2,3\n\n4,x,6\n", "line 3, column 2: 'x' is not a number"),
    ("text/csv", b"1,2,3\n4,,6\n", "line 2, column 2: '' is not a number (an empty cell)"),
    ("text/csv", b"1,2,3\n4,nan,6\n", "line 2 holds NaN or infinity"),
    ("text/csv", b"1,2,3\n4,5,inf\n", "line 2 holds NaN or infinity"),
    ("text/csv", b"\xff\xfe,1,2\n", "line 1, column 1"),
    ("text/csv", b"", "holds no row"),
    ("text/csv; label_size=x", b"1,2,3\n", "label_size='x'"),
    ("application/json", b'{"instances": [{"features": [1, 2, 3]}, {"features": [1, 2]}]}',
     "instances[1]: 2 features, but the model takes 3"),
    ("application/json", b'{"instances": [{"features": [1, "a", 3]}]}', 'instances[0], feature 1: "a" is not a number'),
    ("application/json", b'{"instances": [{"features": [1, NaN, 3]}]}', "instances[0] holds NaN or infinity"),
    ("application/json", b'{"instances": [{"feature": [1, 2, 3]}]}', "instances[0]: expected"),
    ("application/json", b'{"instances": [{"features": [1, 2, 3]}', "is not valid JSON"),
    ("application/json", b'{"instances": 3}', '"instances" must be a list'),
    ("application/json", b'{"instances": []}', "holds no instance"),
    ("application/json", b"[[1, 2, 3], [4, 5, 6, 7]]", "row 1: 4 features"),
    ("application/json", b"[" * 100000, "nested too deeply"),
    ("application/json", b'{"instances": [{"data": {"features": {"keys": [0, 5], "shape": [3], "values": [1, 2]}}}]}',
     "instances[0]: key 5 is not a column in [0, 3)"),
    ("application/json", b'{"instances": [{"data": {"features": {"keys": [0], "shape": [4], "values": [1]}}}]}',
     '"shape" is [4], but the model takes 3 features'),
    ("application/json", b'{"instances": [{"data": {"features": {"keys": [0], "shape": [3], "values": [Infinity]}}}]}',
     "instances[0] holds NaN or infinity"),
    ("application/jsonlines", b'{"features": [1, 2, 3]}\n{"features": [1, 2, 3]\n', "line 2 is not valid JSON"),
    ("application/jsonlines", b'{"features": [1, 2, 3]}\n\n{"features": [1, 2]}\n', "line 3: 2 features"),
    ("application/x-recordio-protobuf", b"not recordio at all", "bad magic"),
    ("application/x-recordio-protobuf", b"", "is empty"),
])
def test_bad_bodies_get_400_naming_the_row_and_the_server_keeps_serving(server, content_type, body, message):
    status, _, answer = server.post(body, content_type)
    assert status == 400, answer
    assert answer.decode().startswith("unable to evaluate payload provided: ")
    assert message in answer.decode()
    assert server.post(b"1,2,3\n", "text/csv")[0] == 200


def test_recordio_errors_name_the_record(server, tmp_path):
    good = recordio_bytes(np.ones((3, 3), dtype=np.float32), tmp_path)
    wrong_width = recordio_bytes(np.ones((2, 4), dtype=np.float32), tmp_path, "w.pbr")
    status, _, answer = server.post(wrong_width, "application/x-recordio-protobuf")
    assert status == 400 and b"the records hold 4 features, but the model takes 3" in answer
    corrupted = bytearray(good)
    corrupted[len(good) // 3 + 9] ^= 0xFF
    status, _, answer = server.post(bytes(corrupted), "application/x-recordio-protobuf")
    assert status == 400 and b"record 1" in answer
    truncated = good[:-5]
    status, _, answer = server.post(truncated, "application/x-recordio-protobuf")
    assert status == 400 and b"record 2" in answer
    nan = recordio_bytes(np.array([[1, 2, 3], [4, np.nan, 6]], dtype=np.float32), tmp_path, "n.pbr")
    status, _, answer = server.post(nan, "application/x-recordio-protobuf")
    assert status == 400 and b"row 1 (0-based) holds NaN or infinity" in answer


def test_unsupported_content_type_is_415_and_accept_406(server):
    status, _, answer = server.post(b"1,2,3", "application/xml")
    assert status == 415 and b"unsupported Content-Type 'application/xml'" in answer
    status, _, answer = server.post(b"1,2,3", None)
    assert status == 415 and b"no Content-Type" in answer
    status, _, answer = server.post(b"1,2,3", "text/csv", "image/png")
    assert status == 406 and b"unsupported Accept 'image/png'" in answer


def test_a_body_over_the_limit_gets_413_before_it_is_sent(server):
    answer = announce_body(server.port, 2000000)  # answered without a byte of the 2 MB body
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"over the limit of 1048576 bytes" in answer


def test_a_chunked_body_over_the_limit_gets_413(server):
    with socket.create_connection((HOST, server.port), timeout=10) as sock:
        sock.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"1,2,3\n" * 10000
        sent = 0
        while sent < 40 and not select.select([sock], [], [], 0.05)[0]:  # 60 kB chunks until the server answers
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += 1
        answer = read_until_closed(sock)
    assert sent * len(chunk) > 1024 * 1024
    assert answer.startswith(b"HTTP/1.1 413 ")


def test_a_slow_upload_times_out_with_408_and_does_not_hold_the_worker(server):
    with socket.create_connection((HOST, server.port), timeout=10) as slow:
        slow.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: 100\r\n\r\n")
        slow.sendall(b"1,2,3\n")
        time.sleep(0.2)
        # Meanwhile the worker answers others.
        assert server.post(b"1,2,3\n", "text/csv")[0] == 200
        start = time.monotonic()
        answer = read_until_closed(slow)
        assert answer.startswith(b"HTTP/1.1 408 "), answer
        assert b"did not arrive within 1 s" in answer
        assert time.monotonic() - start < 5
    assert server.post(b"1,2,3\n", "text/csv")[0] == 200


def test_a_truncated_upload_leaves_the_server_serving(server):
    for _ in range(3):
        with socket.create_connection((HOST, server.port), timeout=10) as sock:
            sock.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
                         b"Content-Length: 1000\r\n\r\n1,2,3\n4,")
    assert server.post(b"1,2,3\n", "text/csv")[0] == 200
    assert server.alive()


def test_a_bad_content_length_is_400(server):
    with socket.create_connection((HOST, server.port), timeout=10) as sock:
        sock.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: -5\r\n\r\n")
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 400 ")


def test_openapi_describes_the_endpoints(server):
    status, _, body = server.request("GET", "/openapi.json")
    document = json.loads(body)
    assert status == 200 and document["openapi"].startswith("3.")
    assert set(document["paths"]) >= {"/ping", "/invocations", "/execution-parameters"}
    assert set(document["paths"]["/invocations"]["post"]["requestBody"]["content"]) == {
        "text/csv", "application/json", "application/jsonlines", "application/x-recordio-protobuf"}


def test_access_log_is_one_json_object_per_request(server):
    server.post(b"1,2,3\n1,2,3\n", "text/csv")
    server.post(b"1,2\n", "text/csv")
    records = [json.loads(line) for line in server.output().splitlines() if line.startswith('{"time"')]
    ok = [r for r in records if r["path"] == "/invocations" and r["status"] == 200 and r.get("rows") == 2]
    bad = [r for r in records if r["status"] == 400 and "2 fields" in r.get("error", "")]
    assert ok and bad
    assert {"method", "ms", "bytes_in", "bytes_out", "client"} <= set(ok[-1])


def test_the_native_file_the_tarball_the_bare_model_algo_1_and_a_directory_all_serve(model_dir, model, tmp_path):
    import tarfile

    with tarfile.open(model_dir / "model.tar.gz") as archive:
        archive.extract("model_algo-1", tmp_path, filter="data")
    for path in (model_dir / "model.tar.gz", tmp_path, tmp_path / "model_algo-1"):
        with Server(str(path)) as running:
            status, _, answer = running.post(b"1,2,3\n5,5,5\n9.5,10,11\n", "text/csv")
            got = json.loads(answer)["predictions"]
            assert [p["closest_cluster"] for p in got] == expected(model, ROWS)[0]


def test_sagemaker_environment_variables_port_payload_accept_and_batch_parameters(model_dir, model):
    port = free_port()
    env = {"SAGEMAKER_BIND_TO_PORT": str(port), "SAGEMAKER_MAX_PAYLOAD_IN_MB": "2", "SAGEMAKER_BATCH": "true",
           "SAGEMAKER_BATCH_STRATEGY": "SINGLE_RECORD", "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": "3",
           "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "application/jsonlines", "SAGEMAKER_MODEL_SERVER_WORKERS": "2"}
    with Server(str(model_dir), env=env, port=port, pass_port=False) as running:
        status, _, body = running.request("GET", "/execution-parameters")
        assert json.loads(body) == {"MaxConcurrentTransforms": 3, "BatchStrategy": "SINGLE_RECORD",
                                    "MaxPayloadInMB": 2}
        status, headers, answer = running.post(b"1,2,3\n", "text/csv")
        assert headers["content-type"] == "application/jsonlines"
        assert running.post(b"1,2,3\n" * 300000, "text/csv")[0] == 200  # 1.8 MB: 1.72 MiB, under 2 MiB
        assert announce_body(running.port, 3 * 1024 * 1024 - 1).startswith(b"HTTP/1.1 413 ")


def test_several_workers_each_load_the_model_and_answer(model_dir, model):
    with Server(str(model_dir / "model.fkm"), "--workers", "2") as running:
        for _ in range(20):
            status, _, answer = running.post(b"1,2,3\n", "text/csv")
            assert answer == json_answer(model, ROWS[:1])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the second worker may still be starting
            pids = {json.loads(line)["pid"] for line in running.output().splitlines() if '"event": "ready"' in line}
            if len(pids) == 2:
                break
            time.sleep(0.1)
        assert len(pids) == 2  # one "ready" line per worker, each its own process


def test_sigterm_lets_the_request_in_flight_finish(model_dir, model):
    running = Server(str(model_dir / "model.fkm"))
    body = b"1,2,3\n5,5,5\n9.5,10,11\n"
    with socket.create_connection((HOST, running.port), timeout=10) as sock:
        sock.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body[:5]))
        time.sleep(0.3)
        running.process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        with pytest.raises(OSError):  # no new connection is accepted
            socket.create_connection((HOST, running.port), timeout=2).close()
        sock.sendall(body[5:])
        answer = b""
        while b"}]}" not in answer:
            piece = sock.recv(65536)
            assert piece, answer
            answer += piece
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert answer.endswith(json_answer(model, ROWS))
    assert running.process.wait(30) == 0
    running.stop()


def test_a_bad_model_fails_at_start_with_one_line(tmp_path):
    path = tmp_path / "model.fkm"
    path.write_bytes(b"not a model at all")
    result = subprocess.run([sys.executable, "-m", "fastkmeans", "serve", str(path), "--port", str(free_port())],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith("fastkmeans: error: ") and "Traceback" not in result.stderr
    assert str(path) in result.stderr
    result = subprocess.run([sys.executable, "-m", "fastkmeans", "serve", str(tmp_path / "missing")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "no such model file or directory" in result.stderr
    os.unlink(path)
