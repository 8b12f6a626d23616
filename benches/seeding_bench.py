"""Whole fits as users call them, seeding included, and the seeding alone: `make bench-seeding`.

On `make bench`'s blobs (1,000,000 × 32 float32, 100 blobs, ``compare.blobs``), side by side in one
process, each timed as the best of ``--repeats`` runs (a 0.3 s pause before each, so that the
anchors' spinning threads do not steal cores):

* whole default fits: scikit-learn ``KMeans(100)``, scikit-learn-intelex ``KMeans(100)`` (when
  installed), ``fastkmeans.KMeans(k=100, algorithm="lloyd")`` with each ``local_lloyd_init_method``
  ("coreset" is its default);
  seconds and loss relative to scikit-learn's;
* SageMaker's mini-batch recipe, ``fastkmeans.KMeans(k=100)`` with ``init_method`` "random",
  "kmeans++" and "kmeans||": seconds (the target: kmeans++ within 10% of random);
* the seeding alone, as the Lloyd fit runs it (``max_iter=1``, minus one Lloyd pass measured from
  the same seeds): the coreset, greedy k-means++ and k-means‖.

Usage: python benches/seeding_bench.py [--quick] [--repeats N] [--no-anchors]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Callable, Dict, Optional, Tuple

THREADS = os.cpu_count() or 1
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, str(THREADS))

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import blobs, optional  # noqa: E402

import fastkmeans  # noqa: E402
from fastkmeans import _core  # noqa: E402

sk_cluster = optional("sklearn.cluster")
sklearnex_cluster = optional("sklearnex.cluster")


def best_of(repeats: int, run: Callable[[], object]) -> Tuple[float, object]:
    """The fastest of ``repeats`` runs (seconds) and the last run's result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        time.sleep(0.3)
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def loss(X: np.ndarray, centers: np.ndarray) -> float:
    """Exact ssd of X against ``centers``, in float64."""
    _, dist2 = _core.assign(X, np.ascontiguousarray(centers, dtype=X.dtype))
    return float(dist2.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="200,000 rows instead of 1,000,000")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--no-anchors", action="store_true", help="skip scikit-learn and scikit-learn-intelex")
    args = parser.parse_args()
    n, d, k = (200_000 if args.quick else 1_000_000), 32, 100
    X = blobs(n, d, k, 1)
    print(f"{n:,} x {d} float32 blobs, k = {k}, {THREADS} threads, best of {args.repeats}\n")

    fits: Dict[str, Tuple[float, float]] = {}
    if sk_cluster is not None and not args.no_anchors:
        seconds, model = best_of(args.repeats, lambda: sk_cluster.KMeans(k, random_state=0).fit(X))
        fits["scikit-learn KMeans(100)"] = (seconds, loss(X, model.cluster_centers_))
    if sklearnex_cluster is not None and not args.no_anchors:
        seconds, model = best_of(args.repeats, lambda: sklearnex_cluster.KMeans(k, random_state=0).fit(X))
        fits["scikit-learn-intelex KMeans(100)"] = (seconds, loss(X, model.cluster_centers_))
    seeding: Dict[str, float] = {}
    for init in ("coreset", "kmeans++", "kmeans||", "random"):
        def fit(init: str = init, **extra: object) -> fastkmeans.KMeans:
            return fastkmeans.KMeans(k=k, algorithm="lloyd", local_lloyd_init_method=init, random_state=0,
                                     **extra).fit(X)  # type: ignore[arg-type]
        seconds, model = best_of(args.repeats, fit)
        fits[f'fastkmeans lloyd, local_lloyd_init_method="{init}"'] = (seconds, loss(X, model.cluster_centers_))
        if init != "random":
            one, _ = best_of(args.repeats, lambda: fit(local_lloyd_max_iter=1))
            # One Lloyd pass from the seeds: the same run from the seeds alone.
            start = np.ascontiguousarray(model.cluster_centers_)
            pass_s, _ = best_of(args.repeats, lambda start=start: _core.fit_lloyd(
                X, k=k, init_method="random", num_trials=1, max_iter=1, tol=0.0, seed=0, init_centers=start))
            seeding[init] = max(one - pass_s, 0.0)

    reference = next((v[1] for name, v in fits.items() if name.startswith("scikit-learn KMeans")), None)
    fastest_anchor: Optional[float] = min((v[0] for name, v in fits.items() if name.startswith("scikit")),
                                          default=None)
    print(f"{'whole fit':<58} {'seconds':>8} {'loss/sklearn':>13} {'vs fastest anchor':>18}")
    for name, (seconds, ssd) in fits.items():
        rel = f"{ssd / reference:.4f}" if reference else "-"
        speed = f"{fastest_anchor / seconds:.2f}x" if fastest_anchor else "-"
        print(f"{name:<58} {seconds:8.2f} {rel:>13} {speed:>18}")
    print()
    for init, seconds in seeding.items():
        total = fits[f'fastkmeans lloyd, local_lloyd_init_method="{init}"'][0]
        print(f"seeding {init:<9} as the Lloyd fit runs it: {seconds:6.3f} s ({100 * seconds / total:.0f}% of its fit)")
    print()
    mini: Dict[str, float] = {}
    for init in ("random", "kmeans++", "kmeans||"):
        seconds, _ = best_of(args.repeats, lambda init=init: fastkmeans.KMeans(
            k=k, init_method=init, random_state=0).fit(X))
        mini[init] = seconds
        print(f'fastkmeans KMeans(k=100, init_method="{init}") (SageMaker\'s recipe): {seconds:6.2f} s '
              f"({seconds / mini['random']:.2f}x random)")


if __name__ == "__main__":
    main()
