"""fastkmeans on Dask against dask-ml's KMeans, on the same LocalCluster and data (`make bench-dask`).

For 1 and then 2 worker processes (1 thread each, on loopback), the same data (4k overlapping
Gaussian blobs, generated on the workers block by block and persisted there before any timing) is clustered by:

* fastkmeans, ``algorithm="minibatch"`` (SageMaker's sharded web-scale recipe, 1 epoch);
* fastkmeans, ``algorithm="lloyd"`` (distributed Lloyd, seeded from a sample of the first partition);
* fastkmeans, ``algorithm="lloyd", local_lloyd_init_method="kmeans||"`` (seeded by distributed k-means||);
* dask-ml's ``KMeans`` (k-means|| seeding, then Lloyd), when dask-ml is installed.

Then the seedings alone, on the same persisted data: fastkmeans' sample seeding (the best of 10
k-means++-seeded Lloyd runs on ``mini_batch_size`` rows of the first partition), fastkmeans'
distributed k-means|| (5 rounds of ℓ = 2k, weighted reduction of the candidates) and dask-ml's
``init_scalable`` (its k-means||: about ln(ψ) rounds, an unweighted reduction), each with the ssd
of the data to its seeds.

Every contender gets ``n_threads=1`` per worker (distributed pins BLAS to one thread per worker
too). Printed: wall time, the ssd of the data to each model's centres (computed the same way for
all, on the workers), time ratios against dask-ml, and for fastkmeans the bytes of centres, counts
and sums moved per epoch / iteration (``sync_bytes_``) next to the size of the data.

Usage: python benches/dask_bench.py [--n N] [--d D] [--k K] [--partitions P] [--repeat R]
"""

from __future__ import annotations

import argparse
import logging
import time

import dask
import dask.array as da
import distributed
import numpy as np

from fastkmeans import KMeans

try:
    from dask_ml.cluster import KMeans as DaskMLKMeans
except ImportError:  # the comparison is skipped, saying so
    DaskMLKMeans = None


def blobs_block(i: int, rows: int, d: int, k: int) -> np.ndarray:
    # 4k overlapping blobs for k clusters: no partition of them is obviously right, so losses differ.
    centers = np.random.default_rng(12345).normal(0, 3, (4 * k, d))
    rng = np.random.default_rng([12345, i])
    return centers[rng.integers(0, 4 * k, rows)] + rng.normal(size=(rows, d))


def make_data(n: int, d: int, k: int, partitions: int):
    rows = n // partitions
    blocks = [da.from_delayed(dask.delayed(blobs_block, pure=True)(i, rows, d, k), shape=(rows, d), dtype=np.float64)
              for i in range(partitions)]
    return da.concatenate(blocks)


def ssd_block(block: np.ndarray, centers: np.ndarray) -> np.ndarray:
    # ||x - c||² = ||x||² - 2 x·c + ||c||², clamped at zero where roundoff makes it negative.
    squared = (block * block).sum(1)[:, None] - 2 * block @ centers.T + (centers * centers).sum(1)
    return np.array([np.maximum(squared, 0).min(1).sum()])


def ssd(X, centers: np.ndarray) -> float:
    return float(X.map_blocks(ssd_block, centers, drop_axis=1, chunks=(1,), dtype=np.float64).sum().compute())


def timed(fit, X, repeat: int):
    best, model = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        model = fit(X)
        best = min(best, time.perf_counter() - start)
    return best, model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--d", type=int, default=16)
    parser.add_argument("--k", type=int, default=16)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    if DaskMLKMeans is None:
        print("dask-ml is not installed (pip install dask-ml): fastkmeans only.")
    contenders = {
        "fastkmeans minibatch": lambda X: KMeans(k=args.k, random_state=0, n_threads=1).fit(X),
        "fastkmeans lloyd": lambda X: KMeans(k=args.k, algorithm="lloyd", random_state=0, n_threads=1).fit(X),
        "fastkmeans lloyd k-means||": lambda X: KMeans(k=args.k, algorithm="lloyd", local_lloyd_init_method="kmeans||",
                                                      random_state=0, n_threads=1).fit(X),
    }
    if DaskMLKMeans is not None:
        contenders["dask-ml KMeans"] = lambda X: DaskMLKMeans(n_clusters=args.k, random_state=0).fit(X)
    print(f"n = {args.n:,}, d = {args.d}, k = {args.k}, {args.partitions} partitions, "
          f"{args.n * args.d * 8 / 1e6:.0f} MB of float64 data; best of {args.repeat}")
    for workers in (1, 2):
        with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                      dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
                distributed.Client(cluster):
            X = make_data(args.n, args.d, args.k, args.partitions).persist()
            distributed.wait(X)
            results = {}
            for name, fit in contenders.items():
                seconds, model = timed(fit, X, args.repeat)
                results[name] = (seconds, ssd(X, np.asarray(model.cluster_centers_, dtype=np.float64)), model)
            print(f"\n{workers} worker{'s' if workers > 1 else ''}:")
            anchor = results.get("dask-ml KMeans")
            for name, (seconds, loss, model) in results.items():
                line = f"  {name:27s} {seconds:7.2f} s   ssd {loss:.6e}"
                if anchor is not None and name != "dask-ml KMeans":
                    line += f"   {anchor[0] / seconds:5.1f}x faster, ssd ratio {loss / anchor[1]:.4f}"
                if hasattr(model, "sync_bytes_"):
                    rounds = len(model.sync_bytes_)
                    line += (f"   {max(model.sync_bytes_) / 1e3:.0f} kB moved per epoch/iteration "
                             f"({rounds} round{'s' if rounds > 1 else ''})")
                print(line)
            seedings(X, args.k, args.repeat)


def seedings(X, k: int, repeat: int) -> None:
    """Time the seedings alone on ``X``'s persisted partitions and print the ssd of the data to each one's seeds."""
    from fastkmeans.dask import _lloyd
    from fastkmeans.dask._partitions import partition_rows, partitions

    parts = partitions(X)
    rows = list(dask.persist(*[dask.delayed(partition_rows, pure=True)(block, i, parts.dtype)
                               for i, block in enumerate(parts.blocks)]))
    distributed.wait(rows)
    seeders = {}
    for init in ("kmeans++", "kmeans||"):
        hp = KMeans(k=k, algorithm="lloyd", local_lloyd_init_method=init, n_threads=1)._checked()
        seeders[f"fastkmeans {'sample' if init == 'kmeans++' else 'k-means||'}"] = (
            lambda hp=hp: _lloyd.seed_centers(rows, hp, 0, 10))
    if DaskMLKMeans is not None:
        from dask_ml.cluster.k_means import init_scalable

        seeders["dask-ml init_scalable"] = lambda: init_scalable(X, k, da.random.RandomState(0))
    print("  seeding alone:")
    for name, seeder in seeders.items():
        seconds, centers = timed(lambda _, seeder=seeder: seeder(), None, repeat)
        print(f"    {name:25s} {seconds:7.2f} s   ssd of the seeds {ssd(X, np.asarray(centers, np.float64)):.6e}")


if __name__ == "__main__":
    main()
