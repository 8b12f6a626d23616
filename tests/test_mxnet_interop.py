"""Real MXNet 1.9.1 both ways: mx.nd.load reads what save_model writes, and load_model reads what mx.nd.save writes.

MXNet 1.9.1 needs numpy < 1.24, so it runs in its own environment (``make mxnet-venv``, built here on
first use, or the interpreter named by FASTKMEANS_MXNET_PYTHON). Where it cannot be installed the
test is skipped with pip's reason. Slow: deselected by default, run with ``pytest -m slow``.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import tarfile
import textwrap

import numpy as np
import pytest

from fastkmeans import KMeans
from fastkmeans._ndarray import load_ndarray_list, save_ndarray_list
from fastkmeans.sagemaker import load_model, save_model

pytestmark = pytest.mark.slow

ROOT = pathlib.Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT.parent / "shared" / "data" / "sagemaker-artifacts"


@pytest.fixture(scope="module")
def mxnet_python() -> str:
    python = os.environ.get("FASTKMEANS_MXNET_PYTHON")
    if not python:
        try:
            made = subprocess.run(["make", "-C", str(ROOT), "mxnet-venv"], capture_output=True, text=True,
                                  timeout=1200)
        except OSError as error:  # no make (Windows)
            pytest.skip(f"MXNet 1.9.1 cannot be installed here: make mxnet-venv: {error}")
        if made.returncode != 0:
            pytest.skip("MXNet 1.9.1 cannot be installed here (make mxnet-venv): "
                        + (made.stderr or made.stdout).strip().splitlines()[-1])
        python = str(ROOT / ".mxnet-venv" / "bin" / "python")
    probe = subprocess.run([python, "-c", "import mxnet; print(mxnet.__version__)"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"MXNet does not import in {python}: {probe.stderr.strip().splitlines()[-1]}")
    assert probe.stdout.strip() == "1.9.1"
    return python


MXNET_SIDE = textwrap.dedent("""
    import json, sys
    import mxnet as mx, numpy as np
    folder = sys.argv[1]
    out = {}
    # Direction 1: what fastkmeans wrote, read by MXNet.
    ours = mx.nd.load(folder + "/ours/model_algo-1")
    out["ours_type"] = type(ours).__name__
    out["ours_shape"] = list(ours[0].shape)
    out["ours_dtype"] = str(ours[0].dtype.__name__)
    out["ours_equal"] = bool((ours[0].asnumpy() == np.load(folder + "/centers32.npy")).all())
    # Direction 2: MXNet writes; fastkmeans reads (the test compares).
    centers64 = np.load(folder + "/centers64.npy")
    mx.nd.save(folder + "/mx_f32", [mx.nd.array(centers64)])  # mx.nd.array casts to float32, as EX-BYOM does
    mx.nd.save(folder + "/mx_f64", [mx.nd.array(centers64, dtype="float64")])
    mx.nd.save(folder + "/mx_dict", {"0": mx.nd.array(centers64), "1": mx.nd.ones((centers64.shape[0], 1))})
    for artifact in sys.argv[2:]:
        real = mx.nd.load(artifact)
        out.setdefault("real", []).append(real[0].asnumpy().tolist())
    print(json.dumps(out))
""")


def test_mxnet_and_fastkmeans_read_each_others_files(tmp_path, mxnet_python):
    X = np.random.default_rng(0).normal(size=(3000, 7))
    model = KMeans(k=8, mini_batch_size=500, random_state=0).fit(X)
    save_model(model, tmp_path / "model.tar.gz")
    with tarfile.open(tmp_path / "model.tar.gz") as archive:
        (tmp_path / "ours").mkdir()
        (tmp_path / "ours" / "model_algo-1").write_bytes(archive.extractfile("model_algo-1").read())
    np.save(tmp_path / "centers32.npy", model.cluster_centers_.astype(np.float32))
    np.save(tmp_path / "centers64.npy", model.cluster_centers_)
    real = []
    for artifact in sorted(ARTIFACTS.glob("*/model.tar.gz")):
        with tarfile.open(artifact) as archive:
            real.append(tmp_path / f"{artifact.parent.name}-model_algo-1")
            real[-1].write_bytes(archive.extractfile("model_algo-1").read())
    ran = subprocess.run([mxnet_python, "-c", MXNET_SIDE, str(tmp_path), *map(str, real)], capture_output=True,
                         text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr
    out = json.loads(ran.stdout.strip().splitlines()[-1])
    # MXNet reads fastkmeans' model_algo-1 as SageMaker users read theirs: mx.nd.load(...)[0].
    assert out["ours_type"] == "list" and out["ours_shape"] == [8, 7] and out["ours_dtype"] == "float32"
    assert out["ours_equal"]
    # fastkmeans writes mx.nd.save's bytes exactly, and reads all of them.
    assert (tmp_path / "mx_f32").read_bytes() == save_ndarray_list([model.cluster_centers_.astype(np.float32)])
    assert (tmp_path / "mx_f64").read_bytes() == save_ndarray_list([model.cluster_centers_])
    arrays, names = load_ndarray_list((tmp_path / "mx_f64").read_bytes())
    assert arrays[0].dtype == np.float64 and names == []
    np.testing.assert_array_equal(arrays[0], model.cluster_centers_)
    arrays, names = load_ndarray_list((tmp_path / "mx_dict").read_bytes())
    assert dict(zip(names, (a.shape for a in arrays))) == {"0": (8, 7), "1": (8, 1)}
    # An artifact built from MXNet's file, as EX-BYOM does (tar czvf model.tar.gz model_algo-1), predicts.
    for source, dtype in (("mx_f32", np.float32), ("mx_f64", np.float64)):
        with tarfile.open(tmp_path / f"{source}.tar.gz", "w:gz") as archive:
            archive.add(tmp_path / source, arcname="model_algo-1")
        loaded = load_model(tmp_path / f"{source}.tar.gz")
        assert loaded.cluster_centers_.dtype == dtype
        np.testing.assert_array_equal(loaded.predict(X), model.predict(X.astype(dtype)))
    # MXNet and fastkmeans read the same centres from SageMaker's real artifacts.
    for artifact, centers in zip(sorted(ARTIFACTS.glob("*/model.tar.gz")), out["real"]):
        np.testing.assert_array_equal(load_model(artifact).cluster_centers_, np.array(centers, dtype=np.float32))
