"""``KMeans(device=...)`` where no GPU is usable: the checks, the errors and the fallback.

The GPU's own results are in tests/test_cuda.py (``pytest -m cuda``, on a machine with a GPU).
"""

import logging

import numpy as np
import pytest

from fastkmeans import KMeans, _core, _device, metrics, select_k


def test_cpu_is_the_default_and_resolves_to_none():
    assert KMeans().device == "cpu"
    assert _device.resolve("cpu") is None


@pytest.mark.parametrize("bad", ["gpu", "cuda:", "cuda:-1", "CUDA", "cpu:0", "cpu+tf32", "auto:1", "", 0, None])
def test_a_bad_device_is_refused_by_name(bad):
    with pytest.raises(ValueError, match=r"invalid device="):
        _device.resolve(bad)


def test_a_bad_device_fails_fit_before_any_work():
    x = np.random.default_rng(0).random((50, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="invalid device='tpu'"):
        KMeans(k=2, device="tpu").fit(x)


@pytest.mark.skipif(_device.cuda_available(), reason="a GPU is usable here")
def test_cuda_without_a_usable_gpu_says_which(caplog):
    x = np.random.default_rng(0).random((50, 3), dtype=np.float32)
    expected = "compiled without the cuda feature" if not _core.cuda_compiled() else "no usable GPU: "
    for device in ("cuda", "cuda:1", "cuda+tf32"):
        with pytest.raises(RuntimeError, match=expected):
            KMeans(k=2, device=device).fit(x)
    # The core refuses too when it is asked directly.
    with pytest.raises(RuntimeError, match="compiled without the cuda feature|no usable GPU"):
        _core.assign(x, x[:2], device=(0, False))


@pytest.mark.skipif(_device.cuda_available(), reason="a GPU is usable here")
def test_auto_falls_back_to_the_cpu_and_says_so(caplog):
    x = np.random.default_rng(1).random((200, 4), dtype=np.float32)
    with caplog.at_level(logging.INFO, logger="fastkmeans"):
        auto = KMeans(k=3, device="auto", random_state=0).fit(x)
    assert any("device='auto': running on the CPU" in r.getMessage() for r in caplog.records)
    cpu = KMeans(k=3, device="cpu", random_state=0).fit(x)
    np.testing.assert_array_equal(auto.cluster_centers_, cpu.cluster_centers_)
    np.testing.assert_array_equal(auto.predict(x), cpu.predict(x))


@pytest.mark.skipif(_device.cuda_available(), reason="a GPU is usable here")
def test_the_silhouette_takes_a_device_as_kmeans_does(caplog):
    x = np.random.default_rng(2).random((300, 4), dtype=np.float32)
    labels = np.arange(300) % 3
    exact = metrics.silhouette_samples(x, labels)
    np.testing.assert_array_equal(metrics.silhouette_samples(x, labels, device="cpu"), exact)
    with caplog.at_level(logging.INFO, logger="fastkmeans"):
        np.testing.assert_array_equal(metrics.silhouette_samples(x, labels, device="auto"), exact)
    assert any("device='auto': running on the CPU" in r.getMessage() for r in caplog.records)
    assert metrics.silhouette_score(x, labels, device="auto") == float(np.mean(exact))
    with pytest.raises(ValueError, match="invalid device='gpu'"):
        metrics.silhouette_score(x, labels, device="gpu")
    expected = "compiled without the cuda feature" if not _core.cuda_compiled() else "no usable GPU: "
    with pytest.raises(RuntimeError, match=expected):
        metrics.silhouette_estimate(x, labels, 50, device="cuda")
    # select_k scores each model where it ran.
    with pytest.raises(RuntimeError, match=expected):
        select_k(x, [2, 3], device="cuda", progress=False)
    assert select_k(x, [2, 3], device="auto", random_state=0, progress=False).best_k in (2, 3)


@pytest.mark.skipif(_device.cuda_available(), reason="a GPU is usable here")
@pytest.mark.parametrize("score", [metrics.calinski_harabasz_score, metrics.davies_bouldin_score])
def test_the_dispersion_indices_take_a_device_as_kmeans_does(score, caplog):
    x = np.random.default_rng(3).random((300, 4), dtype=np.float32)
    labels = np.arange(300) % 3
    value = score(x, labels)
    assert score(x, labels, device="cpu") == value
    with caplog.at_level(logging.INFO, logger="fastkmeans"):
        assert score(x, labels, device="auto") == value
    assert any("device='auto': running on the CPU" in r.getMessage() for r in caplog.records)
    with pytest.raises(ValueError, match="invalid device='gpu'"):
        score(x, labels, device="gpu")
    expected = "compiled without the cuda feature" if not _core.cuda_compiled() else "no usable GPU: "
    with pytest.raises(RuntimeError, match=expected):
        score(x, labels, device="cuda")


def test_the_probe_gives_a_reason_when_there_is_no_device():
    count, reason = _device.probe()
    assert count >= 0
    if count == 0:
        assert reason  # a sentence saying what is missing
    assert _device.cuda_available() == (count > 0)


def test_the_loader_lists_pip_nvidia_lib_dirs(tmp_path, monkeypatch):
    lib = tmp_path / "nvidia" / "cublas" / "lib"
    lib.mkdir(parents=True)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert str(lib) in _device.cuda_lib_dirs()


def test_auto_falls_back_when_a_gpu_is_there_but_cannot_be_opened(monkeypatch, caplog):
    # A device the driver lists may still be unusable (too old, kernels refused): "auto" must
    # then run on the CPU and say why, not fail in fit.
    monkeypatch.setattr(_device, "probe", lambda: (1, ""))

    def refuse(ordinal, tf32):
        raise RuntimeError("no usable GPU: compute capability 6.1 is below 7.0")

    monkeypatch.setattr(_core, "cuda_describe", refuse)
    with caplog.at_level(logging.INFO, logger="fastkmeans"):
        assert _device.resolve("auto") is None
    assert any("running on the CPU (no usable GPU: compute capability 6.1" in r.getMessage()
               for r in caplog.records)


def test_core_transform_is_exact_on_the_cpu_and_matches_kmeans_transform():
    # _core.transform is the device path of KMeans.transform; on the CPU every distance is exact
    # (float64, rounded once), so it agrees with numpy's float32 expansion within its rounding.
    rng = np.random.default_rng(3)
    x = (rng.normal(size=(300, 7)) + 20).astype(np.float32)
    centres = np.concatenate([x[:3], (rng.normal(size=(4, 7)) + 20).astype(np.float32)])
    got = _core.transform(x, centres)
    assert got.dtype == np.float32 and got.shape == (300, 7)
    exact = np.sqrt(((x[:, None, :].astype(np.float64) - centres[None, :, :].astype(np.float64)) ** 2).sum(-1))
    np.testing.assert_array_equal(got, exact.astype(np.float32))
    assert (got[np.arange(3), np.arange(3)] == 0).all()  # rows that are centres
    model = KMeans(k=7, random_state=0).fit(x)
    model.cluster_centers_ = centres
    scale = np.sqrt(np.einsum("ij,ij->i", x, x))[:, None] * np.sqrt(np.einsum("ij,ij->i", centres, centres))[None, :]
    assert (np.abs(model.transform(x) ** 2 - got.astype(np.float64) ** 2) <= 1e-5 * scale).all()
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(_core.transform(x64, centres.astype(np.float64)), exact, rtol=1e-15, atol=0)


def test_core_transform_refuses_a_width_mismatch():
    x = np.zeros((3, 4), np.float32)
    with pytest.raises(Exception, match="4|3"):
        _core.transform(x, np.zeros((2, 3), np.float32))
