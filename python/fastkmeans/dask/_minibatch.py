"""SageMaker's sharded web-scale recipe on Dask: a web-scale pass per partition, one weighted merge.

Each partition is one SageMaker instance with its shard of the train channel. In the first epoch
it seeds its own K = k * extra_center_factor centres from a random sample of up to
``mini_batch_size`` of its rows (SageMaker's first batch) and streams all its rows through them in
shuffled mini-batches; it returns its centres with their counts and its far points. With
``epochs > 1`` the partitions synchronise between epochs: all their weighted centres are merged
into K centres (one weighted Lloyd run through ``reduce_centers``) and every partition starts the
next pass from those centres, with its share (1 / partitions) of their counts, so that the counts
of all partitions add up to the total again. At the end the weighted centres of every partition
are reduced to k by the estimator's reduction (best of ``local_lloyd_num_trials``), and also
merged into K so that the fitted model keeps a streaming state that ``partial_fit`` continues.

A partition with fewer rows than k returns its rows themselves, each of weight 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import numpy as np

from fastkmeans import _core
from fastkmeans._hyperparameters import Hyperparameters, resolve_extra_center_factor, resolve_local_lloyd_num_trials
from fastkmeans._streaming import Trained
from fastkmeans._training import reduce_centers
from fastkmeans._validation import core_rows, take_rows
from fastkmeans.dask._partitions import Partitions, aligned, partition_rows, seed_for, sizeof

__all__ = ["Result", "train"]

# Purposes of the partitions' random streams (mixed with the seed, the partition and the epoch).
_SEED_SAMPLE, _SEED, _SHUFFLE, _PARTIAL, _MERGE = 11, 12, 13, 14, 15


@dataclass
class Result:
    """A distributed web-scale fit: the merged state, its reduction to k, and what moved per epoch."""

    trained: Trained
    reduced: Dict[str, Any]
    n_rows: int
    bytes_per_epoch: List[int] = field(default_factory=list)


def train(parts: Partitions, hp: Hyperparameters, seed: int, previous: Optional[Trained] = None) -> Result:
    """Run ``hp.epochs`` distributed passes (one, continuing ``previous``, for ``partial_fit``)."""
    import dask

    trials = previous.trials if previous is not None else resolve_local_lloyd_num_trials(
        hp.local_lloyd_num_trials, hp.k, "minibatch")
    share: Optional[Dict[str, Any]] = None if previous is None else _shared(previous.state, len(parts.blocks))
    partial_key = None if previous is None else int(previous.state["points_seen"])
    n_steps = 0 if previous is None else previous.n_steps
    seen = 0 if previous is None else int(previous.state["points_seen"])
    factor = 1
    moved: List[int] = []
    results: List[Dict[str, Any]] = []
    for epoch in range(hp.epochs if previous is None else 1):
        start = dask.delayed(share, pure=True) if share is not None else None
        tasks = [dask.delayed(_train_partition, pure=True)(block, i, parts.dtype, _settings(hp), seed, epoch, start,
                                                            partial_key)
                 for i, block in enumerate(parts.blocks)]
        results = [aligned(r) for r in dask.compute(*tasks) if r is not None]
        if not results:
            raise ValueError("Every partition of the data is empty.")
        n_steps += sum(r["n_batches"] for r in results)
        n_centers = max(r["n_centers"] for r in results) if previous is None else previous.state["centers"].shape[0]
        factor = factor if epoch else n_centers // hp.k  # what extra_center_factor resolved to
        seen += sum(int(r["state"]["points_seen"]) for r in results)
        merged = merge(results, n_centers, hp, seed_for(seed, _MERGE, epoch), seen)
        moved.append(sum(sizeof(r) for r in results) + (sizeof(share) * len(tasks) if share is not None else 0))
        share = _shared(merged, len(results))
    factor = previous.factor if previous is not None else factor
    n_rows = sum(r["n_rows"] for r in results)
    if n_rows < hp.k:
        raise ValueError(f"n_samples={n_rows} should be >= k={hp.k}.")
    final = reduce_centers([c for r in results for c in (r["state"]["centers"], r["state"]["far_points"])],
                           [w for r in results for w in (r["state"]["counts"], r["state"]["far_weights"])],
                           hp.k, random_state=seed, local_lloyd_init_method=hp.local_lloyd_init_method,
                           local_lloyd_num_trials=trials, local_lloyd_max_iter=hp.local_lloyd_max_iter,
                           local_lloyd_tol=hp.local_lloyd_tol, n_threads=hp.n_threads)
    merged["seed"] = seed
    reduced = {"centers": final.centers, "ssd": final.ssd, "msd": final.msd, "n_iter": final.n_iter}
    return Result(Trained(merged, n_steps, factor, trials, parts.n_features), reduced, n_rows, moved)


def merge(results: List[Dict[str, Any]], n_centers: int, hp: Hyperparameters, seed: int,
          points_seen: int) -> Dict[str, Any]:
    """Merge the weighted centres and far points of every partition into (at most) ``n_centers`` centres.

    Returns a streaming state (no far points: they are merged in) whose counts are the weight each
    merged centre absorbed.
    """
    points = np.concatenate([a for r in results for a in (r["state"]["centers"], r["state"]["far_points"])])
    weights = np.concatenate([w for r in results for w in (r["state"]["counts"], r["state"]["far_weights"])])
    points, weights = points[weights > 0], weights[weights > 0]
    n_centers = min(n_centers, points.shape[0])
    if points.shape[0] > n_centers:
        centers = reduce_centers(points, weights, n_centers, random_state=seed,
                                 local_lloyd_init_method=hp.local_lloyd_init_method, local_lloyd_num_trials=1,
                                 local_lloyd_max_iter=hp.local_lloyd_max_iter, local_lloyd_tol=hp.local_lloyd_tol,
                                 n_threads=hp.n_threads).centers
        owner, _ = _core.assign(np.ascontiguousarray(points), centers, n_threads=hp.n_threads)
        weights = np.bincount(owner, weights=weights, minlength=n_centers)
    else:
        centers = np.ascontiguousarray(points)
    d = centers.shape[1]
    return {"centers": centers, "counts": weights.astype(np.float64),
            "points_seen": points_seen,
            "far_points": np.zeros((0, d), dtype=centers.dtype), "far_weights": np.zeros(0), "far_dist2": np.zeros(0)}


def _shared(state: Dict[str, Any], n_partitions: int) -> Dict[str, Any]:
    """Return the state every partition starts its next pass from.

    The centres and far points, with 1 / n_partitions of their weights, so that the partitions'
    weights add up to the total again when they are merged.
    """
    return {"centers": state["centers"], "counts": state["counts"] / n_partitions, "points_seen": 0,
            "far_points": state["far_points"], "far_weights": state["far_weights"] / n_partitions,
            "far_dist2": state["far_dist2"]}


def _settings(hp: Hyperparameters) -> Dict[str, Any]:
    """Return the hyperparameters a partition needs, as plain values (cheap to ship to the workers)."""
    return {"k": hp.k, "mini_batch_size": hp.mini_batch_size, "init_method": hp.init_method,
            "extra_center_factor": hp.extra_center_factor, "half_life_time_size": hp.half_life_time_size,
            "reseed_ratio": hp.reseed_ratio,
            "n_threads": hp.n_threads}


def _train_partition(block: Any, index: int, dtype: np.dtype, hp: Dict[str, Any], seed: int, epoch: int,
                     start: Optional[Dict[str, Any]], partial_key: Optional[int]) -> Optional[Dict[str, Any]]:
    """One partition's web-scale pass (runs on a worker); None for an empty partition."""
    rows = partition_rows(block, index, dtype)
    if rows is None:
        return None
    n = rows.shape[0]
    k, n_threads = hp["k"], hp["n_threads"]
    if start is None:
        sample_rows = min(hp["mini_batch_size"], n)
        if sample_rows < k:  # too few rows to seed: they are their own weighted centres
            state = {"centers": np.ascontiguousarray(rows.toarray() if hasattr(rows, "toarray") else rows),
                     "counts": np.ones(n), "points_seen": n,
                     "far_points": np.zeros((0, rows.shape[1]), dtype=dtype), "far_weights": np.zeros(0),
                     "far_dist2": np.zeros(0)}
            return {"state": state, "n_rows": n, "n_batches": 0, "n_centers": k}
        n_centers = k * resolve_extra_center_factor(hp["extra_center_factor"], k, sample_rows)
        rng = np.random.default_rng(seed_for(seed, _SEED_SAMPLE, index))
        chosen = np.sort(rng.choice(n, sample_rows, replace=False))
        seeded = _core.minibatch_seed(core_rows(take_rows(rows, chosen)), n_centers=n_centers, k=k,
                                      init_method=hp["init_method"], seed=seed_for(seed, _SEED, index),
                                      n_threads=n_threads)
        state = seeded["state"]
        shuffle = seed_for(seed, _SHUFFLE, index, epoch)
    else:
        start = aligned(start)
        state = {**start, "centers": start["centers"].astype(dtype, copy=False),
                 "far_points": start["far_points"].astype(dtype, copy=False)}
        n_centers = state["centers"].shape[0]
        shuffle = seed_for(seed, _SHUFFLE, index, epoch) if partial_key is None else seed_for(
            seed, _PARTIAL, partial_key, index)
    merged = _core.minibatch_update(core_rows(rows), state=state, half_life_time_size=hp["half_life_time_size"],
                                    mini_batch_size=hp["mini_batch_size"], shuffle_seed=shuffle,
                                    reseed_ratio=hp["reseed_ratio"], n_threads=n_threads)
    return {"state": merged["state"], "n_rows": n, "n_batches": merged["n_batches"], "n_centers": n_centers}
