"""RecordIO-protobuf read and read + train throughput, next to NumPy reading the same rows from .npy.

Run from the repository root: ``.venv/bin/python benches/recordio_bench.py [--gb 1.0] [--features 50]``.
Writes a dense float32 RecordIO file of about ``--gb`` GB (one record per row, as the SageMaker SDK
writes it) and the same rows as .npy in ``--dir`` (a temporary folder by default, removed after),
then times, in MB of the file per second (the .npy file for the NumPy rows):

- read: ``iter_recordio`` in batches of ``mini_batch_size`` rows / ``np.load`` of the whole .npy.
- read + partial_fit: ``KMeans(k=10).partial_fit`` per batch (each call also reduces K to k and
  labels the batch, so that the estimator can predict after every batch).
- read + stream: the streaming update per batch and one reduction at the end, what a training job
  does (seed on the first batch, ``_core.minibatch_update`` per batch, ``_core.reduce`` once).

The files were just written, so they are read from the page cache: these are decoding and
training speeds, not disk speeds. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from fastkmeans import KMeans, _core
from fastkmeans.io import iter_recordio, write_recordio


def make_rows(n_rows: int, n_features: int, seed: int = 0) -> np.ndarray:
    """Float32 rows around 10 centres, so that training has clusters to find."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 10, size=(10, n_features)).astype(np.float32)
    X = np.empty((n_rows, n_features), dtype=np.float32)
    for start in range(0, n_rows, 1 << 20):
        stop = min(start + (1 << 20), n_rows)
        X[start:stop] = centres[rng.integers(0, 10, stop - start)]
        X[start:stop] += rng.standard_normal((stop - start, n_features), dtype=np.float32)
    return X


def recordio_batches(path: Path, batch_rows: int) -> Iterator[np.ndarray]:
    for batch, _ in iter_recordio(path, batch_rows):
        yield batch


def npy_batches(path: Path, batch_rows: int) -> Iterator[np.ndarray]:
    X = np.load(path, mmap_mode="r")
    for start in range(0, X.shape[0], batch_rows):
        yield np.ascontiguousarray(X[start:start + batch_rows])


def read(batches: Iterator[np.ndarray]) -> int:
    return sum(batch.shape[0] for batch in batches)


def partial_fit(batches: Iterator[np.ndarray]) -> int:
    model, n = KMeans(k=10, random_state=0), 0
    for batch in batches:
        model.partial_fit(batch)
        n += batch.shape[0]
    assert model.cluster_centers_.shape[0] == 10
    return n


def stream(batches: Iterator[np.ndarray]) -> int:
    """SageMaker's training: seed K = 100 centres on the first batch, update per batch, reduce once."""
    model = KMeans(k=10, random_state=0)
    first = next(batches)
    state = _core.minibatch_seed(first, n_centers=100, init_method="random", seed=0)["state"]
    n = 0
    for batch in itertools.chain([first], batches):
        state = _core.minibatch_update(batch, state=state, half_life_time_size=0)["state"]
        n += batch.shape[0]
    reduced = _core.reduce(state, k=10, init_method=model._checked().local_lloyd_init_method, num_trials=10,
                           max_iter=model.local_lloyd_max_iter, tol=model.local_lloyd_tol, seed=0)
    assert reduced["centers"].shape == (10, first.shape[1])
    return n


def timed(run: Callable[[], int], repeats: int) -> tuple[float, int]:
    """Best wall time of ``repeats`` runs, and the rows the run saw."""
    best, rows = float("inf"), 0
    for _ in range(repeats):
        start = time.perf_counter()
        rows = run()
        best = min(best, time.perf_counter() - start)
    return best, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gb", type=float, default=1.0, help="size of the RecordIO file (default 1.0)")
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--mini-batch-size", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=2, help="runs of each measurement; the best is kept")
    parser.add_argument("--dir", type=Path, default=None, help="where to write the files (default: a temporary folder)")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(dir=args.dir))
    try:
        write_recordio(np.zeros((1, args.features), dtype=np.float32), folder / "one.pbr")
        n_rows = -(-int(args.gb * 1e9) // (folder / "one.pbr").stat().st_size)  # bytes per record, rounded up
        X = make_rows(n_rows, args.features)
        pbr, npy = folder / "train.pbr", folder / "train.npy"
        start = time.perf_counter()
        write_recordio(X, pbr)
        write_seconds = time.perf_counter() - start
        np.save(npy, X)
        del X
        pbr_mb, npy_mb = pbr.stat().st_size / 1e6, npy.stat().st_size / 1e6
        b = args.mini_batch_size
        print(f"# RecordIO-protobuf: {n_rows:,} rows x {args.features} float32, {pbr_mb:,.0f} MB "
              f"(.npy {npy_mb:,.0f} MB), mini_batch_size {b}, {os.cpu_count()} cores, {platform.processor() or ''}\n")
        print(f"write_recordio: {write_seconds:.2f} s, {pbr_mb / write_seconds:,.0f} MB/s\n")
        print("| what | RecordIO s | RecordIO MB/s | .npy s | .npy MB/s |")
        print("|---|---|---|---|---|")
        cases = [
            ("read", lambda: read(recordio_batches(pbr, b)), lambda: np.load(npy).shape[0]),
            ("read + partial_fit per batch", lambda: partial_fit(recordio_batches(pbr, b)),
             lambda: partial_fit(npy_batches(npy, b))),
            ("read + stream (reduce once)", lambda: stream(recordio_batches(pbr, b)),
             lambda: stream(npy_batches(npy, b))),
        ]
        for name, on_recordio, on_npy in cases:
            seconds, rows = timed(on_recordio, args.repeats)
            npy_seconds, npy_rows = timed(on_npy, args.repeats)
            assert rows == npy_rows == n_rows, (rows, npy_rows, n_rows)
            print(f"| {name} | {seconds:.2f} | {pbr_mb / seconds:,.0f} "
                  f"| {npy_seconds:.2f} | {npy_mb / npy_seconds:,.0f} |")
    finally:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
