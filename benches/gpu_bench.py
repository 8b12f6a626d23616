"""GPU k-means: fastkmeans' CUDA backend against a careful PyTorch implementation (and faiss-gpu,
flash-kmeans where importable), on the same GPU, and against the device's peak.

Shapes (issue 17): 10,000,000 x 128 with k = 1,024 and 1,000,000 x 32 with k = 100. For each:
the time of one full-batch Lloyd iteration (assign + M step; the rows already on the device, as
every contender keeps them), and of one mini-batch epoch (batches of 5,000 rows). Useful FLOPs of
an iteration: 2·n·k·d; the share of fp32 peak (67 TFLOP/s on an H100/H200 without tensor cores)
is printed. Targets on an H200: Lloyd at >= 60% of fp32 peak and faster than every other contender.
Also timed: the float32 Lloyd iteration through cuBLAS SGEMM tiles instead of the fused
assignment kernel (``FASTKMEANS_CUDA_ASSIGN=gemm``: which is faster here), the Lloyd iteration
with the rows streamed from the host every pass (pinned buffers, copies overlapped with compute:
``FASTKMEANS_CUDA_KEEP=never``, as for data larger than the GPU), ``transform`` of 200,000 rows
(the n x k distances, copied back), the default seeding of ``algorithm="lloyd"`` (a coreset; its
k-means++ on the device) with one Lloyd iteration, on the device and, for the smaller shapes, on
the CPU, the exact silhouette of 20,000 rows and the dispersion statistics (Calinski–Harabasz,
Davies–Bouldin) of 1,000,000 rows, on the device and on the CPU. Each contender is timed on
its own (an error is recorded, not fatal) and the JSON is rewritten after every shape, so a run
cut short still leaves what it measured.

Run on a GPU machine: ``python benches/gpu_bench.py [--small] [--out results.json]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import time
from typing import Any, Callable, Dict, Iterator, List

import numpy as np

from fastkmeans import _core, _device

FP32_PEAK = 67e12
SHAPES = [(10_000_000, 128, 1024), (1_000_000, 32, 100)]
SMALL = [(1_000_000, 128, 1024), (200_000, 32, 100)]
# The same seeded fit on the CPU (the machine's cores) where n·k·d is at most this: the smaller shapes.
CPU_FIT_WORK = 2e11
# Rows of the exact silhouette timed on the device and on the CPU.
SILHOUETTE_ROWS = 20_000
# Rows of the dispersion (Calinski–Harabasz, Davies–Bouldin) timed on the device and on the CPU.
DISPERSION_ROWS = 1_000_000
BATCH = 5_000


def best_of(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def fastkmeans_lloyd(x: np.ndarray, c0: np.ndarray, device: Any) -> float:
    """Seconds per Lloyd iteration: (time of 1 + m iterations − time of 1) / m, so the one upload
    of the rows and the final labelling cancel out."""
    def run(iters: int) -> None:
        _core.fit_lloyd(x, k=len(c0), init_method="random", num_trials=1, max_iter=iters, tol=0.0, seed=0,
                        init_centers=c0, device=device)
    run(1)  # compile and warm up
    m = 5
    return (best_of(lambda: run(1 + m), 2) - best_of(lambda: run(1), 2)) / m


def fastkmeans_epoch(x: np.ndarray, k: int, device: Any) -> float:
    def run() -> None:
        _core.fit_minibatch(x, k=k, n_centers=k, mini_batch_size=BATCH, epochs=1, init_method="random",
                            half_life_time_size=0, local_lloyd_init_method="random", local_lloyd_num_trials=1,
                            local_lloyd_max_iter=1, local_lloyd_tol=1e-4, seed=0, device=device)
    return best_of(run, 2)


def fastkmeans_seeded_fit(x: np.ndarray, k: int, device: Any) -> float:
    """Seconds for the default seeding of algorithm="lloyd" (a coreset; its k-means++ on the device
    where the coreset has SEED_MIN_VALUES values) and one Lloyd iteration: what a given-centres
    timing leaves out."""
    def run() -> None:
        _core.fit_lloyd(x, k=k, init_method="coreset", num_trials=1, max_iter=1, tol=0.0, seed=0, device=device)
    return best_of(run, 1)


def fastkmeans_silhouette(x: np.ndarray, c0: np.ndarray, device: Any) -> float:
    """Seconds for the exact silhouette of SILHOUETTE_ROWS rows labelled by their nearest of c0."""
    rows = x[:SILHOUETTE_ROWS]
    labels = _core.assign(rows, c0)[0].astype(np.int32)
    _, codes = np.unique(labels, return_inverse=True)
    codes = np.ascontiguousarray(codes, dtype=np.int32)
    return best_of(lambda: _core.silhouette_samples(rows, codes, int(codes.max()) + 1, device=device), 1)


@contextlib.contextmanager
def env(name: str, value: str) -> Iterator[None]:
    """The environment variable `name` set to `value` for the block (the backend reads it every pass)."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            del os.environ[name]
        else:
            os.environ[name] = before


def fastkmeans_dispersion(x: np.ndarray, c0: np.ndarray, device: Any) -> float:
    """Seconds for the Calinski–Harabasz / Davies–Bouldin statistics of DISPERSION_ROWS rows labelled
    by their nearest of c0 (the rows copied from the host: a metric's call)."""
    rows = x[:DISPERSION_ROWS]
    labels = _core.assign(rows, c0)[0].astype(np.int32)
    return best_of(lambda: _core.dispersion(rows, labels, len(c0), device=device), 2)


def fastkmeans_streamed_lloyd(x: np.ndarray, c0: np.ndarray) -> float:
    """Seconds per Lloyd iteration with the rows copied from the host every pass (never kept)."""
    with env("FASTKMEANS_CUDA_KEEP", "never"):
        def run(iters: int) -> None:
            _core.fit_lloyd(x, k=len(c0), init_method="random", num_trials=1, max_iter=iters, tol=0.0, seed=0,
                            init_centers=c0, device=(0, False))
        m = 3
        return (best_of(lambda: run(1 + m), 1) - best_of(lambda: run(1), 1)) / m


def fastkmeans_gemm_lloyd(x: np.ndarray, c0: np.ndarray) -> float:
    """Seconds per float32 Lloyd iteration through cuBLAS SGEMM tiles and assign_tile instead of
    the fused kernel (FASTKMEANS_CUDA_ASSIGN=gemm): which of the two is faster on this GPU."""
    with env("FASTKMEANS_CUDA_ASSIGN", "gemm"):
        return fastkmeans_lloyd(x, c0, (0, False))


def fastkmeans_transform(x: np.ndarray, c0: np.ndarray) -> float:
    rows = x[:200_000]
    _core.transform(rows, c0, device=(0, False))
    return best_of(lambda: _core.transform(rows, c0, device=(0, False)), 2)


def timed(row: Dict[str, Any], key: str, fn: Callable[..., Any], *args: Any) -> None:
    """row[key] = fn(*args), or row[key + "_error"] = what it raised: one failing contender is reported."""
    try:
        value = fn(*args)
    except Exception as e:  # noqa: BLE001 - recorded, and the other contenders still run
        row[key.rsplit("_s", 1)[0] + "_error"] = repr(e)
        print(f"  {key}: FAILED {e!r}", flush=True)
        return
    if isinstance(value, dict):
        row.update(value)
    else:
        row[key] = value
    print(f"  {key}: {value}", flush=True)


def torch_contenders(x: np.ndarray, c0: np.ndarray) -> Dict[str, float]:
    import torch

    dev = torch.device("cuda")
    xt = torch.from_numpy(x).to(dev)
    ct = torch.from_numpy(c0).to(dev)
    n, k = len(x), len(c0)
    chunk = max(1, (1 << 30) // (4 * k))

    def lloyd_step(c: torch.Tensor) -> torch.Tensor:
        sums = torch.zeros_like(c)
        counts = torch.zeros(k, device=dev, dtype=torch.float32)
        cn = (c * c).sum(1)
        for s in range(0, n, chunk):
            xb = xt[s:s + chunk]
            lab = torch.argmin(cn[None, :] - 2.0 * (xb @ c.T), dim=1)
            sums.index_add_(0, lab, xb)
            counts.index_add_(0, lab, torch.ones_like(lab, dtype=torch.float32))
        return torch.where(counts[:, None] > 0, sums / counts.clamp(min=1)[:, None], c)

    def epoch() -> None:
        c = ct.clone()
        counts = torch.zeros(k, device=dev)
        perm = torch.randperm(n, device=dev)
        for s in range(0, n, BATCH):
            xb = xt[perm[s:s + BATCH]]
            lab = torch.argmin((c * c).sum(1)[None, :] - 2.0 * (xb @ c.T), dim=1)
            bs = torch.zeros_like(c).index_add_(0, lab, xb)
            bc = torch.bincount(lab, minlength=k).float()
            counts += bc
            upd = bc > 0
            c[upd] += (bs[upd] - bc[upd, None] * c[upd]) / counts[upd, None]
        torch.cuda.synchronize()

    torch.backends.cuda.matmul.allow_tf32 = False

    def timed_lloyd(iters: int = 5) -> float:
        lloyd_step(ct)
        torch.cuda.synchronize()
        start = time.perf_counter()
        c = ct
        for _ in range(iters):
            c = lloyd_step(c)
        torch.cuda.synchronize()
        return (time.perf_counter() - start) / iters

    out = {"torch_lloyd_s": min(timed_lloyd() for _ in range(2))}
    torch.backends.cuda.matmul.allow_tf32 = True
    out["torch_tf32_lloyd_s"] = min(timed_lloyd() for _ in range(2))
    torch.backends.cuda.matmul.allow_tf32 = False
    epoch()
    out["torch_epoch_s"] = best_of(epoch, 2)
    return out


def faiss_contender(x: np.ndarray, c0: np.ndarray) -> Dict[str, float]:
    try:
        import faiss  # type: ignore[import-not-found]
    except ImportError:
        return {}
    if not hasattr(faiss, "StandardGpuResources"):
        return {}
    km = faiss.Kmeans(x.shape[1], len(c0), niter=6, gpu=True, seed=0, max_points_per_centroid=1 << 30)
    start = time.perf_counter()
    km.train(x, init_centroids=c0)
    return {"faiss_lloyd_s": (time.perf_counter() - start) / 6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="smaller shapes (a quick check)")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args()
    count, reason = _device.probe()
    if count == 0:
        raise SystemExit(f"no usable GPU: {reason}")
    device_name = _core.cuda_describe(0)
    print("device:", device_name, flush=True)
    results: List[Dict[str, Any]] = []
    for n, d, k in SMALL if args.small else SHAPES:
        results.append(bench_shape(n, d, k, device_name))
        if args.out:
            with open(args.out, "w") as f:
                json.dump(results, f, indent=1)


def bench_shape(n: int, d: int, k: int, device_name: str) -> Dict[str, Any]:
    print(f"{n} x {d}, k = {k}", flush=True)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, d), dtype=np.float32)
    c0 = x[rng.choice(n, k, replace=False)].copy()
    flops = 2.0 * n * k * d
    row: Dict[str, Any] = {"n": n, "d": d, "k": k, "device": device_name}
    for name, device in (("fastkmeans", (0, False)), ("fastkmeans_tf32", (0, True))):
        timed(row, f"{name}_lloyd_s", fastkmeans_lloyd, x, c0, device)
        timed(row, f"{name}_epoch_s", fastkmeans_epoch, x, k, device)
    timed(row, "fastkmeans_gemm_lloyd_s", fastkmeans_gemm_lloyd, x, c0)
    timed(row, "fastkmeans_streamed_lloyd_s", fastkmeans_streamed_lloyd, x, c0)
    timed(row, "fastkmeans_transform_200k_s", fastkmeans_transform, x, c0)
    timed(row, "torch_s", torch_contenders, x, c0)
    timed(row, "faiss_s", faiss_contender, x, c0)
    # Last, so that a run cut short keeps the comparisons above: whole calls with their CPU work.
    timed(row, "fastkmeans_seeded_fit1_s", fastkmeans_seeded_fit, x, k, (0, False))
    if n * k * d <= CPU_FIT_WORK:
        timed(row, "cpu_seeded_fit1_s", fastkmeans_seeded_fit, x, k, None)
    timed(row, "fastkmeans_silhouette_20k_s", fastkmeans_silhouette, x, c0, (0, False))
    timed(row, "cpu_silhouette_20k_s", fastkmeans_silhouette, x, c0, None)
    timed(row, "fastkmeans_dispersion_1m_s", fastkmeans_dispersion, x, c0, (0, False))
    timed(row, "cpu_dispersion_1m_s", fastkmeans_dispersion, x, c0, None)
    for key in [key for key in row if key.endswith("_lloyd_s")]:
        row[key.replace("_lloyd_s", "_lloyd_pct_fp32_peak")] = 100.0 * flops / row[key] / FP32_PEAK
    for key, value in sorted(row.items()):
        print(f"  {key}: {value:.4g}" if isinstance(value, float) else f"  {key}: {value}")
    lloyds = {key: v for key, v in row.items() if key.endswith("_lloyd_s")}
    if lloyds:
        print(f"  fastest Lloyd: {min(lloyds, key=lloyds.__getitem__)}", flush=True)
    return row


if __name__ == "__main__":
    main()
