"""The CUDA backend against the CPU (``pytest -m cuda``; skipped, saying why, without a GPU).

Labels equal the CPU's, centres agree within 1e-5 relative, reruns on the GPU are bit-identical,
for Lloyd, the mini-batch trainer, predict, transform, the metrics, the per-cluster sums, weights,
data past one chunk (1 << 20 rows), rows streamed chunk by chunk through the pinned buffers
(``FASTKMEANS_CUDA_CHUNK_ROWS`` / ``FASTKMEANS_CUDA_KEEP``: the same bits as rows kept on the
device) and the TF32 mode. In float32 the GPU ranks the centres by the CPU's own float32 scores
(``assign_fused``): every label is the CPU's, near-ties included. The TF32 mode and the cuBLAS
path (``FASTKMEANS_CUDA_ASSIGN=gemm``) pick the exact nearest centre (near-ties re-checked in
f64), which differs from the CPU's only where two centres are equally near within float32
rounding; on the small-valued, well-separated blobs here such rows are rare, and the
label-by-label tests of those paths allow them and check that they are true near-ties.
"""

import numpy as np
import pytest

from fastkmeans import KMeans, _core, _device, metrics

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


def test_a_minibatch_fit_against_many_centres_matches_the_cpu():
    """Batches of 5,000 rows against 300 streaming centres: the fused kernel splits the centres
    into groups (too few rows to fill the GPU), with the CPU's labels."""
    x = blobs(30_000, 16, 300, seed=13)
    kw = dict(k=300, algorithm="minibatch", random_state=4, mini_batch_size=5_000, epochs=2)
    cpu = KMeans(**kw).fit(x)
    gpu = KMeans(**kw, device="cuda").fit(x)
    np.testing.assert_array_equal(gpu.labels_, cpu.labels_)
    close(gpu.cluster_centers_, cpu.cluster_centers_)


@pytest.mark.parametrize("mode", ["float32", "float32-gemm", "tf32"])
@pytest.mark.parametrize("d", [1, 7, 8, 33, 128])
def test_assign_labels_and_exact_distances(d, mode, monkeypatch):
    if mode == "float32-gemm":
        monkeypatch.setenv("FASTKMEANS_CUDA_ASSIGN", "gemm")
    x, centres = blobs(20_000, d, 40, seed=d, with_centres=True)
    centres = np.concatenate([centres, x[:200]])  # and centres among the rows: closer calls
    labels, dist2 = _core.assign(x, centres)
    glabels, gdist2 = _core.assign(x, centres, device=(0, mode == "tf32"))
    if mode == "float32":
        np.testing.assert_array_equal(glabels, labels)
    else:
        same_labels_but_near_ties(x, centres, glabels, labels)
    same = glabels == labels
    np.testing.assert_array_equal(gdist2[same], dist2[same])  # the CPU's sq_dist_f64, to the bit


def twins(n, d, k, seed):
    """Blobs with k centres, and 100 more: the first 100 each moved a float32 step (near-ties)."""
    x, centres = blobs(n, d, k, seed=seed, with_centres=True)
    return x, np.concatenate([centres, np.nextafter(centres[:100], np.float32(np.inf))])


def the_cpus_float32_assignment(x, centres):
    """The GPU's float32 labels and distances are the CPU's, to the bit; returns the labels."""
    labels, dist2 = _core.assign(x, centres)
    glabels, gdist2 = _core.assign(x, centres, device=(0, False))
    np.testing.assert_array_equal(glabels, labels)
    np.testing.assert_array_equal(gdist2, dist2)
    return labels


def test_float32_labels_are_the_cpus_at_near_ties():
    """100 twin centres, each a float32 step from another (and 256 or more places away, so in
    another block of the kernel's 128 centres and another thread's 8): a third of the rows are
    near-ties. The CPU gives about half of them the twin that is farther in exact arithmetic;
    the fused kernel ranks by the same float32 scores, so every label is the CPU's."""
    x, centres = twins(50_000, 32, 300, seed=11)
    labels = the_cpus_float32_assignment(x, centres)
    # The test shows something: many labels are the farther twin.
    rows = np.flatnonzero(np.isin(labels, np.r_[0:100, 300:400]))
    twin = np.where(labels[rows] < 300, labels[rows] + 300, labels[rows] - 300)
    exact = lambda c: np.sum((x[rows].astype(np.float64) - centres[c].astype(np.float64)) ** 2, axis=1)  # noqa: E731
    assert np.sum(exact(twin) < exact(labels[rows])) > 1000


@pytest.mark.parametrize("rows", [3_000, 50_000])
def test_float32_labels_are_the_cpus_with_the_centres_split_or_not(rows):
    """3,000 rows are 24 blocks of the fused kernel: too few to fill a GPU, so its 1,000 centres
    are split into groups merged by assign_merge (a mini-batch's case); 50,000 rows are not split.
    Twin centres a float32 step apart (0-99 and 900-999) make near-ties across groups."""
    the_cpus_float32_assignment(*twins(rows, 16, 900, seed=12))


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


@pytest.mark.parametrize("weighted", [False, True])
def test_greedy_kmeanspp_on_the_device_chooses_the_cpus_rows(weighted):
    """20,000 x 32 float32 rows (past SEED_MIN_VALUES): greedy k-means++ runs on the device, its
    distances, potentials and gains with the CPU's bits. One Lloyd iteration from the seeds: equal
    labels and centres within 1e-5 mean the same seeds (another seed moves many rows)."""
    x = blobs(20_000, 32, 40, seed=11)
    w = None
    if weighted:
        w = np.random.default_rng(11).random(len(x)) * 3.0
        w[::7] = 0.0
    kw = dict(k=40, init_method="kmeans++", num_trials=2, max_iter=1, tol=1e-4, seed=5, weights=w)
    cpu = _core.fit_lloyd(x, **kw)
    gpu = _core.fit_lloyd(x, **kw, device=(0, False))
    np.testing.assert_array_equal(gpu["labels"], cpu["labels"])
    close(gpu["centers"], cpu["centers"])
    again = _core.fit_lloyd(x, **kw, device=(0, False))
    np.testing.assert_array_equal(again["centers"], gpu["centers"])


def test_the_coreset_seeding_runs_its_kmeanspp_on_the_device():
    """The default seeding of algorithm="lloyd": k = 512 draws a coreset of 16,384 rows (about
    16,000 distinct) of 32 features, whose k-means++ runs on the device (its Lloyd runs stay on the
    CPU)."""
    x = blobs(300_000, 32, 64, seed=12)
    kw = dict(k=512, init_method="coreset", num_trials=1, max_iter=1, tol=1e-4, seed=2)
    cpu = _core.fit_lloyd(x, **kw)
    gpu = _core.fit_lloyd(x, **kw, device=(0, False))
    same_labels_but_near_ties(x, cpu["centers"], gpu["labels"], cpu["labels"])
    close(gpu["centers"], cpu["centers"])


def test_plain_kmeanspp_seeds_the_minibatch_trainer_on_the_device():
    """init_method="kmeans++" (plain: one candidate a step) on a 10,000-row first batch of 32
    features, on the device."""
    x = blobs(40_000, 32, 30, seed=13)
    kw = dict(k=30, n_centers=60, mini_batch_size=10_000, epochs=1, init_method="kmeans++", half_life_time_size=0,
              local_lloyd_init_method="kmeans++", local_lloyd_num_trials=2, local_lloyd_max_iter=20,
              local_lloyd_tol=1e-4, seed=4)
    cpu = _core.fit_minibatch(x, **kw)
    gpu = _core.fit_minibatch(x, **kw, device=(0, False))
    close(gpu["centers"], cpu["centers"])


def test_the_silhouette_on_the_device_matches_the_cpu():
    """9,000 rows: three tiles of rows, two of columns (8,192); every pair from float64 GEMM tiles,
    within 1e-10 of the CPU's exact values, reruns bit-identical; the sampled estimate too."""
    x = blobs(9_000, 16, 8, seed=14)
    labels = KMeans(k=8, random_state=0).fit(x).labels_
    cpu = metrics.silhouette_samples(x, labels)
    gpu = metrics.silhouette_samples(x, labels, device="cuda")
    np.testing.assert_allclose(gpu, cpu, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(metrics.silhouette_samples(x, labels, device="cuda"), gpu)
    est_cpu = metrics.silhouette_estimate(x, labels, 700, random_state=1)
    est_gpu = metrics.silhouette_estimate(x, labels, 700, random_state=1, device="cuda")
    assert abs(est_gpu.score - est_cpu.score) <= 1e-10
    assert abs(est_gpu.standard_error - est_cpu.standard_error) <= 1e-10


@pytest.mark.parametrize("env", [{}, {"FASTKMEANS_CUDA_CHUNK_ROWS": "4096"}, {"FASTKMEANS_CUDA_KEEP": "always"}])
def test_the_dispersion_on_the_device_matches_the_cpu(env, monkeypatch):
    """Calinski–Harabasz and Davies–Bouldin: the per-cluster statistics from two passes on the
    device (one chunk copied twice, chunks of 4,096 rows streamed, rows kept on the device
    between the passes), within 1e-12 of the CPU's; an empty cluster and float64 rows (on the
    CPU) included; reruns identical."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    x, centres = blobs(30_000, 20, 12, seed=14, with_centres=True)
    x, centres = x + np.float32(50.0), centres + np.float32(50.0)  # far from the origin
    labels = _core.assign(x, centres)[0].astype(np.int32)
    k = 13  # cluster 12 is empty
    assert np.count_nonzero(np.bincount(labels, minlength=k)) == 12
    cpu = _core.dispersion(x, labels, k)
    assert np.isfinite(cpu["calinski_harabasz"]) and cpu["davies_bouldin"] > 0
    gpu = _core.dispersion(x, labels, k, device=(0, False))
    np.testing.assert_array_equal(gpu["counts"], cpu["counts"])
    for key in ("means", "within_ssd", "within_distance", "calinski_harabasz", "davies_bouldin"):
        np.testing.assert_allclose(gpu[key], cpu[key], rtol=1e-12, atol=1e-12, err_msg=key)
    again = _core.dispersion(x, labels, k, device=(0, False))
    for key in ("means", "within_ssd", "calinski_harabasz", "davies_bouldin"):
        np.testing.assert_array_equal(again[key], gpu[key])
    x64 = x.astype(np.float64)
    on_cpu = _core.dispersion(x64, labels, k, device=(0, False))  # float64 rows: the CPU's, exactly
    assert on_cpu["davies_bouldin"] == _core.dispersion(x64, labels, k)["davies_bouldin"]


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


def transform_bound(x, centres):
    """The GPU transform's bound on |d² − exact d²|: the float32 GEMM's rounding (as the backend)."""
    d = x.shape[1]
    xn = np.sqrt(np.einsum("ij,ij->i", x.astype(np.float64), x.astype(np.float64)))
    cn = np.sqrt(np.einsum("ij,ij->i", centres.astype(np.float64), centres.astype(np.float64)))
    return 4 * (d + 2) * 2.0**-24 * xn[:, None] * cn[None, :]


@pytest.mark.parametrize("tf32", [False, True])
@pytest.mark.parametrize("d", [5, 64])
def test_transform_is_exact_near_the_centres_and_within_the_bound_elsewhere(d, tf32):
    # Far from the origin, so that the expansion ||x||² + ||c||² − 2x·c cancels near a centre:
    # the device re-checks those distances exactly (TF32 mode still multiplies in float32 here).
    x, centres = blobs(30_000, d, 50, seed=13 + d, with_centres=True)
    x, centres = x + 30, centres + 30
    centres = np.concatenate([centres, x[:100]])
    exact = _core.transform(x, centres)  # the CPU: every distance exact, rounded once to float32
    gpu = _core.transform(x, centres, device=(0, tf32))
    assert gpu.dtype == np.float32 and gpu.shape == exact.shape
    e2, g2, bound = exact.astype(np.float64) ** 2, gpu.astype(np.float64) ** 2, transform_bound(x, centres)
    assert (np.abs(g2 - e2) <= bound + 4 * np.finfo(np.float32).eps * (e2 + bound)).all()
    near = e2 < 1000 * bound
    assert near.sum() >= len(x)  # every row's own centre at least
    np.testing.assert_array_equal(gpu[near], exact[near])
    assert (gpu[np.arange(100), 50 + np.arange(100)] == 0).all()  # rows that are centres


def test_metrics_and_transform_of_a_gpu_fit():
    x = blobs(8_000, 10, 6, seed=11)
    cpu = KMeans(k=6, random_state=0).fit(x)
    gpu = KMeans(k=6, random_state=0, device="cuda").fit(x)
    got = gpu.transform(x)
    # numpy's float32 expansion on the CPU, on the same centres: within float32's tolerance.
    cpu.cluster_centers_ = gpu.cluster_centers_.copy()
    numpy = cpu.transform(x).astype(np.float64)
    scale = (np.einsum("ij,ij->i", x, x)[:, None] + np.einsum("ij,ij->i", gpu.cluster_centers_,
                                                                gpu.cluster_centers_)[None, :])
    assert (np.abs(got.astype(np.float64) ** 2 - numpy**2) <= 64 * np.finfo(np.float32).eps * scale).all()
    assert gpu.score(x) == pytest.approx(cpu.score(x), rel=1e-5)
    assert gpu.evaluate(x)["msd"] == pytest.approx(cpu.evaluate(x)["msd"], rel=1e-5)


@pytest.fixture
def many_chunks(monkeypatch):
    """Chunks of 4096 rows (the backend's FASTKMEANS_CUDA_CHUNK_ROWS), so that a small array streams."""
    monkeypatch.setenv("FASTKMEANS_CUDA_CHUNK_ROWS", "4096")
    return monkeypatch


def test_streamed_chunks_give_the_resident_bits(many_chunks):
    # 13 chunks of 4096 rows (the last shorter): streamed through the pinned buffers and the copy
    # stream (KEEP=never), or read from the rows kept on the device (KEEP=always): every bit equal.
    x, centres = blobs(50_000, 24, 40, seed=17, with_centres=True)
    w = np.random.default_rng(17).random(len(x))
    results = {}
    for keep in ("never", "always"):
        many_chunks.setenv("FASTKMEANS_CUDA_KEEP", keep)
        results[keep] = (
            _core.assign_and_sum(x, centres, device=(0, False)),
            _core.transform(x, centres, device=(0, False)),
            _core.fit_lloyd(x, k=40, init_method="random", num_trials=1, max_iter=20, tol=1e-4, seed=3, weights=w,
                            device=(0, False)),
        )
    (sums_n, dist_n, fit_n), (sums_a, dist_a, fit_a) = results["never"], results["always"]
    for key in ("labels", "dist2", "deltas", "weights", "members"):
        np.testing.assert_array_equal(sums_n[key], sums_a[key])
    np.testing.assert_array_equal(dist_n, dist_a)
    np.testing.assert_array_equal(fit_n["centers"], fit_a["centers"])
    np.testing.assert_array_equal(fit_n["labels"], fit_a["labels"])
    # And against the CPU: labels and distances equal, sums within their rounding.
    cpu = _core.assign_and_sum(x, centres)
    np.testing.assert_array_equal(sums_n["labels"], cpu["labels"])
    np.testing.assert_array_equal(sums_n["dist2"], cpu["dist2"])
    np.testing.assert_allclose(sums_n["deltas"], cpu["deltas"], rtol=1e-9, atol=1e-6)
    cpu_fit = _core.fit_lloyd(x, k=40, init_method="random", num_trials=1, max_iter=20, tol=1e-4, seed=3, weights=w)
    np.testing.assert_array_equal(fit_n["labels"], cpu_fit["labels"])
    close(fit_n["centers"], cpu_fit["centers"])


def test_a_streamed_fit_matches_the_cpu(many_chunks):
    many_chunks.setenv("FASTKMEANS_CUDA_KEEP", "never")
    x = blobs(30_000, 12, 10, seed=19)
    kw = dict(k=10, algorithm="lloyd", random_state=5)
    cpu = KMeans(**kw).fit(x)
    gpu = KMeans(**kw, device="cuda").fit(x)
    np.testing.assert_array_equal(gpu.labels_, cpu.labels_)
    close(gpu.cluster_centers_, cpu.cluster_centers_)
    np.testing.assert_array_equal(gpu.predict(x), cpu.predict(x))


def test_the_device_says_which_kernels_it_loaded():
    # A CUBIN for the device's own architecture unless this NVRTC does not know it (then PTX).
    described = _core.cuda_describe(0, False)
    assert "kernels: cubin sm_" in described or "kernels: ptx compute_" in described, described


def test_auto_picks_the_gpu(caplog):
    import logging

    with caplog.at_level(logging.INFO, logger="fastkmeans"):
        assert _device.resolve("auto") == (0, False)
    assert "running on CUDA device 0" in caplog.text
    assert _core.cuda_describe(0)


def test_the_ptx_fallback_gives_the_same_answers(tmp_path):
    # FASTKMEANS_CUDA_KERNELS=ptx loads PTX (JIT-compiled by the driver) instead of the CUBIN: the
    # path taken when NVRTC does not know the GPU or the driver refuses the CUBIN. A fresh process,
    # since the kernels are loaded once per process.
    import os
    import subprocess
    import sys

    x, centres = blobs(20_000, 16, 30, seed=23, with_centres=True)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "c.npy", centres)
    script = (
        "import numpy as np, sys\n"
        "from fastkmeans import _core\n"
        f"x, c = np.load({str(tmp_path / 'x.npy')!r}), np.load({str(tmp_path / 'c.npy')!r})\n"
        "print(_core.cuda_describe(0, False))\n"
        "got = _core.assign_and_sum(x, c, device=(0, False))\n"
        f"np.savez({str(tmp_path / 'out.npz')!r}, **got)\n"
    )
    env = dict(os.environ, FASTKMEANS_CUDA_KERNELS="ptx", FASTKMEANS_CACHE_DIR=str(tmp_path / "cache"))
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "kernels: ptx compute_" in done.stdout, done.stdout
    got = np.load(tmp_path / "out.npz")
    cubin = _core.assign_and_sum(x, centres, device=(0, False))
    for key in ("labels", "dist2", "deltas", "weights", "members"):
        np.testing.assert_array_equal(got[key], cubin[key])
