"""The fastkmeans command, run as a subprocess on real files: train, predict, evaluate, info, export, errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tarfile
import time

import numpy as np
import pytest

import fastkmeans
from fastkmeans.io import write_recordio

RNG = np.random.default_rng(1)
X = np.concatenate([RNG.normal(center, 0.3, size=(100, 3)) for center in (0.0, 4.0, 8.0)])


def fastkmeans_cli(*args, input=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "fastkmeans", *map(str, args)], capture_output=True,
                          input=input, cwd=cwd, timeout=300)


def ok(*args, **kwargs):
    result = fastkmeans_cli(*args, **kwargs)
    assert result.returncode == 0, result.stderr.decode()
    return result


@pytest.fixture
def data(tmp_path):
    np.savetxt(tmp_path / "train.csv", X, delimiter=",", fmt="%.6f")
    np.savetxt(tmp_path / "test.csv", X[::10], delimiter=",", fmt="%.6f")
    return tmp_path


@pytest.fixture(scope="module")
def errors_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli-errors")
    np.savetxt(folder / "train.csv", X, delimiter=",", fmt="%.6f")
    fastkmeans.KMeans(k=3, random_state=0).fit(X).save(str(folder / "model.fkm"))
    (folder / "bad.csv").write_text("1,2,3\n1,x,3\n")
    (folder / "four.csv").write_text("1,2,3,4\n")
    (folder / "bad.json").write_text("{not json")
    (folder / "bad-model.fkm").write_bytes(b"garbage")
    return folder


def test_train_with_flags_writes_a_model_that_loads_and_prints_metrics(data):
    result = ok("train", "--k", 3, "--epochs", 2, "--init-method", "kmeans++", "--random-state", 0,
                "--eval-metrics", '["msd","ssd"]', "--test", data / "test.csv", "-o", data / "model.fkm",
                data / "train.csv")
    printed = json.loads(result.stdout)
    assert set(printed["test"]) == {"msd", "ssd"} and printed["train"]["msd"] > 0
    model = fastkmeans.load(data / "model.fkm")
    assert (model.k, model.epochs, model.init_method, model.random_state) == (3, 2, "kmeans++", 0)
    assert sorted(np.bincount(model.predict(X)).tolist()) == [100, 100, 100]
    again = ok("train", "--k", 3, "--epochs", 2, "--init-method", "kmeans++", "--random-state", 0,
               "-o", data / "again.fkm", data / "train.csv")
    assert json.loads(again.stdout)["train"]["msd"] == printed["train"]["msd"]  # the same seed, the same model


def test_train_from_sagemaker_hyperparameters_json_globs_stdin_and_tar_gz(data):
    (data / "hp.json").write_text(json.dumps({"k": "3", "feature_dim": "3", "mini_batch_size": "100",
                                              "force_dense": "True", "_kvstore": "auto"}))
    write_recordio(X[:150].astype(np.float32), str(data / "part-0.pbr"))
    write_recordio(X[150:].astype(np.float32), str(data / "part-1.pbr"))
    ok("train", "--hyperparameters", data / "hp.json", "--epochs", 3, "-o", data / "model.tar.gz", data / "part-*.pbr")
    with tarfile.open(data / "model.tar.gz") as archive:
        assert archive.getnames() == ["model_algo-1"]
    model = fastkmeans.sagemaker.load_model(data / "model.tar.gz")
    assert model.cluster_centers_.shape == (3, 3)
    csv = (data / "train.csv").read_bytes()
    ok("train", "--k", 3, "--random-state", 0, "-o", data / "stdin.fkm", "-", input=csv)
    assert fastkmeans.load(data / "stdin.fkm").n_features_in_ == 3


def test_predict_streams_the_endpoints_bytes_in_every_format(data):
    ok("train", "--k", 3, "--random-state", 0, "-o", data / "model.fkm", data / "train.csv")
    model = fastkmeans.load(data / "model.fkm")
    rows = np.loadtxt(data / "train.csv", delimiter=",")
    closest, distance = model.assign(rows)
    lines = ok("predict", data / "model.fkm", data / "train.csv").stdout.decode().splitlines()
    assert len(lines) == 300
    assert lines[0] == (f'{{"distance_to_cluster": {float(np.float32(distance[0]))}, '
                        f'"closest_cluster": {float(closest[0])}}}')
    document = json.loads(ok("predict", data / "model.fkm", data / "train.csv", "--format", "json").stdout)
    assert [p["closest_cluster"] for p in document["predictions"]] == closest.astype(float).tolist()
    csv = ok("predict", data / "model.fkm", "-", "--format", "csv", input=(data / "train.csv").read_bytes()).stdout
    assert csv.decode().splitlines()[1] == f"{float(closest[1])},{float(np.float32(distance[1]))}"
    ok("predict", data / "model.fkm", data / "train.csv", "--format", "recordio", "-o", data / "out.pbr")
    assert (data / "out.pbr").read_bytes()[:4] == bytes.fromhex("0a23d7ce")
    assert (data / "out.pbr").stat().st_size == 300 * 72  # one 72-byte answer record per row


def test_predict_matches_the_server_byte_for_byte(data):
    pytest.importorskip("uvicorn", reason="the serve extra is not installed")
    from _serving import Server

    ok("train", "--k", 3, "--random-state", 0, "-o", data / "model.fkm", data / "train.csv")
    with Server(str(data / "model.fkm")) as server:
        for fmt, accept in (("jsonl", "application/jsonlines"), ("json", "application/json"), ("csv", "text/csv"),
                            ("recordio", "application/x-recordio-protobuf")):
            cli = ok("predict", data / "model.fkm", data / "test.csv", "--format", fmt).stdout
            assert cli == server.post((data / "test.csv").read_bytes(), "text/csv", accept)[2], fmt


def test_evaluate_info_and_export_every_way(data):
    ok("train", "--k", 3, "--random-state", 0, "-o", data / "model.fkm", data / "train.csv")
    model = fastkmeans.load(data / "model.fkm")
    metrics = json.loads(ok("evaluate", data / "model.fkm", data / "test.csv").stdout)
    assert metrics["msd"] == pytest.approx(np.mean(model.assign(X[::10])[1] ** 2), rel=1e-5)
    assert metrics["ssd"] == pytest.approx(metrics["msd"] * 30)
    info = json.loads(ok("info", data / "model.fkm").stdout)
    assert (info["k"], info["feature_dim"], info["resumable"]) == (3, 3, True)
    assert info["hyperparameters"]["k"] == "3" and "msd" in info["train_metrics"]
    assert info["versions"] == {"fastkmeans-sagemaker": fastkmeans.__version__}
    ok("export", data / "model.fkm", "--to", "sagemaker", data / "model.tar.gz")
    ok("export", data / "model.tar.gz", "--to", "native", data / "back.fkm")
    assert np.array_equal(fastkmeans.load(data / "back.fkm").cluster_centers_,
                          model.cluster_centers_.astype(np.float32))
    pytest.importorskip("onnx")
    ok("export", data / "model.fkm", "--to", "onnx", data / "model.onnx")
    assert (data / "model.onnx").stat().st_size > 0


@pytest.mark.parametrize("args, message", [
    (["train", "--k", "0", "-o", "m.fkm", "train.csv"], "Invalid hyperparameter value '0' for k"),
    (["train", "--k", "3", "--epochs", "x", "-o", "m.fkm", "train.csv"], "for epochs"),
    (["train", "--k", "3", "-o", "m.fkm", "missing.csv"], "missing.csv: No such file or directory"),
    (["train", "--k", "3", "-o", "m.fkm", "bad.csv"], "bad.csv, line 2"),
    (["train", "--k", "3", "-o", "m.fkm", "nothing-*.csv"], "matches no file"),
    (["train", "--hyperparameters", "bad.json", "-o", "m.fkm", "train.csv"], "bad.json: not valid JSON"),
    (["predict", "bad-model.fkm", "train.csv"], "bad-model.fkm"),
    (["info", "train.csv"], "train.csv"),
    (["evaluate", "model.fkm", "four.csv"], "4 features"),
])
def test_user_errors_are_one_line_on_stderr_without_a_traceback(errors_folder, args, message):
    result = fastkmeans_cli(*args, cwd=errors_folder)
    stderr = result.stderr.decode()
    assert result.returncode == 1
    assert stderr.startswith("fastkmeans: error: ") and stderr.count("\n") == 1, stderr
    assert "Traceback" not in stderr and message in stderr, stderr
    assert not (errors_folder / "m.fkm").exists()


def test_debug_shows_the_traceback(errors_folder):
    result = fastkmeans_cli("--debug", "train", "--k", "3", "-o", "m.fkm", "bad.csv", cwd=errors_folder)
    stderr = result.stderr.decode()
    assert result.returncode == 1 and "Traceback" in stderr and stderr.endswith("bad.csv, line 2, column 2: 'x' is "
                                                                                "not a number\n")


def test_help_teaches_by_example():
    from click.testing import CliRunner

    from fastkmeans.cli import main

    for command in ([], ["train"], ["predict"], ["evaluate"], ["info"], ["export"], ["serve"], ["sagemaker"],
                    ["select-k"], ["report"]):
        result = CliRunner().invoke(main, [*command, "--help"])
        assert result.exit_code == 0 and "Examples:" in result.output and "fastkmeans" in result.output, command


def test_progress_bars_stay_off_when_stderr_is_not_a_terminal_and_logging_has_levels(data):
    ok("train", "--k", 3, "-o", data / "model.fkm", data / "train.csv")
    result = ok("--log-level", "info", "predict", data / "model.fkm", data / "train.csv")
    assert "rows/s" not in result.stderr.decode() and "\r" not in result.stderr.decode()
    quiet = ok("--quiet", "train", "--k", 3, "-o", data / "model2.fkm", data / "train.csv")
    assert quiet.stderr.decode() == ""
    loud = ok("--log-level", "info", "train", "--k", 3, "-o", data / "model3.fkm", data / "train.csv")
    assert "INFO fastkmeans.cli: wrote" in loud.stderr.decode()


def test_ctrl_c_during_predict_leaves_no_partial_output(data):
    ok("train", "--k", 3, "-o", data / "model.fkm", data / "train.csv")
    fifo = data / "rows.fifo"
    os.mkfifo(fifo)
    process = subprocess.Popen([sys.executable, "-m", "fastkmeans", "predict", str(data / "model.fkm"), str(fifo),
                                "--content-type", "text/csv", "-o", str(data / "out.jsonl")],
                               stderr=subprocess.PIPE)
    with open(fifo, "wb") as writer:  # a producer that stalls half-way: the prediction is in progress
        writer.write((data / "train.csv").read_bytes() * 50)
        writer.flush()
        time.sleep(1.0)
        process.send_signal(signal.SIGINT)
        stderr = process.communicate(timeout=60)[1].decode()
    assert process.returncode == 130, stderr
    assert "fastkmeans: interrupted" in stderr and "Traceback" not in stderr
    assert not (data / "out.jsonl").exists()
    assert [p.name for p in data.iterdir() if p.name.startswith(".out.jsonl")] == []


def test_progress_bars_show_on_a_terminal(data):
    import fcntl
    import pty
    import struct
    import termios

    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a 100-column terminal
    process = subprocess.Popen([sys.executable, "-m", "fastkmeans", "train", "--k", "3", "-o", str(data / "m.fkm"),
                                str(data / "train.csv")], stdout=subprocess.PIPE, stderr=terminal)
    os.close(terminal)
    shown = b""
    while True:
        try:
            piece = os.read(controller, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not piece:
            break
        shown += piece
    process.wait(120)
    os.close(controller)
    assert process.returncode == 0
    assert b"train (rows read, all passes)" in shown and b"rows" in shown


def test_select_k_prints_every_rules_choice_and_saves_the_chosen_model(data):
    result = ok("--quiet", "select-k", "--k-values", "2..5", "--random-state", 0, "--json", "-o", data / "best.fkm",
                data / "train.csv")
    chosen = json.loads(result.stdout)
    assert chosen["best_k"] == 3 and chosen["rule"] == "silhouette"
    assert set(chosen["choices"]) >= {"silhouette", "elbow", "calinski_harabasz", "davies_bouldin"}
    assert fastkmeans.load(data / "best.fkm").k == 3
    table = ok("--quiet", "select-k", "--k-values", "2,3,4", "--random-state", 0, data / "train.csv").stdout.decode()
    assert "silhouette" in table and "best k = 3 (silhouette)" in table
    bad = fastkmeans_cli("select-k", "--k-values", "two..five", data / "train.csv")
    assert bad.returncode == 2 and "--k-values" in bad.stderr.decode() and "Traceback" not in bad.stderr.decode()


def test_report_writes_one_html_page_from_any_model_file(data):
    ok("--quiet", "train", "--k", 3, "--random-state", 0, "-o", data / "model.tar.gz", data / "train.csv")
    result = ok("--quiet", "report", data / "model.tar.gz", data / "train.csv", "--k-values", "2..4",
                "-o", data / "report.html")
    assert result.stdout.decode().strip() == str(data / "report.html")
    page = (data / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count("data:image/png;base64,") >= 6
    assert sorted(p.name for p in data.iterdir()) == ["model.tar.gz", "report.html", "test.csv", "train.csv"]
    missing = fastkmeans_cli("report", data / "model.tar.gz", data / "nope.csv", "-o", data / "r2.html")
    assert missing.returncode == 1 and "nope.csv" in missing.stderr.decode() and not (data / "r2.html").exists()
