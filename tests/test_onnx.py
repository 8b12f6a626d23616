"""ONNX export, run by onnxruntime and checked against predict / transform / assign."""

from __future__ import annotations

import os
import pathlib
import sys

import numpy as np
import pytest

import fastkmeans
from fastkmeans import KMeans
from fastkmeans.sagemaker import load_model

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

ARTIFACT = (pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sagemaker-artifacts"
            / "us-population-2021" / "model.tar.gz")


def blobs(n=2000, d=6, centers=5, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    means = rng.uniform(-30, 30, (centers, d))
    return (means[rng.integers(0, centers, n)] + rng.normal(0, 1, (n, d))).astype(dtype)


def run(model_or_path, X):
    source = model_or_path.SerializeToString() if hasattr(model_or_path, "SerializeToString") else str(model_or_path)
    session = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in session.get_outputs()], session.run(None, {"X": X})))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_graph_matches_predict_transform_and_assign(tmp_path, dtype):
    X = blobs(dtype=dtype)
    model = KMeans(k=5, mini_batch_size=400, random_state=0).fit(X)
    proto = model.to_onnx(tmp_path / "model.onnx")
    assert os.listdir(tmp_path) == ["model.onnx"]
    assert onnx.load(str(tmp_path / "model.onnx")) == proto
    new = blobs(n=700, seed=1)
    out = run(tmp_path / "model.onnx", new)
    assert out["label"].dtype == np.int64 and out["label"].shape == (700,)
    assert out["scores"].dtype == np.float32 and out["scores"].shape == (700, 5)
    assert out["distance_to_cluster"].shape == (700,)
    np.testing.assert_array_equal(out["label"], model.predict(new.astype(dtype)))
    np.testing.assert_allclose(out["scores"], model.transform(new.astype(dtype)), rtol=1e-4, atol=1e-3)
    closest, distance = model.assign(new.astype(dtype))
    np.testing.assert_array_equal(out["label"], closest)
    np.testing.assert_allclose(out["distance_to_cluster"], distance, rtol=1e-4, atol=1e-3)


def test_the_graph_has_skl2onnx_names_and_types_a_dynamic_batch_and_opset_17():
    model = KMeans(k=4, mini_batch_size=400, random_state=0).fit(blobs())
    proto = model.to_onnx()
    assert [o.name for o in proto.graph.output] == ["label", "scores", "distance_to_cluster"]
    assert [i.name for i in proto.graph.input] == ["X"]
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "N" and dims[1].dim_value == 6
    assert proto.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.INT64
    assert proto.opset_import[0].version == 17 and proto.ir_version == 8
    assert proto.producer_name == "fastkmeans" and proto.producer_version == fastkmeans.__version__
    assert {p.key: p.value for p in proto.metadata_props} == {"k": "4", "feature_dim": "6"}
    for n in (1, 3, 1000):
        X = blobs(n=n, seed=n)
        assert run(proto, X)["label"].tolist() == model.predict(X).tolist()


def test_negative_squared_distances_are_clamped_before_the_square_root():
    # Far from the origin, ||x||² - 2x·c + ||c||² in float32 is all roundoff for a point on its centre.
    rng = np.random.default_rng(3)
    centers = (3000 + rng.normal(0, 50, (8, 16))).astype(np.float32)
    model = KMeans(k=8, random_state=0).fit(np.repeat(centers, 3, axis=0))
    X = model.cluster_centers_.astype(np.float32) + rng.normal(0, 1e-3, (8, 16)).astype(np.float32)
    expanded = ((X * X).sum(1)[:, None] - 2 * X @ model.cluster_centers_.T.astype(np.float32)
                + (model.cluster_centers_.astype(np.float32) ** 2).sum(1))
    assert (expanded < 0).any(), "the case should produce negative squared distances unclamped"
    out = run(model.to_onnx(), X)
    assert np.isfinite(out["scores"]).all() and np.isfinite(out["distance_to_cluster"]).all()
    assert (out["scores"] >= 0).all()
    np.testing.assert_array_equal(out["label"], model.predict(X))


@pytest.mark.skipif(not ARTIFACT.is_file(), reason="../shared/data is not beside the checkout")
def test_a_real_sagemaker_model_exports():
    sagemaker = load_model(ARTIFACT)
    X = np.random.default_rng(0).normal(0, 0.3, (300, 7)).astype(np.float32)
    np.testing.assert_array_equal(run(sagemaker.to_onnx(), X)["label"], sagemaker.predict(X))


def test_a_loaded_model_exports_the_same_graph(tmp_path):
    model = KMeans(k=3, random_state=0).fit(blobs())
    model.save(tmp_path / "model.fkm")
    loaded = fastkmeans.load(tmp_path / "model.fkm")
    assert loaded.to_onnx().SerializeToString() == model.to_onnx().SerializeToString()


def test_export_needs_a_fitted_model_and_the_onnx_package(monkeypatch):
    with pytest.raises(fastkmeans.NotFittedError):
        KMeans().to_onnx()
    model = KMeans(k=2, random_state=0).fit(blobs(n=50))
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r"pip install 'fastkmeans-sagemaker\[onnx\]'"):
        model.to_onnx()
