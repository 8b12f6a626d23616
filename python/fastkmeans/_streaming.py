"""Training and inference on a ``fastkmeans.io.Source``: the data streams through, block by block.

Training follows SageMaker: a random sample of up to ``mini_batch_size`` rows of the first
shuffle-buffer fill seeds the K streaming centres (SageMaker reads its first batch separately for
this), then ``epochs`` passes each re-read the source through a fresh shuffle buffer and merge its
mini-batches into the state. Nothing but the state, the buffer and a few blocks of rows is held.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, Optional, Tuple

import numpy as np

from fastkmeans import _core
from fastkmeans._hyperparameters import Hyperparameters
from fastkmeans._validation import check_centers_fit, core_rows
from fastkmeans.io import Batch, ShuffleBuffer, Source

__all__ = ["Trained", "assign_batches", "train"]

# Independent random streams, one per purpose (numpy's SeedSequence mixes them with the seed).
_SEED_SAMPLE, _EPOCH, _PARTIAL = 1, 2, 3

Resolve = Callable[[int], Tuple[int, int]]


@dataclass
class Trained:
    """The outcome of streaming training, not yet stored on the estimator."""

    state: Dict[str, Any]
    n_steps: int
    factor: int
    trials: int
    n_features: int


def train(source: Source, hp: Hyperparameters, *, seed: int, epochs: int, check_first: Callable[[Batch], None],
          resolve: Resolve, previous: Optional[Trained] = None) -> Trained:
    """Stream ``epochs`` passes of ``source`` into a new streaming state (or into ``previous``).

    Parameters
    ----------
    source : Source
        The training data.
    hp : Hyperparameters
        Checked hyperparameters.
    seed : int
        The run's seed: seeding sample, seeds and every pass's shuffle derive from it.
    epochs : int
        Passes over the source.
    check_first : callable
        Raises for a first batch the estimator cannot take (a feature_dim mismatch).
    resolve : callable
        ``resolve(sample_rows) -> (extra_center_factor, local_lloyd_num_trials)``.
    previous : Trained or None, default=None
        A state to continue (``partial_fit``); None seeds a new one from the first buffer fill.

    Returns
    -------
    Trained
        The new state; the caller reduces it and commits.
    """
    if epochs > 1 and not source.reiterable:
        raise ValueError(f"epochs={epochs} passes over the data, but an iterator can be read only once: pass a list "
                         "(or another re-iterable), files, or epochs=1.")
    run = previous
    for epoch in range(epochs):
        if run is None:
            rng = np.random.default_rng([seed, _EPOCH, epoch])
            buffer = _buffer(source, hp, check_first, rng, dtype=None)
            run = _seed(buffer, hp, seed, resolve)
        else:
            # partial_fit passes are told apart by how many points the state has seen.
            key = [seed, _EPOCH, epoch] if previous is None else [seed, _PARTIAL, run.state["points_seen"], epoch]
            buffer = _buffer(source, hp, check_first, np.random.default_rng(key), dtype=run.state["centers"].dtype)
        for batch in buffer:
            merged = _core.minibatch_update(core_rows(batch), state=run.state,
                                            half_life_time_size=hp.half_life_time_size,
                                            reseed_ratio=hp.reseed_ratio, n_threads=hp.n_threads)
            run.state.update(merged["state"])
            run.n_steps += 1
    assert run is not None
    return run


def _buffer(source: Source, hp: Hyperparameters, check_first: Callable[[Batch], None], rng: np.random.Generator,
            dtype: Optional[np.dtype]) -> ShuffleBuffer:
    return ShuffleBuffer(_checked(source.batches(), check_first), batch_rows=hp.mini_batch_size,
                         capacity=source.shuffle_buffer_rows, rng=rng, dtype=dtype)


def _checked(batches: Iterator[Batch], check_first: Callable[[Batch], None]) -> Iterator[Batch]:
    first = True
    for batch in batches:
        if first:
            check_first(batch)
            first = False
        yield batch


def _seed(buffer: ShuffleBuffer, hp: Hyperparameters, seed: int, resolve: Resolve) -> Trained:
    """Seed the K centres from a random sample of the first buffer fill (SageMaker's first batch)."""
    held = buffer.fill()
    if held.shape[0] < hp.k:
        assert buffer.first is not None
        raise ValueError(f"n_samples={held.shape[0]} should be >= k={hp.k} (the data from {buffer.first.name}).")
    sample_rows = min(hp.mini_batch_size, held.shape[0])
    factor, trials = resolve(sample_rows)
    check_centers_fit(hp.k * factor, held.shape[1], held.dtype.itemsize,
                      what=f"k * extra_center_factor = {hp.k * factor}")
    chosen = np.sort(np.random.default_rng([seed, _SEED_SAMPLE]).choice(held.shape[0], sample_rows, replace=False))
    seeded = _core.minibatch_seed(core_rows(held[chosen]), n_centers=hp.k * factor, k=hp.k, init_method=hp.init_method,
                                  seed=seed, n_threads=hp.n_threads)
    return Trained({**seeded["state"], "seed": seed}, 0, factor, trials, held.shape[1])


def assign_batches(source: Source, centers: np.ndarray, check_first: Callable[[Batch], None],
                   n_threads: Optional[int]) -> Iterator[Tuple[Batch, np.ndarray, np.ndarray]]:
    """Yield every block of the source with its closest centres and squared distances.

    Parameters
    ----------
    source : Source
        The data.
    centers : ndarray of shape (k, n_features)
        Final centres.
    check_first : callable
        Raises for a first batch of the wrong width.
    n_threads : int or None
        Threads for the core.

    Yields
    ------
    tuple of (Batch, ndarray of shape (n_rows,), ndarray of shape (n_rows,))
        The batch, int32 labels and float64 squared distances.
    """
    cast: Dict[np.dtype, np.ndarray] = {}
    for batch in _checked(source.batches(), check_first):
        rows = batch.rows
        if rows.dtype not in cast:
            cast[rows.dtype] = np.ascontiguousarray(centers.astype(rows.dtype, copy=False))
        labels, dist2 = _core.assign(core_rows(rows), cast[rows.dtype], n_threads=n_threads)
        yield batch, labels, dist2
