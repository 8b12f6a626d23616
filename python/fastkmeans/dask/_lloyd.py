"""Distributed Lloyd on Dask: per-partition sums, one reduction per iteration.

The checked rows of every partition are persisted on the workers. Each iteration sends the k
centres to every partition, which assigns its rows and returns, per cluster, the sum of
``x - center`` over its rows, their count, and its ssd (``_core.assign_and_sum``): O(k x d) bytes
whatever its size. The client adds them up and moves every centre to the mean of its rows, which is
one iteration of the core's Lloyd, and stops by the same rule (``local_lloyd_max_iter``, or a loss
that fell by less than ``local_lloyd_tol`` of itself).

Empty clusters follow the core's policy (``rust/core/src/algo/empty.rs``): an empty centre takes
over the row that contributes most to the loss, among rows whose cluster keeps another. Each
partition sends its k farthest rows with their sums, so the client finds that row among all
partitions' candidates and takes it out of its old cluster's sums.

Seeding (``seed_centers``): with ``local_lloyd_init_method="kmeans||"``, k-means|| over every
partition (``_kmeans_parallel``: a handful of passes, and the same seeds whatever the
partitioning); otherwise (the default "auto", which is "coreset" here, "kmeans++", or "random")
the first partition's random sample of up to ``mini_batch_size`` rows (SageMaker seeds from its
first batch), clustered by the best of ``local_lloyd_num_trials`` Lloyd runs seeded with that
method. "auto" trials: as many as the web-scale reduction runs, 10 for k <= 100, since runs on a
sample (or reductions of k-means||'s candidates) on the client are cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from fastkmeans import _core
from fastkmeans._hyperparameters import Hyperparameters, resolve_local_lloyd_num_trials
from fastkmeans._validation import core_rows, take_rows
from fastkmeans.dask import _kmeans_parallel
from fastkmeans.dask._partitions import Partitions, aligned, aligned_rows, partition_rows, seed_for, sizeof

__all__ = ["Result", "seed_centers", "train"]

_SAMPLE = 21


@dataclass
class Result:
    """A distributed Lloyd fit."""

    centers: np.ndarray
    inertia: float
    n_iter: int
    sizes: np.ndarray
    n_rows: int
    trials: int
    bytes_per_iteration: List[int] = field(default_factory=list)


def train(parts: Partitions, hp: Hyperparameters, seed: int) -> Result:
    """Distributed Lloyd from ``seed_centers``, iterated until ``local_lloyd_max_iter`` or convergence."""
    import dask

    rows = dask.persist(*[dask.delayed(partition_rows, pure=True)(block, i, parts.dtype)
                          for i, block in enumerate(parts.blocks)])
    trials = resolve_local_lloyd_num_trials(hp.local_lloyd_num_trials, hp.k, "lloyd")
    # Trials on a sample are cheap: "auto" seeds with as many as the web-scale reduction runs.
    sample_trials = resolve_local_lloyd_num_trials(hp.local_lloyd_num_trials, hp.k, "minibatch")
    centers = seed_centers(list(rows), hp, seed, sample_trials)
    moved: List[int] = []

    def one_pass(centers: np.ndarray) -> Dict[str, Any]:
        shared = dask.delayed(centers, pure=True)
        tasks = [dask.delayed(_partition_sums, pure=True)(r, i, shared, hp.n_threads) for i, r in enumerate(rows)]
        results = [aligned(r) for r in dask.compute(*tasks) if r is not None]
        moved.append(sum(sizeof(r) for r in results) + sizeof(centers) * len(rows))
        return _total(results)

    sums = one_pass(centers)
    loss, n_iter = sums["ssd"], 0
    while n_iter < hp.local_lloyd_max_iter:
        centers = _move(centers, sums)
        sums = one_pass(centers)
        n_iter += 1
        converged = loss - sums["ssd"] <= hp.local_lloyd_tol * loss
        loss = sums["ssd"]
        if converged:
            break
    return Result(centers, loss, n_iter, sums["members"].astype(np.int64), sums["n_rows"], trials, moved)


def seed_centers(rows: List[Any], hp: Hyperparameters, seed: int, trials: int) -> np.ndarray:
    """Return the k starting centres: k-means|| over every partition, or Lloyd on a sample.

    ``local_lloyd_init_method="kmeans||"``: distributed k-means|| (``_kmeans_parallel.seed``, the
    best of ``trials`` reductions of its candidates). Otherwise the partitions are sampled in order
    until the sample holds ``mini_batch_size`` rows (one partition, usually), and the best of
    ``trials`` Lloyd runs seeded by ``local_lloyd_init_method`` on it gives the centres.
    """
    import dask

    if hp.local_lloyd_init_method == "kmeans||":
        return _kmeans_parallel.seed(rows, hp.k, seed, trials=trials, n_threads=hp.n_threads).centers

    samples: List[np.ndarray] = []
    for i, part in enumerate(rows):
        want = hp.mini_batch_size - sum(s.shape[0] for s in samples)
        if want <= 0:
            break
        sample = dask.compute(dask.delayed(_sample, pure=True)(part, want, seed_for(seed, _SAMPLE, i)))[0]
        if sample is not None:
            samples.append(aligned(sample))
    sample = np.concatenate(samples) if samples else None
    if sample is None or sample.shape[0] < hp.k:
        raise ValueError(f"n_samples={0 if sample is None else sample.shape[0]} should be >= k={hp.k}.")
    out = _core.fit_lloyd(core_rows(sample), k=hp.k, init_method=hp.local_lloyd_init_method, num_trials=trials,
                          max_iter=hp.local_lloyd_max_iter, tol=hp.local_lloyd_tol, seed=seed, n_threads=hp.n_threads)
    return np.ascontiguousarray(out["centers"])


def _sample(rows: Optional[Any], size: int, seed: int) -> Optional[np.ndarray]:
    if rows is None:
        return None
    chosen = np.sort(np.random.default_rng(seed).choice(rows.shape[0], min(size, rows.shape[0]), replace=False))
    sample = take_rows(rows, chosen)
    dense: np.ndarray = sample.toarray() if hasattr(sample, "toarray") else sample
    return dense


def _partition_sums(rows: Optional[Any], index: int, centers: np.ndarray,
                    n_threads: Optional[int]) -> Optional[Dict[str, Any]]:
    """One partition's share of an iteration (runs on a worker): sums, ssd, and its k farthest rows."""
    if rows is None:
        return None
    rows = aligned_rows(rows)  # persisted rows that Dask moved to this worker lie in a network buffer
    centers = aligned(centers).astype(rows.dtype, copy=False)
    out = _core.assign_and_sum(core_rows(rows), centers, n_threads=n_threads)
    dist2 = out["dist2"]
    far = np.argsort(-dist2, kind="stable")[:centers.shape[0]]
    far_rows = take_rows(rows, far)
    return {"deltas": out["deltas"], "weights": out["weights"], "members": out["members"],
            "ssd": float(dist2.sum()), "n_rows": rows.shape[0],
            "far_rows": far_rows.toarray() if hasattr(far_rows, "toarray") else far_rows,
            "far_dist2": dist2[far], "far_labels": out["labels"][far], "far_key": [(index, int(i)) for i in far]}


def _total(results: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Add up the sums of all partitions, in partition order, and list their farthest rows, farthest first."""
    total: Dict[str, Any] = {key: sum(r[key] for r in results) for key in ("deltas", "weights", "members", "ssd",
                                                                             "n_rows")}
    candidates: List[Tuple[float, Tuple[int, int], np.ndarray, int]] = [
        (float(d), key, row, int(label)) for r in results
        for d, key, row, label in zip(r["far_dist2"], r["far_key"], r["far_rows"], r["far_labels"])]
    # The core's order: the largest contribution first, ties to the earliest row.
    total["candidates"] = sorted((c for c in candidates if c[0] > 0), key=lambda c: (-c[0], c[1]))
    return total


def _move(centers: np.ndarray, sums: Dict[str, Any]) -> np.ndarray:
    """Return the centres after the M step.

    Empty clusters first take the rows that contribute most (see the module docs), then every
    centre with rows moves to their mean.
    """
    deltas, weights = sums["deltas"].copy(), sums["weights"].copy()
    members = sums["members"].astype(np.int64)
    new = centers.astype(np.float64)
    donors = iter(sums["candidates"])
    for c in np.flatnonzero(members == 0):
        for _, _, row, label in donors:
            if members[label] >= 2:
                deltas[label] -= row - new[label]
                weights[label] -= 1.0
                members[label] -= 1
                new[c], deltas[c], weights[c], members[c] = row, 0.0, 1.0, 1
                break
    moving = weights > 0
    new[moving] += deltas[moving] / weights[moving, None]
    return np.ascontiguousarray(new, dtype=centers.dtype)
