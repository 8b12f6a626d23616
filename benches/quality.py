"""Loss and wall time of fastkmeans next to scikit-learn's KMeans and MiniBatchKMeans, on real data.

Run from the repository root: ``.venv/bin/python benches/quality.py [--seeds N] [--quick]``.
Prints a markdown report. Every method fits the same array over the same seeds; the tables give the
median wall time, the median loss and the worst loss. Loss is the training sum of squared distances,
divided by the published optimum (the ground-truth SSE of the sipu sets) or, where none exists, by
scikit-learn KMeans' median loss. ``--quick`` skips kddcup99 and the 1,000,000 x 32 run.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import sklearn
from sklearn.cluster import KMeans as SklearnKMeans
from sklearn.cluster import MiniBatchKMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score, pairwise_distances_argmin_min, silhouette_score

import fastkmeans
from fastkmeans import KMeans

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
TUTORIAL = {"k": 5, "feature_dim": 10, "mini_batch_size": 500, "epochs": 10,
            "init_method": "random", "extra_center_factor": 2}


# Data ------------------------------------------------------------------------------------------

def load_sipu(name: str, centroids: str) -> tuple[np.ndarray, float]:
    """A sipu set and the SSE of its published centroids: X of shape (n_samples, 2), optimum."""
    X = np.loadtxt(DATA / "sipu" / f"{name}.txt")
    return X, ground_truth_sse(X, np.loadtxt(DATA / "sipu" / f"{centroids}.txt"))


def ground_truth_sse(X: np.ndarray, centers: np.ndarray) -> float:
    """Sum over the rows of X of the squared distance to the closest of ``centers``."""
    _, distance = pairwise_distances_argmin_min(X, centers)
    return float(np.sum(distance.astype(np.float64) ** 2))


def load_kddcup99() -> np.ndarray:
    """The 38 numeric columns of the KDD Cup 1999 10% sample, log1p, then standardised.

    Returns X of shape (494021, 38). Constant columns stay at 0 instead of dividing by a zero std.
    """
    path = DATA / "kddcup99" / "kddcup.data_10_percent.gz"
    X = np.log1p(np.loadtxt(path, delimiter=",", usecols=[0] + list(range(4, 41))))
    std = X.std(axis=0)
    return (X - X.mean(axis=0)) / np.where(std > 0, std, 1.0)


def load_synthetic() -> np.ndarray:
    """1,000,000 x 32 float32 rows from a mixture of 100 Gaussian blobs (fixed seed)."""
    X, _ = make_blobs(n_samples=1_000_000, n_features=32, centers=100, random_state=0)
    return X.astype(np.float32)


# Fits ------------------------------------------------------------------------------------------

def timed(estimator, X: np.ndarray):
    """(wall seconds, fitted estimator)."""
    start = time.perf_counter()
    estimator.fit(X)
    return time.perf_counter() - start, estimator


def methods(k: int) -> dict:
    """The three contenders, each a function of the seed."""
    return {
        "fastkmeans": lambda s: KMeans(k=k, init_method="kmeans++", random_state=s),
        "sklearn KMeans": lambda s: SklearnKMeans(k, init="k-means++", n_init=1, random_state=s),
        "MiniBatchKMeans": lambda s: MiniBatchKMeans(k, n_init=1, random_state=s),
    }


def run_seeds(variants: dict, X: np.ndarray, seeds: int) -> dict:
    """Per variant: median wall time, median and worst loss of ``make(seed)`` over seeds 0..seeds-1.

    The variants take turns seed by seed, so a passing load on the machine hits them all alike.
    """
    for make in variants.values():
        timed(make(12345), X)  # warm-up: the first fit pays thread-pool start-up and page faults
    times: dict = {label: [] for label in variants}
    losses: dict = {label: [] for label in variants}
    for seed in range(seeds):
        for label, make in variants.items():
            seconds, fitted = timed(make(seed), X)
            times[label].append(seconds)
            losses[label].append(float(fitted.inertia_))
    return {label: {"time": statistics.median(times[label]),
                    "loss": statistics.median(losses[label]), "worst": max(losses[label])}
            for label in variants}


def compare(name: str, X: np.ndarray, k: int, seeds: int, optimum: float | None) -> str:
    """One markdown row: the three methods on X, loss relative to ``optimum`` (or sklearn's)."""
    results = run_seeds(methods(k), X, seeds)
    reference = optimum if optimum is not None else results["sklearn KMeans"]["loss"]
    marker = "" if optimum is not None else " †"
    cells = [f"{name}{marker}", f"{X.shape[0]} x {X.shape[1]}", str(k)]
    cells += [f"{r['loss'] / reference:.4f} ({r['worst'] / reference:.4f})"
              for r in results.values()]
    cells += [f"{r['time']:.3f}" for r in results.values()]
    cells.append(f"{results['sklearn KMeans']['time'] / results['fastkmeans']['time']:.2f}x")
    return "| " + " | ".join(cells) + " |"


def real_data_table(seeds: int, quick: bool) -> None:
    print(f"## Real data ({seeds} seeds each)\n")
    print("Loss: median (worst) over the seeds, divided by the published optimum; † divided by "
          "scikit-learn KMeans' median loss. Time: median wall seconds. fastkmeans: "
          'init_method="kmeans++", other hyperparameters SageMaker\'s defaults. sklearn KMeans: '
          "k-means++, n_init=1. MiniBatchKMeans: n_init=1, sklearn's defaults (batch_size=1024, "
          "max_iter=100 with early stopping).\n")
    print("| dataset | n x d | k | fastkmeans loss | sklearn loss | MiniBatch loss "
          "| fastkmeans s | sklearn s | MiniBatch s | speed-up vs sklearn |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    sets = [("birch1", "b1-gt", 100), ("birch2", "b2-gt", 100)]
    sets += [(f"s{i}", f"s{i}-cb", 15) for i in range(1, 5)]
    for name, centroids, k in sets:
        X, optimum = load_sipu(name, centroids)
        print(compare(name, X, k, seeds, optimum), flush=True)
    if not quick:
        print(compare("kddcup99", load_kddcup99(), 23, seeds, None), flush=True)
    print()


# The tutorial flow -----------------------------------------------------------------------------

def tutorial(seeds: int) -> None:
    """make_blobs with the SageMaker tutorial's hyperparameters, and with k-means++ seeding."""
    X, truth = make_blobs(n_samples=5000, n_features=10, centers=5, cluster_std=1.5,
                          random_state=42)
    variants = {
        "fastkmeans, tutorial hyperparameters (random init)": lambda s: KMeans(**TUTORIAL,
                                                                              random_state=s),
        'fastkmeans, tutorial with init_method="kmeans++"': lambda s: KMeans(
            **{**TUTORIAL, "init_method": "kmeans++"}, random_state=s),
        "sklearn KMeans (k-means++, n_init=1)": lambda s: SklearnKMeans(5, n_init=1,
                                                                        random_state=s),
    }
    print(f"## Tutorial flow: make_blobs 5000 x 10, 5 centres, std 1.5 ({seeds} seeds)\n")
    print(f"Hyperparameters: {TUTORIAL}. Silhouette: median (min) over the seeds.\n")
    print("| method | silhouette | seeds with ARI = 1.0 [seeds that missed] | median ARI | fit s |")
    print("|---|---|---|---|---|")
    times: dict = {label: [] for label in variants}
    silhouettes: dict = {label: [] for label in variants}
    aris: dict = {label: [] for label in variants}
    for make in variants.values():
        timed(make(12345), X)  # warm-up
    for seed in range(seeds):
        for label, make in variants.items():
            seconds, fitted = timed(make(seed), X)
            times[label].append(seconds)
            silhouettes[label].append(silhouette_score(X, fitted.labels_))
            aris[label].append(adjusted_rand_score(truth, fitted.labels_))
    for label in variants:
        missed = [seed for seed, ari in enumerate(aris[label]) if ari < 1.0]
        print(f"| {label} | {statistics.median(silhouettes[label]):.4f} "
              f"({min(silhouettes[label]):.4f}) | {seeds - len(missed)}/{seeds} {missed or ''} "
              f"| {statistics.median(aris[label]):.4f} | {statistics.median(times[label]):.4f} |")
    print()


# 1,000,000 x 32 --------------------------------------------------------------------------------

def synthetic(seeds: int) -> None:
    X = load_synthetic()
    variants = {
        "fastkmeans (defaults, kmeans++)": lambda s: KMeans(k=100, init_method="kmeans++",
                                                            random_state=s),
        "fastkmeans (kmeans++, extra_center_factor=1)": lambda s: KMeans(
            k=100, init_method="kmeans++", extra_center_factor=1, random_state=s),
        "sklearn KMeans (k-means++, n_init=1)": lambda s: SklearnKMeans(100, n_init=1,
                                                                        random_state=s),
        "MiniBatchKMeans (one epoch: max_iter=1, batch_size=5000)": lambda s: MiniBatchKMeans(
            100, n_init=1, max_iter=1, batch_size=5000, random_state=s),
    }
    results = run_seeds(variants, X, seeds)
    reference = results["sklearn KMeans (k-means++, n_init=1)"]
    print(f"## Synthetic 1,000,000 x 32 float32, 100 Gaussian blobs, k = 100 ({seeds} seeds)\n")
    print("| method | loss / sklearn KMeans (worst) | fit s | speed-up vs sklearn |")
    print("|---|---|---|---|")
    for label, r in results.items():
        print(f"| {label} | {r['loss'] / reference['loss']:.4f} "
              f"({r['worst'] / reference['loss']:.4f}) | {r['time']:.2f} "
              f"| {reference['time'] / r['time']:.2f}x |")
    print()


# Report ----------------------------------------------------------------------------------------

def machine() -> str:
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (f"{model}, {os.cpu_count()} cores; Python {platform.python_version()}, "
            f"numpy {np.__version__}, scikit-learn {sklearn.__version__}, "
            f"fastkmeans {fastkmeans.__version__}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds per method (default 5)")
    parser.add_argument("--tutorial-seeds", type=int, default=20,
                        help="seeds for the (cheap) tutorial flow, to measure its recovery rate")
    parser.add_argument("--quick", action="store_true",
                        help="skip kddcup99 and the 1,000,000 x 32 run")
    args = parser.parse_args()
    print("# fastkmeans quality report\n")
    print(f"Machine: {machine()}\n")
    real_data_table(args.seeds, args.quick)
    tutorial(args.tutorial_seeds)
    if not args.quick:
        synthetic(min(args.seeds, 2))  # sklearn KMeans takes a while at this size


if __name__ == "__main__":
    main()
