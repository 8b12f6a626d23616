"""Cluster-quality metrics against scikit-learn, side by side in one run (`make bench-metrics`).

Targets (issue 14): ``silhouette_score`` at least 30x faster than scikit-learn's at
n = 20,000 x 16 (make_blobs, cluster_std=2), and 100,000 rows exact in seconds. Printed: the best
time of each (alternated, two rounds; scikit-learn once a round: it takes seconds), the ratio
measured here, that both give the same score, and the share of the n (n - 1) / 2 pairs of rows
whose distance the pruned silhouette computes; the same for overlapping clusters (cluster_std=6,
where pruning helps less: no target, it must not be slower than every pair); the exact silhouette
of 100,000 rows; the sampled estimate with its error
bar; Calinski-Harabasz and Davies-Bouldin. Run with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset so
numpy's GEMM is its fastest.

Usage: python benches/metrics_bench.py [--n N] [--d D] [--k K] [--large N]
"""

from __future__ import annotations

import argparse
import os
import time

from sklearn import metrics as sk
from sklearn.datasets import make_blobs

from fastkmeans import metrics


def timed(function, repeat=1):
    best, value = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        value = function()
        best = min(best, time.perf_counter() - start)
    return best, value


def silhouette_case(X, labels, title, target=None):
    # Alternated (the machine may be shared), best of each: ours five times per round (0.05 s each),
    # theirs once.
    ours_s = theirs_s = float("inf")
    for _ in range(2):
        mine, ours = timed(lambda: metrics.silhouette_score(X, labels), repeat=5)
        other, theirs = timed(lambda: sk.silhouette_score(X, labels))
        ours_s, theirs_s = min(ours_s, mine), min(theirs_s, other)
    computed, pairs = metrics._silhouette_pairs(X, labels)
    print(f"\n{title}")
    print(f"  fastkmeans   {ours_s:8.3f} s   {ours:.12f}   ({100 * computed / pairs:.1f}% of the pairs computed)")
    print(f"  scikit-learn {theirs_s:8.3f} s   {theirs:.12f}   (relative difference {abs(ours - theirs) / theirs:.1e})")
    print(f"  ratio        {theirs_s / ours_s:8.1f}x" + (f"   (target: {target}x)" if target else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--d", type=int, default=16)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--large", type=int, default=100_000)
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}")
    X, labels = make_blobs(n_samples=args.n, n_features=args.d, centers=args.k, cluster_std=2.0, random_state=0)

    silhouette_case(X, labels, f"silhouette_score, {args.n} x {args.d}, k = {args.k}", target=30)
    X6, labels6 = make_blobs(n_samples=args.n, n_features=args.d, centers=args.k, cluster_std=6.0, random_state=0)
    silhouette_case(X6, labels6, f"overlapping clusters (cluster_std=6), {args.n} x {args.d}, k = {args.k}")

    big, big_labels = make_blobs(n_samples=args.large, n_features=args.d, centers=args.k, cluster_std=2.0,
                                 random_state=1)
    exact_s, exact = timed(lambda: metrics.silhouette_score(big, big_labels))
    print(f"\nexact silhouette_score, {args.large} x {args.d}: {exact_s:.2f} s ({exact:.6f})   (target: seconds)")
    estimate_s, estimate = timed(lambda: metrics.silhouette_estimate(big, big_labels, 5_000, random_state=0))
    low, high = estimate.interval
    print(f"sampled estimate (5,000 rows against all): {estimate_s:.2f} s, {estimate.score:.6f} "
          f"± {1.96 * estimate.standard_error:.6f} (95%: {low:.6f} .. {high:.6f}; "
          f"exact inside: {low <= exact <= high})")

    for name in ("calinski_harabasz_score", "davies_bouldin_score"):
        ours_f, theirs_f = getattr(metrics, name), getattr(sk, name)
        ours_s, ours = timed(lambda f=ours_f: f(big, big_labels), repeat=3)
        theirs_s, theirs = timed(lambda f=theirs_f: f(big, big_labels), repeat=3)
        print(f"{name}, {args.large} x {args.d}: fastkmeans {ours_s * 1e3:.1f} ms, scikit-learn "
              f"{theirs_s * 1e3:.1f} ms ({theirs_s / ours_s:.1f}x), "
              f"relative difference {abs(ours - theirs) / theirs:.1e}")


if __name__ == "__main__":
    main()
