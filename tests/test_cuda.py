"""The CUDA backend against the CPU (``pytest -m cuda``; skipped, saying why, without a GPU).

Labels equal the CPU's, centres agree within 1e-5 relative, reruns on the GPU are bit-identical,
for Lloyd, the mini-batch trainer, predict, the per-cluster sums, weights, data past one chunk
(1 << 20 rows) and the TF32 mode. The GPU picks the exact nearest centre (near-ties re-checked in
f64); the CPU ranks by float32 scores, so the two may differ only where two centres are equally
near within float32 rounding. The data are small-valued, well-separated blobs, where such rows
are rare; the label-by-label tests allow them and check that they are true near-ties.
"""

import numpy as np
import pytest

from fastkmeans import KMeans, _core, _device

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not _device.cuda_available(), reason=f"no usable GPU: {_device.probe()[1]}"),
]


def blobs(n, d, k, seed=0, dtype=np.float32, with_centres=False):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(k, d))
    labels = rng.integers(0, k, size=n)
    x = (centres[labels] + rng.normal(scale=0.3, size=(n, d))).astype(dtype)
    return (x, centres.astype(dtype)) if with_centres else x


def same_labels_but_near_ties(x, centres, gpu, cpu):
    """Labels agree except at near-ties, where the GPU's centre is at least as near, exactly."""
    differ = np.flatnonzero(gpu != cpu)
    assert len(differ) <= max(1, len(x) // 10_000), f"{len(differ)} labels differ"
    for i in differ:
        xi = x[i].astype(np.float64)
        dg = np.sum((xi - centres[gpu[i]].astype(np.float64)) ** 2)
        dc = np.sum((xi - centres[cpu[i]].astype(np.float64)) ** 2)
        assert dg <= dc <= dg * (1 + 1e-5) + 1e-12, (i, dg, dc)


def close(a, b, rtol=1e-5):
    scale = np.maximum(np.abs(b), 1e-3 * np.abs(b).max())
    assert np.max(np.abs(a - b) / scale) <= rtol


@pytest.mark.parametrize("device", ["cuda", "cuda:0+tf32"])
@pytest.mark.parametrize("algorithm", ["lloyd", "minibatch"])
def test_fit_matches_the_cpu(device, algorithm):
    x = blobs(20_000, 24, 16)
    kw = dict(k=16, algorithm=algorithm, random_state=3, local_lloyd_max_iter=50)
    cpu = KMeans(**kw).fit(x)
    gpu = KMeans(**kw, device=device).fit(x)
    np.testing.assert_array_equal(gpu.labels_, cpu.labels_)
    close(gpu.cluster_centers_, cpu.cluster_centers_)
    again = KMeans(**kw, device=device).fit(x)
    np.testing.assert_array_equal(again.cluster_centers_, gpu.cluster_centers_)  # bit-identical rerun
    np.testing.assert_array_equal(gpu.predict(x), cpu.predict(x))


@pytest.mark.parametrize("tf32", [False, True])
@pytest.mark.parametrize("d", [1, 7, 8, 33, 128])
def test_assign_labels_and_exact_distances(d, tf32):
    x, centres = blobs(20_000, d, 40, seed=d, with_centres=True)
    centres = np.concatenate([centres, x[:200]])  # and centres among the rows: closer calls
    labels, dist2 = _core.assign(x, centres)
    glabels, gdist2 = _core.assign(x, centres, device=(0, tf32))
    same_labels_but_near_ties(x, centres, glabels, labels)
    same = glabels == labels
    np.testing.assert_array_equal(gdist2[same], dist2[same])  # the CPU's sq_dist_f64, to the bit


def test_exact_ties_go_to_the_lowest_index():
    x = np.zeros((100, 4), np.float32)
    centres = np.ones((5, 4), np.float32)
    labels, _ = _core.assign(x, centres, device=(0, False))
    assert (labels == 0).all()


def test_sums_match_the_cpu_and_reruns_are_identical():
    x, centres = blobs(50_000, 16, 30, seed=5, with_centres=True)
    cpu = _core.assign_and_sum(x, centres)
    gpu = _core.assign_and_sum(x, centres, device=(0, False))
    np.testing.assert_array_equal(gpu["labels"], cpu["labels"])
    np.testing.assert_array_equal(gpu["members"], cpu["members"])
    np.testing.assert_allclose(gpu["weights"], cpu["weights"], rtol=1e-12)
    np.testing.assert_allclose(gpu["deltas"], cpu["deltas"], rtol=1e-9, atol=1e-6)
    np.testing.assert_array_equal(gpu["dist2"], cpu["dist2"])
    again = _core.assign_and_sum(x, centres, device=(0, False))
    for key in ("labels", "dist2", "deltas", "weights", "members"):
        np.testing.assert_array_equal(again[key], gpu[key])


def test_weighted_lloyd_matches_the_cpu():
    x = blobs(10_000, 8, 12, seed=7)
    w = np.random.default_rng(7).random(len(x))
    w[::10] = 0.0
    kw = dict(k=12, init_method="random", num_trials=1, max_iter=30, tol=1e-4, seed=1, weights=w)
    cpu = _core.fit_lloyd(x, **kw)
    gpu = _core.fit_lloyd(x, **kw, device=(0, False))
    np.testing.assert_array_equal(gpu["labels"], cpu["labels"])
    close(gpu["centers"], cpu["centers"])


def test_data_past_one_chunk():
    x, centres = blobs((1 << 20) + 12_345, 8, 20, seed=9, with_centres=True)
    cpu = _core.assign_and_sum(x, centres)
    gpu = _core.assign_and_sum(x, centres, device=(0, False))
    np.testing.assert_array_equal(gpu["labels"], cpu["labels"])
    np.testing.assert_array_equal(gpu["dist2"], cpu["dist2"])
    np.testing.assert_allclose(gpu["deltas"], cpu["deltas"], rtol=1e-9, atol=1e-5)


def test_float64_and_sparse_rows_run_on_the_cpu_with_the_same_answer():
    x = blobs(2_000, 6, 5, dtype=np.float64)
    centres = x[:5].copy()
    np.testing.assert_array_equal(_core.assign(x, centres, device=(0, False))[0], _core.assign(x, centres)[0])


def test_metrics_and_transform_of_a_gpu_fit():
    x = blobs(8_000, 10, 6, seed=11)
    cpu = KMeans(k=6, random_state=0).fit(x)
    gpu = KMeans(k=6, random_state=0, device="cuda").fit(x)
    close(gpu.transform(x), cpu.transform(x))
    assert gpu.score(x) == pytest.approx(cpu.score(x), rel=1e-5)


def test_auto_picks_the_gpu(caplog):
    import logging

    with caplog.at_level(logging.INFO, logger="fastkmeans"):
        assert _device.resolve("auto") == (0, False)
    assert "running on CUDA device 0" in caplog.text
    assert _core.cuda_describe(0)
