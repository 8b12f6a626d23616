"""SageMaker's container contract, run as the Dockerfile's ENTRYPOINT runs it, on a temporary /opt/ml.

File mode (CSV and RecordIO), Pipe mode through real FIFOs, SageMaker's log lines, the failure
file, and `serve` answering from ROOT/model.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading

import numpy as np
import pytest

import fastkmeans
from fastkmeans.io import write_recordio
from fastkmeans.sagemaker import load_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RNG = np.random.default_rng(2)
X = np.concatenate([RNG.normal(center, 0.3, size=(200, 4)) for center in (0.0, 5.0, 10.0)])
RNG.shuffle(X)


def entrypoint():
    """The Dockerfile's ENTRYPOINT, with `fastkmeans` as this environment's console script."""
    text = open(os.path.join(ROOT, "Dockerfile"), encoding="utf-8").read()
    argv = json.loads(re.search(r"^ENTRYPOINT (\[.*\])$", text, re.MULTILINE).group(1))
    assert argv[0] == "fastkmeans"
    return [os.path.join(os.path.dirname(sys.executable), "fastkmeans"), *argv[1:]]


def job(root, hyperparameters, channels, resource=None):
    config = root / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    (config / "inputdataconfig.json").write_text(json.dumps(channels))
    (config / "resourceconfig.json").write_text(json.dumps(resource or {"current_host": "algo-1",
                                                                        "hosts": ["algo-1"]}))
    return root


def run(root, *args):
    return subprocess.run([*entrypoint(), *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "FASTKMEANS_SAGEMAKER_ROOT": str(root)})


def metric(stdout, regex):
    return float(re.search(regex, stdout).group(1))


def test_file_mode_csv_with_a_test_channel(tmp_path):
    root = job(tmp_path, {"k": "3", "feature_dim": "4", "mini_batch_size": "100", "eval_metrics": '["msd", "ssd"]',
                          "force_dense": "True"},
               {"train": {"ContentType": "text/csv", "TrainingInputMode": "File"},
                "test": {"ContentType": "text/csv;label_size=0", "TrainingInputMode": "File"}},
               {"current_host": "algo-2", "hosts": ["algo-2"]})
    for channel, rows in (("train", X[:500]), ("test", X[500:])):
        (root / "input" / "data" / channel).mkdir(parents=True)
        np.savetxt(root / "input" / "data" / channel / "part-0.csv", rows, delimiter=",")
    result = run(root, "train")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("Docker entrypoint called with argument(s): train\n")
    assert "Final configuration: " in out
    train_msd = metric(out, r"#quality_metric: host=algo-2, train msd <loss>=(\S+)")
    test_msd = metric(out, r"#quality_metric: host=\S+, test msd <loss>=(\S+)")  # AWS's own tuning regexes
    test_ssd = metric(out, r"#quality_metric: host=\S+, test ssd <loss>=(\S+)")
    assert re.search(r"#throughput_metric: host=algo-2, train throughput=\S+ records/second", out)
    model = load_model(root / "model" / "model.tar.gz")
    # SageMaker packs model/ into the job's artifact: model_algo-1 at its top is what its hosting loads.
    assert sorted(p.name for p in (root / "model").iterdir()) == ["model.tar.gz", "model_algo-1"]
    bare = fastkmeans.sagemaker.model_from_ndarray_file(root / "model" / "model_algo-1")
    np.testing.assert_array_equal(bare.cluster_centers_, model.cluster_centers_)
    dist = model.assign(X[500:])[1].astype(np.float64)
    assert test_msd == pytest.approx(np.mean(dist ** 2), rel=1e-4)
    assert test_ssd == pytest.approx(np.sum(dist ** 2), rel=1e-4)
    assert 0 < train_msd < 1
    assert not (root / "output" / "failure").exists()


def test_file_mode_recordio_is_the_default_content_type(tmp_path):
    root = job(tmp_path, {"k": "3", "feature_dim": "4"}, {"train": {}})
    (root / "input" / "data" / "train").mkdir(parents=True)
    write_recordio(X.astype(np.float32), str(root / "input" / "data" / "train" / "matrix_0.pbr"))
    (root / "input" / "data" / "train" / ".amazon.manifest").write_text("[]")
    result = run(root, "train")
    assert result.returncode == 0, result.stderr
    assert "Test data is not provided." in result.stdout
    assert sorted(np.bincount(load_model(root / "model" / "model.tar.gz").predict(X)).tolist()) == [200, 200, 200]


def feed_fifos(folder, channel, payload, count):
    """Create FIFOs channel_0 .. channel_{count-1}, each fed the payload when a reader opens it."""
    threads = []
    for i in range(count):
        path = folder / f"{channel}_{i}"
        os.mkfifo(path)

        def write(path=path):
            try:
                with open(path, "wb") as fifo:
                    fifo.write(payload)
            except OSError:
                pass

        thread = threading.Thread(target=write, daemon=True)
        thread.start()
        threads.append((path, thread))
    return threads


def release(threads):
    """Unblock writers whose FIFO nobody opened, so no thread is left behind."""
    opened = 0
    for path, thread in threads:
        if thread.is_alive():
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            os.close(fd)
        else:
            opened += 1
        thread.join(10)
    return opened


@pytest.mark.parametrize("content_type", ["text/csv", "application/x-recordio-protobuf"])
def test_pipe_mode_reads_one_fifo_per_pass(tmp_path, content_type):
    root = job(tmp_path, {"k": "3", "feature_dim": "4", "epochs": "3", "mini_batch_size": "200"},
               {"train": {"ContentType": content_type, "TrainingInputMode": "Pipe"},
                "test": {"ContentType": content_type, "TrainingInputMode": "Pipe"}})
    data = root / "input" / "data"
    data.mkdir(parents=True)
    if content_type == "text/csv":
        payload = "".join(",".join(f"{v:.6f}" for v in row) + "\n" for row in X).encode()
    else:
        write_recordio(X.astype(np.float32), str(tmp_path / "x.pbr"))
        payload = (tmp_path / "x.pbr").read_bytes()
    train = feed_fifos(data, "train", payload, 6)
    test = feed_fifos(data, "test", payload, 2)
    result = run(root, "train")
    used = release(train)
    release(test)
    assert result.returncode == 0, result.stderr
    assert used >= 3  # a pass per epoch, each through its own FIFO
    assert "test msd <loss>=" in result.stdout
    assert sorted(np.bincount(load_model(root / "model" / "model.tar.gz").predict(X)).tolist()) == [200, 200, 200]


@pytest.mark.parametrize("setup, reason", [
    ("bad_k", "Invalid hyperparameter value 'x' for k"),
    ("no_channel", "input/data/train: the train channel's data folder is missing"),
    ("bad_data", "part-0.csv, line 3"),
    ("no_config", "hyperparameters.json: missing"),
])
def test_failures_write_the_reason_to_output_failure_and_exit_non_zero(tmp_path, setup, reason):
    hyperparameters = {"k": "x" if setup == "bad_k" else "2", "feature_dim": "2"}
    root = job(tmp_path, hyperparameters, {"train": {"ContentType": "text/csv"}})
    if setup == "no_config":
        os.unlink(root / "input" / "config" / "hyperparameters.json")
    if setup != "no_channel":
        (root / "input" / "data" / "train").mkdir(parents=True)
        (root / "input" / "data" / "train" / "part-0.csv").write_text("1,2\n3,4\n5,oops\n6,7\n")
    result = run(root, "train")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    failure = (root / "output" / "failure").read_text()
    assert reason in failure and "\n" not in failure
    assert result.stderr.strip() == f"fastkmeans: error: {failure}"
    assert not (root / "model" / "model.tar.gz").exists()


def test_serve_answers_from_root_model_on_sagemakers_port(tmp_path):
    pytest.importorskip("uvicorn", reason="the serve extra is not installed")
    from _serving import Server, free_port

    (tmp_path / "model").mkdir()
    model = fastkmeans.KMeans(k=3, random_state=0).fit(X)
    fastkmeans.sagemaker.save_model(model, str(tmp_path / "model" / "model.tar.gz"))
    port = free_port()
    env = {"SAGEMAKER_BIND_TO_PORT": str(port), "FASTKMEANS_SAGEMAKER_ROOT": str(tmp_path),
           "FASTKMEANS_SAGEMAKER_HOST": "127.0.0.1", "SAGEMAKER_MODEL_SERVER_WORKERS": "1"}
    with Server("", command=[*entrypoint(), "serve"], env=env, port=port, pass_port=False) as server:
        status, _, body = server.post(b"0,0,0,0\n10,10,10,10\n", "text/csv")
        assert status == 200
        expected = model.assign(np.array([[0.0] * 4, [10.0] * 4]))[0]
        assert [p["closest_cluster"] for p in json.loads(body)["predictions"]] == expected.astype(float).tolist()
