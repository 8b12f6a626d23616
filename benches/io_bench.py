"""Streaming training from files: throughput and peak memory, next to pandas.read_csv.

    python benches/io_bench.py [--gb 2.1] [--features 50] [--dir /tmp/fastkmeans-io-bench]

Writes (once, then reuses) a CSV of random float blobs of at least ``--gb`` GB, and runs every
case in a fresh subprocess so that its peak resident memory (VmHWM) is its own:

- ``pandas.read_csv``: the reference, reading the whole file into a DataFrame (default C engine);
- ``fastkmeans read``: ``fastkmeans.io`` parsing the file, no training;
- ``fastkmeans fit``: ``KMeans(k=10).fit(path)`` with SageMaker's other defaults (mini_batch_size
  5000, one epoch, extra_center_factor auto = 10: K = 100), float64 rows;
- ``fastkmeans fit float32``: the same from ``open_source(path, dtype="float32")``;
- ``fastkmeans fit RecordIO``: the same data as float32 RecordIO-protobuf (needs the RecordIO
  module; skipped with a message when it is not in this build).

The file is read once before timing so every case reads from the page cache. MB/s is the file's
size over the wall time of the case (for fit: reading, seeding, training and the reduction); each
case runs ``--repeat`` times and the fastest run is reported (peak memory: the largest).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np


def make_csv(path: str, gigabytes: float, n_features: int) -> None:
    import pyarrow as pa
    from pyarrow import csv as pacsv

    rng = np.random.default_rng(0)
    centers = rng.uniform(-50, 50, size=(20, n_features))
    options = pacsv.WriteOptions(include_header=False)
    with open(path + ".part", "wb") as file:
        while file.tell() < gigabytes * 1e9:
            labels = rng.integers(0, len(centers), size=200_000)
            block = np.round(centers[labels] + rng.normal(size=(len(labels), n_features)) * 3, 3)
            pacsv.write_csv(pa.table({f"c{j}": block[:, j] for j in range(n_features)}), file, options)
    os.replace(path + ".part", path)


def make_recordio(csv_path: str, folder: str) -> bool:
    """Write the CSV's rows as float32 RecordIO files in ``folder``; False without the RecordIO module."""
    from fastkmeans.io import open_source

    try:
        from fastkmeans.io import write_recordio
    except ImportError:
        return False
    if os.path.isdir(folder) and os.listdir(folder):
        return True
    os.makedirs(folder, exist_ok=True)
    rows, part, pending = 0, 0, []
    for batch in open_source(csv_path, dtype="float32").batches():
        pending.append(batch.rows)
        rows += len(batch.rows)
        if rows >= 500_000:
            write_recordio(np.concatenate(pending), os.path.join(folder, f"part-{part:05d}.pbr"))
            part, rows, pending = part + 1, 0, []
    if pending:
        write_recordio(np.concatenate(pending), os.path.join(folder, f"part-{part:05d}.pbr"))
    return True


def peak_rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_case(case: str, path: str) -> None:
    """In the subprocess: run one case, print {"seconds", "peak_rss_mb", "baseline_rss_mb"} as JSON."""
    from fastkmeans import KMeans
    from fastkmeans.io import open_source

    baseline = peak_rss_mb()
    start = time.perf_counter()
    extra = {}
    if case == "pandas":
        import pandas as pd

        frame = pd.read_csv(path, header=None)
        extra["rows"] = len(frame)
    elif case == "read":
        extra["rows"] = sum(len(batch.rows) for batch in open_source(path).batches())
    elif case == "fit":
        model = KMeans(k=10, random_state=0).fit(path)
        extra["train_msd"] = model.train_metrics_["msd"]
    elif case == "fit32":
        model = KMeans(k=10, random_state=0).fit(open_source(path, dtype="float32"))
        extra["train_msd"] = model.train_metrics_["msd"]
    elif case == "recordio":
        model = KMeans(k=10, random_state=0).fit(path)
        extra["train_msd"] = model.train_metrics_["msd"]
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_rss_mb(), "baseline_rss_mb": baseline, **extra}))


def measure(case: str, path: str, repeat: int) -> dict:
    """The fastest of ``repeat`` runs (each in a fresh process): the machine is shared and noisy."""
    runs = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, __file__, "--case", case, path], check=True, capture_output=True,
                             text=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    best = min(runs, key=lambda run: run["seconds"])
    best["peak_rss_mb"] = max(run["peak_rss_mb"] for run in runs)
    return best


def size_of(path: str) -> int:
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(path, name)) for name in os.listdir(path))
    return os.path.getsize(path)


def warm(path: str) -> None:
    for name in ([os.path.join(path, n) for n in sorted(os.listdir(path))] if os.path.isdir(path) else [path]):
        with open(name, "rb") as file:
            while file.read(64 << 20):
                pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=2.1)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--dir", default="/tmp/fastkmeans-io-bench")
    parser.add_argument("--skip-pandas", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; the fastest is reported")
    parser.add_argument("--case")
    parser.add_argument("path", nargs="?")
    args = parser.parse_args()
    if args.case:
        run_case(args.case, args.path)
        return
    os.makedirs(args.dir, exist_ok=True)
    csv_path = os.path.join(args.dir, f"blobs-{args.gb:g}GB-{args.features}d.csv")
    if not os.path.exists(csv_path):
        print(f"writing {csv_path} ...", flush=True)
        make_csv(csv_path, args.gb, args.features)
    recordio_dir = os.path.join(args.dir, f"blobs-{args.gb:g}GB-{args.features}d-recordio")
    has_recordio = make_recordio(csv_path, recordio_dir)
    csv_mb = size_of(csv_path) / 1e6
    print(f"{csv_path}: {csv_mb:,.0f} MB; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}")
    cases = [("pandas.read_csv", "pandas", csv_path), ("fastkmeans read", "read", csv_path),
             ("fastkmeans fit", "fit", csv_path), ("fastkmeans fit float32", "fit32", csv_path)]
    if args.skip_pandas:
        cases = cases[1:]
    print(f"{'case':<26} {'seconds':>8} {'MB/s':>7} {'peak RSS MB':>12} {'(baseline)':>10} {'x pandas':>9}")
    pandas_rate = None
    warm(csv_path)
    for label, case, path in cases:
        result = measure(case, path, args.repeat)
        rate = csv_mb / result["seconds"]
        pandas_rate = rate if case == "pandas" else pandas_rate
        ratio = f"{rate / pandas_rate:.2f}" if pandas_rate else "-"
        print(f"{label:<26} {result['seconds']:>8.2f} {rate:>7.0f} {result['peak_rss_mb']:>12.0f} "
              f"{result['baseline_rss_mb']:>10.0f} {ratio:>9}  load {os.getloadavg()[0]:.2f}", flush=True)
    if not has_recordio:
        print("fastkmeans fit RecordIO: skipped: recordio reader not on this branch (fastkmeans.io._recordio)")
        return
    warm(recordio_dir)
    recordio_mb = size_of(recordio_dir) / 1e6
    result = measure("recordio", recordio_dir, args.repeat)
    print(f"{'fastkmeans fit RecordIO':<26} {result['seconds']:>8.2f} {recordio_mb / result['seconds']:>7.0f} "
          f"{result['peak_rss_mb']:>12.0f} {result['baseline_rss_mb']:>10.0f} {'-':>9}  "
          f"({recordio_mb:,.0f} MB of float32 records; {csv_mb / result['seconds']:.0f} MB/s of the CSV's rows)")


if __name__ == "__main__":
    main()
