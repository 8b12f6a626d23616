"""The training drivers behind ``KMeans``, and ``reduce_centers``.

In-memory fits and merges, the K -> k reduction, and ``reduce_centers``: the same reduction for
weighted centres trained apart. Each driver returns what it trained without touching the
estimator, which stores the result only once everything has succeeded (a failed or interrupted fit
leaves it as it was). Streamed training (a ``fastkmeans.io.Source``) is in ``_streaming``.
"""

from __future__ import annotations

import secrets
import warnings
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

from fastkmeans import _core, _device
from fastkmeans._hyperparameters import (
    Hyperparameters,
    check_hyperparameters,
    resolve_extra_center_factor,
    resolve_local_lloyd_num_trials,
)
from fastkmeans._streaming import Trained
from fastkmeans._validation import check_centers_fit, core_rows, take_rows

__all__ = ["Fitted", "Reduction", "check_initial_centers", "few_rows_factor", "fit_arrays", "many_rows_trials",
           "merge_arrays", "reduce_centers", "reduce_state", "refine_params", "resolve_minibatch", "seed_of",
           "seeded_state", "streaming_weights"]


@dataclass
class Fitted:
    """The outcome of an in-memory fit or merge, not yet stored on the estimator."""

    centers: np.ndarray
    labels: np.ndarray
    inertia: float
    n_iter: int
    state: Optional[Dict[str, Any]]
    factor: int
    trials: int
    n_steps: int
    weights: np.ndarray


def fit_arrays(X: Any, hp: Hyperparameters, random_state: Any, initial_centers: Any = None) -> Fitted:
    """Train from scratch on rows in memory (dense, or CSR), by ``hp.algorithm``.

    Seeded with ``initial_centers`` when given (see ``check_initial_centers``).
    """
    require_rows(X, hp.k)
    seed = seed_of(random_state)
    if initial_centers is not None:
        return _fit_from_centers(X, hp, seed, initial_centers)
    if hp.algorithm == "lloyd":
        trials = resolve_local_lloyd_num_trials(hp.local_lloyd_num_trials, hp.k, "lloyd")
        check_centers_fit(hp.k, X.shape[1], X.dtype.itemsize, what=f"k = {hp.k}")
        out = _core.fit_lloyd(core_rows(X), k=hp.k, init_method=hp.local_lloyd_init_method, num_trials=trials,
                              max_iter=hp.local_lloyd_max_iter, tol=hp.local_lloyd_tol, seed=seed,
                              stop_rule="shift", n_threads=hp.n_threads, device=_device.current())
        weights = np.bincount(out["labels"], minlength=hp.k).astype(np.float64)
        return Fitted(out["centers"], out["labels"], out["inertia"], out["n_iter"], None, 1, trials, 0, weights)
    factor, trials = resolve_minibatch(hp, first_batch_rows=min(hp.mini_batch_size, X.shape[0]))
    factor = few_rows_factor(hp, factor, X.shape[0], X.shape[1])
    trials = many_rows_trials(hp, trials, factor, X.shape[0])
    check_centers_fit(hp.k * factor, X.shape[1], X.dtype.itemsize, what=f"k * extra_center_factor = {hp.k * factor}")
    out = _core.fit_minibatch(
        core_rows(X), k=hp.k, n_centers=hp.k * factor, mini_batch_size=hp.mini_batch_size, epochs=hp.epochs,
        init_method=hp.init_method, half_life_time_size=hp.half_life_time_size,
        local_lloyd_init_method=hp.local_lloyd_init_method, local_lloyd_num_trials=trials,
        local_lloyd_max_iter=hp.local_lloyd_max_iter, local_lloyd_tol=hp.local_lloyd_tol, seed=seed,
        reseed_ratio=hp.reseed_ratio, refine=refine_params(hp), refine_rule="shift", n_threads=hp.n_threads,
        device=_device.current())
    state = {**out["state"], "seed": seed}
    return Fitted(out["centers"], out["labels"], out["inertia"], out["n_iter"], state, factor, trials,
                  out["n_batches"], out["weights"])


# The refine's centre-shift tolerance is local_lloyd_tol divided by this (see refine_params).
REFINE_TOL_DIVISOR = 10


def refine_params(hp: Hyperparameters) -> Optional[Tuple[int, float]]:
    """``recipe="fastkmeans"``'s last step on rows in memory, as (max_iter, tol), else ``None``.

    Full-data Lloyd from the reduction's trial chosen by the rows, or on tiny data from each, with
    runs from seedings of the rows to make up five (``_core.reduce_and_refine``), at most
    ``local_lloyd_max_iter`` iterations, stopping by scikit-learn's rule (the core's
    ``stop_rule="shift"``) at a tenth of its tolerance: once the centres' total squared move is
    at most ``local_lloyd_tol / REFINE_TOL_DIVISOR`` times the data's mean per-feature variance, or
    no row changes its centre. The refine starts near a local optimum, where the centres creep: at
    ``local_lloyd_tol`` itself it stopped 0.4% above scikit-learn's loss on flower.jpg's colours
    (k = 64, seeds 0-3; scikit-learn's own run from k-means++ stops at that tolerance after many
    more iterations), at a tenth 0.2% below it, for a quarter more time (docs/algorithm.md). The
    reduction keeps SageMaker's relative-loss rule. ``None`` for ``recipe="sagemaker"``, which ends with the reduction.
    """
    if hp.recipe != "fastkmeans":
        return None
    return hp.local_lloyd_max_iter, hp.local_lloyd_tol / REFINE_TOL_DIVISOR


def merge_arrays(X: Any, hp: Hyperparameters, previous: Optional[Trained], random_state: Any,
                 initial_centers: Any = None) -> Fitted:
    """``partial_fit`` on rows in memory.

    Seeds a new streaming state from a sample of ``X`` (or from ``initial_centers``, or continues
    ``previous``, with its own seed), merges every mini-batch of ``X`` in order, reduces K to k and
    labels ``X``.
    """
    if previous is None and initial_centers is not None:
        require_rows(X, hp.k)
        seed = seed_of(random_state)
        state, factor = seeded_state(initial_centers, hp, X.shape[1], X.dtype, seed)
        trials, n_steps = resolve_local_lloyd_num_trials(hp.local_lloyd_num_trials, hp.k, "minibatch"), 0
    elif previous is None:
        require_rows(X, hp.k)
        sample_rows = min(hp.mini_batch_size, X.shape[0])
        factor, trials = resolve_minibatch(hp, first_batch_rows=sample_rows)
        check_centers_fit(hp.k * factor, X.shape[1], X.dtype.itemsize,
                          what=f"k * extra_center_factor = {hp.k * factor}")
        seed = seed_of(random_state)
        chosen = np.sort(np.random.default_rng(seed).choice(X.shape[0], sample_rows, replace=False))
        seeded = _core.minibatch_seed(core_rows(take_rows(X, chosen)), n_centers=hp.k * factor, k=hp.k,
                                      init_method=hp.init_method, seed=seed, n_threads=hp.n_threads)
        state, n_steps = {**seeded["state"], "seed": seed}, 0
    else:
        state, n_steps = dict(previous.state), previous.n_steps
        factor, trials = previous.factor, previous.trials
    # The state is updated in a copy and returned, so an interrupted call merges nothing.
    X = X.astype(state["centers"].dtype, copy=False)
    # Every mini-batch of X in one call: the core loops over them without a round trip each.
    merged = _core.minibatch_update(core_rows(X), state=state, half_life_time_size=hp.half_life_time_size,
                                    mini_batch_size=hp.mini_batch_size, reseed_ratio=hp.reseed_ratio,
                                    n_threads=hp.n_threads)
    state.update(merged["state"])
    reduced = reduce_state(state, hp, trials)
    labels, dist2 = _core.assign(core_rows(X), reduced["centers"], n_threads=hp.n_threads, device=_device.current())
    return Fitted(reduced["centers"], labels, float(dist2.sum()), reduced["n_iter"], state, factor, trials,
                   n_steps + merged["n_batches"], streaming_weights(state, reduced["centers"]))


def check_initial_centers(value: Any, hp: Hyperparameters, n_features: int, dtype: Any) -> Tuple[np.ndarray, int]:
    """Return the user's initial centres as a C-contiguous ``dtype`` array, and the factor they imply.

    With ``algorithm="lloyd"`` they must be k rows (Lloyd starts from them). With "minibatch" they
    are the K streaming centres: k rows (K = k, extra_center_factor_ 1: the reduction keeps them)
    or k * f rows, where f is ``extra_center_factor`` (any multiple of k when it is "auto").

    Raises
    ------
    ValueError
        Naming ``initial_centers``, for anything but a 2-D array of finite real numbers with
        ``n_features`` columns and as many rows as above.
    """
    array = np.asarray(value)
    if array.ndim != 2 or not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise ValueError(f"initial_centers must be a 2-D array of real numbers, not shape {array.shape} of "
                         f"{array.dtype}.")
    rows, width = array.shape
    if width != n_features:
        raise ValueError(f"initial_centers has {width} features, but X has {n_features}.")
    finite = np.isfinite(array).all(axis=1)
    if not finite.all():
        raise ValueError(f"initial_centers contains NaN or infinity (row {int(np.flatnonzero(~finite)[0])}).")
    if hp.algorithm == "lloyd":
        if rows != hp.k:
            raise ValueError(f"initial_centers has {rows} rows, but algorithm='lloyd' starts from k={hp.k} centres.")
        factor = 1
    else:
        factor = rows // hp.k
        given = hp.extra_center_factor
        if rows < hp.k or rows % hp.k or not (factor == 1 or given == "auto" or given == factor):
            expected = "a multiple of k" if given == "auto" else f"k * extra_center_factor = {hp.k * int(given)}"
            raise ValueError(f"initial_centers has {rows} rows, but algorithm='minibatch' seeds its streaming "
                             f"centres from k={hp.k} rows or {expected}.")
    return np.ascontiguousarray(array, dtype=dtype), factor


def seeded_state(initial_centers: Any, hp: Hyperparameters, n_features: int, dtype: Any,
                 seed: int) -> Tuple[Dict[str, Any], int]:
    """Return a new streaming state whose K centres are ``initial_centers`` (checked), and its factor."""
    centers, factor = check_initial_centers(initial_centers, hp, n_features, dtype)
    state = {"centers": centers, "counts": np.zeros(centers.shape[0]), "points_seen": 0,
             "far_points": np.empty((0, n_features), dtype=centers.dtype), "far_weights": np.empty(0),
             "far_dist2": np.empty(0), "seed": seed}
    return state, factor


def _fit_from_centers(X: Any, hp: Hyperparameters, seed: int, initial_centers: Any) -> Fitted:
    """Run ``fit_arrays`` from the user's centres.

    One Lloyd run from them, or the mini-batch recipe streaming from them (each epoch in its own
    random order).
    """
    if hp.algorithm == "lloyd":
        centers, _ = check_initial_centers(initial_centers, hp, X.shape[1], X.dtype)
        out = _core.fit_lloyd(core_rows(X), k=hp.k, init_method=hp.local_lloyd_init_method, num_trials=1,
                              max_iter=hp.local_lloyd_max_iter, tol=hp.local_lloyd_tol, seed=seed,
                              init_centers=centers, stop_rule="shift", n_threads=hp.n_threads,
                              device=_device.current())
        weights = np.bincount(out["labels"], minlength=hp.k).astype(np.float64)
        return Fitted(out["centers"], out["labels"], out["inertia"], out["n_iter"], None, 1, 1, 0, weights)
    state, factor = seeded_state(initial_centers, hp, X.shape[1], X.dtype, seed)
    trials = many_rows_trials(hp, resolve_local_lloyd_num_trials(hp.local_lloyd_num_trials, hp.k, "minibatch"),
                              factor, X.shape[0])
    n_steps = 0
    for epoch in range(hp.epochs):
        order = np.random.default_rng([seed, epoch]).permutation(X.shape[0])
        merged = _core.minibatch_update(core_rows(X), state=state, half_life_time_size=hp.half_life_time_size,
                                        mini_batch_size=hp.mini_batch_size, order=order,
                                        reseed_ratio=hp.reseed_ratio, n_threads=hp.n_threads)
        state.update(merged["state"])
        n_steps += merged["n_batches"]
    steps = refine_params(hp)
    if steps is not None:
        out = _core.reduce_and_refine(core_rows(X), state=state, **_reduction(state, hp, trials), refine=steps,
                                      refine_rule="shift", n_threads=hp.n_threads, device=_device.current())
        centers, labels, inertia, n_iter = out["centers"], out["labels"], float(out["inertia"]), out["n_iter"]
    else:
        reduced = reduce_state(state, hp, trials)
        centers, n_iter = reduced["centers"], reduced["n_iter"]
        labels, dist2 = _core.assign(core_rows(X), centers, n_threads=hp.n_threads, device=_device.current())
        inertia = float(dist2.sum())
    return Fitted(centers, labels, inertia, n_iter, state, factor, trials, n_steps,
                  streaming_weights(state, centers))


def require_rows(X: Any, k: int) -> None:
    """Fail unless there are at least ``k`` rows."""
    if X.shape[0] < k:
        raise ValueError(f"n_samples={X.shape[0]} should be >= k={k}.")


def resolve_minibatch(hp: Hyperparameters, first_batch_rows: int) -> Tuple[int, int]:
    """extra_center_factor and local_lloyd_num_trials as used (see the ``KMeans`` docstring)."""
    factor = resolve_extra_center_factor(hp.extra_center_factor, hp.k, first_batch_rows)
    if isinstance(hp.extra_center_factor, int) and factor < hp.extra_center_factor:
        warnings.warn(f"extra_center_factor={hp.extra_center_factor} would keep more centres than the "
                      f"{first_batch_rows} rows of the seeding batch; using {factor}.", UserWarning, stacklevel=4)
    return factor, resolve_local_lloyd_num_trials(hp.local_lloyd_num_trials, hp.k, "minibatch")


# Under the default recipe, an in-memory fit with fewer rows than this per streaming centre keeps half
# the "auto" extra_center_factor (see few_rows_factor).
FEW_ROWS_PER_CENTER = 50

# ... where the halved factor leaves fewer rows than this per streaming centre, the largest factor that
# leaves this many, but no less than THIN_FACTOR (see few_rows_factor) ...
THIN_ROWS_PER_CENTER = 20
THIN_FACTOR = 3

# ... and where even the halved factor leaves fewer rows than this per streaming centre, the factor is
# 2 (see few_rows_factor).
MIN_ROWS_PER_CENTER = 4

# ... unless the data is a small table: fewer rows than this, and a pass over them against the k centres
# of at most SMALL_TABLE_WORK multiply-adds (n * k * d), whose fit took a millisecond or less either way
# and where the finer summary lowers the loss (see few_rows_factor).
SMALL_TABLE_ROWS = 1_000
SMALL_TABLE_WORK = 1 << 18


def few_rows_factor(hp: Hyperparameters, factor: int, n_rows: int, n_features: int) -> int:
    """Return the extra_center_factor of an in-memory minibatch fit: ``factor``, or less on few rows per centre.

    The streaming pass and the reduction cost in proportion to K = k * ``factor``, whatever the
    number of rows; the passes over the data, in proportion to the rows. With fewer than
    ``FEW_ROWS_PER_CENTER`` rows per streaming centre (3,000-7,500 rows with k = 15-50 at
    K = 10 k) the streaming centres and the reduction's trials over them cost most of the fit, and
    centres that summarise so few rows each summarise them no better than half as many do: under
    ``recipe="fastkmeans"``, with ``extra_center_factor="auto"``, the factor is halved (to no less
    than 2; a factor of 2 or less stays). Measured on the small sipu sets and digits (seeds 0-9): the same
    loss or lower, in a fifth to three fifths less time (docs/algorithm.md). Where the halved factor
    leaves fewer than ``THIN_ROWS_PER_CENTER`` rows per streaming centre (digits at k = 30: 12 rows
    each at K = 5 k), the factor is the largest that leaves that many, but no less than
    ``THIN_FACTOR``: on digits at k = 30 and the dim032 and dim064 sets (seeds 0-29) the fit took
    0.83, 0.76 and 0.88 of the time, its mean loss within 0.1% of the halved factor's and below
    scikit-learn's (docs/algorithm.md). Where the halved factor
    still leaves fewer than ``MIN_ROWS_PER_CENTER`` rows per streaming centre (400 x 4,096 rows at
    k = 40, digits at k = 100), the factor is 2: centres of two or three rows each summarise nothing, and
    the reduction's trials over them cost as much as Lloyd over the rows, d multiply-adds a pair
    (400 x 4,096 at k = 40 took 1.6 times scikit-learn's time; measured, docs/algorithm.md).

    Small tables keep the factor: fewer than ``SMALL_TABLE_ROWS`` rows, and n * k * d at most
    ``SMALL_TABLE_WORK`` (a pass over the rows against the k centres, some 20 µs). Their whole fit
    took a millisecond or less where measured (k <= 10), halving saved about an eighth of it, and on such tables (iris,
    wine, USArrests, state crime, breast cancer and diabetes at k = 2-10, n * k * d up to 170,700,
    seeds 0-11) keeping it lowered the mean loss on 36 of 54 cells and raised it on 8
    (docs/algorithm.md). SageMaker's recipe, an explicit factor, streamed fits and ``partial_fit``
    are left as they are.
    """
    small_table = n_rows < SMALL_TABLE_ROWS and n_rows * hp.k * n_features <= SMALL_TABLE_WORK
    if (hp.recipe == "fastkmeans" and hp.extra_center_factor == "auto" and factor > 2 and not small_table
            and n_rows < FEW_ROWS_PER_CENTER * hp.k * factor):
        halved = max(factor // 2, 2)
        if n_rows < MIN_ROWS_PER_CENTER * hp.k * halved:
            return 2
        if n_rows < THIN_ROWS_PER_CENTER * hp.k * halved:
            return max(min(THIN_FACTOR, halved), n_rows // (THIN_ROWS_PER_CENTER * hp.k))
        return halved
    return factor


# Under the default recipe, an in-memory fit with at least FEW_ROWS_PER_CENTER rows per streaming centre kept
# and K >= 3k runs at least this many reduction trials (see many_rows_trials).
MANY_ROWS_TRIALS = 10


def many_rows_trials(hp: Hyperparameters, trials: int, factor: int, n_rows: int) -> int:
    """Return the reduction trials of an in-memory minibatch fit: ``trials``, or at least ``MANY_ROWS_TRIALS``.

    SageMaker's "auto" runs round(1000 / k) trials (10 up to k = 105), so that the reduction's
    trials over the K streaming centres stay cheap as k grows. Where the rows are many (at least
    ``FEW_ROWS_PER_CENTER`` per streaming centre kept: K = k * ``factor``, the factor after any
    halving by ``few_rows_factor``, or the one ``initial_centers`` imply) the passes over them cost
    far more than trials over the K centres, and many clusters in few dimensions have many shallow
    minima for the trials to choose among: under ``recipe="fastkmeans"``, with
    ``local_lloyd_num_trials="auto"`` (whatever set the factor) and K >= 3k, such a fit runs at
    least ``MANY_ROWS_TRIALS``. Measured on china.jpg's colours (273,280 x 3; docs/algorithm.md):
    at k = 128 (K = 7k) eight trials ended 1.0010 of scikit-learn's mean loss and ten 0.9993
    (seeds 0-5), at k = 256 (K = 3k) four 1.0041 and ten 0.9992 (seeds 0-3), in the same time; at
    k = 500 (K = 2k, left alone) ten instead of two took 11% more time for no gain. SageMaker's
    recipe, an explicit value, streamed fits, Dask fits and a ``partial_fit`` that seeds its own
    state keep SageMaker's number (one that continues a ``fit`` keeps the fit's).
    """
    if (hp.recipe == "fastkmeans" and hp.local_lloyd_num_trials == "auto" and factor >= 3
            and n_rows >= FEW_ROWS_PER_CENTER * hp.k * factor):
        return max(trials, MANY_ROWS_TRIALS)
    return trials


def reduce_state(state: Dict[str, Any], hp: Hyperparameters, trials: int) -> Dict[str, Any]:
    """Reduce the K streaming centres (and far points) of ``state`` to ``hp.k``.

    Returns ``centers``, ``ssd``, ``msd`` and ``n_iter``.
    """
    reduced: Dict[str, Any] = _core.reduce(state, **_reduction(state, hp, trials), n_threads=hp.n_threads)
    return reduced


def _reduction(state: Dict[str, Any], hp: Hyperparameters, trials: int) -> Dict[str, Any]:
    """Return the reduction's arguments to ``_core.reduce`` and ``_core.reduce_and_refine``."""
    return dict(k=hp.k, init_method=hp.local_lloyd_init_method, num_trials=trials,
                max_iter=hp.local_lloyd_max_iter, tol=hp.local_lloyd_tol, seed=state["seed"])


def streaming_weights(state: Dict[str, Any], centers: np.ndarray) -> np.ndarray:
    """Total streaming count of the K centres that each final centre absorbed."""
    return _core.absorbed_counts(state, centers.astype(state["centers"].dtype, copy=False))


def seed_of(random_state: Any) -> int:
    """Return a 64-bit seed for the core from scikit-learn's random_state conventions."""
    if random_state is None:
        return secrets.randbits(63)
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state must be a non-negative integer, not {random_state}.")
        return int(random_state) % 2**64
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**63))
    raise ValueError(f"random_state must be None, an int, a numpy RandomState or Generator, not {random_state!r}.")


@dataclass(frozen=True)
class Reduction:
    """The result of ``reduce_centers``."""

    centers: np.ndarray
    """(k, n_features): the final centres, in the dtype of the shards' centres."""
    ssd: float
    """Sum over the input centres of weight × squared distance to their final centre."""
    msd: float
    """``ssd`` over the total weight: SageMaker's "mean square distance" of the reduction."""
    n_iter: int
    """Lloyd iterations of the winning trial."""


ArrayOrShards = Union[npt.ArrayLike, Sequence[npt.ArrayLike]]


def reduce_centers(centers: ArrayOrShards, weights: ArrayOrShards, k: int, *, random_state: Any = None,
                   local_lloyd_init_method: str = "kmeans++", local_lloyd_num_trials: Union[int, str] = "auto",
                   local_lloyd_max_iter: int = 300, local_lloyd_tol: float = 1e-4,
                   n_threads: Optional[int] = None) -> Reduction:
    """Reduce weighted centres, from one place or many, to ``k`` centres: SageMaker's final step.

    This is the merge of centres trained apart: SageMaker's instances, or Dask partitions, each
    stream their shard into weighted centres, and the weighted centres of all shards together are
    reduced to k by weighted Lloyd runs, best of ``local_lloyd_num_trials`` (the estimator's own
    reduction, through the same core entry point). From fitted models, a shard is a model's
    ``cluster_centers_`` with its ``cluster_weights_`` (the streaming count each centre absorbed).

    Parameters
    ----------
    centers : array-like of shape (n, d), or a sequence of them (one per shard)
        The centres. Shards are taken in order; float32 stays float32 when every shard is.
    weights : array-like of shape (n,), or a sequence of them matching ``centers``
        One finite, non-negative weight per centre (a streaming count).
    k : int
        The number of final centres (at most the number of centres given).
    random_state : int, numpy RandomState or Generator, or None, default=None
        Seeds the trials' k-means++ or random seeding.
    local_lloyd_init_method, local_lloyd_num_trials, local_lloyd_max_iter, local_lloyd_tol
        As the ``KMeans`` hyperparameters of the same names ("auto" trials: as for ``k``).
    n_threads : int or None, default=None
        Threads to use (None: all cores).

    Returns
    -------
    Reduction
        ``centers`` (k, d), ``ssd``, ``msd`` and ``n_iter``.

    Raises
    ------
    ValueError
        For shards of different widths, weights that are not one finite non-negative value per
        centre, fewer centres than ``k``, or invalid hyperparameters.

    Examples
    --------
    >>> import numpy as np
    >>> from fastkmeans import reduce_centers
    >>> a = np.array([[0.0, 0.0], [0.0, 1.0], [10.0, 10.0]])
    >>> b = np.array([[10.0, 11.0], [1.0, 0.0]])
    >>> result = reduce_centers([a, b], [np.array([3.0, 1.0, 2.0]), np.array([2.0, 1.0])], k=2, random_state=0)
    >>> print(np.sort(result.centers, axis=0))
    [[ 0.2  0.2]
     [10.  10.5]]
    >>> round(result.msd, 4)
    0.2889
    """
    # A list or tuple of 2-D arrays is shards (weights then as many arrays); anything else is one.
    shards: List[Any]
    weight_shards: List[Any]
    if isinstance(centers, (list, tuple)) and centers and all(np.ndim(c) == 2 for c in centers):
        shards, weight_shards = list(centers), list(weights)  # type: ignore[arg-type]
    else:
        shards, weight_shards = [centers], [weights]
    if len(shards) != len(weight_shards):
        raise ValueError(f"{len(shards)} centre shards but {len(weight_shards)} weight arrays.")
    arrays = [_real_array(c, f"centers shard {i}", ndim=2) for i, c in enumerate(shards)]
    dtype = np.float32 if all(a.dtype == np.float32 for a in arrays) else np.float64
    # Aligned too: centres gathered over a network (Dask) may start at any byte.
    arrays = [np.require(a, dtype, ["C_CONTIGUOUS", "ALIGNED"]) for a in arrays]
    weight_arrays = [np.require(_real_array(w, f"weights shard {i}", ndim=1), np.float64, ["C_CONTIGUOUS", "ALIGNED"])
                     for i, w in enumerate(weight_shards)]
    for i, (array, w) in enumerate(zip(arrays, weight_arrays)):
        if array.shape[1] != arrays[0].shape[1]:
            raise ValueError(f"shard {i} has {array.shape[1]} features, but shard 0 has {arrays[0].shape[1]}.")
        if w.shape[0] != array.shape[0]:
            raise ValueError(f"shard {i} has {array.shape[0]} centres but {w.shape[0]} weights.")
        if not np.isfinite(array).all():
            row = int(np.flatnonzero(~np.isfinite(array).all(axis=1))[0])
            raise ValueError(f"centers shard {i} contains NaN or infinity (row {row}).")
    total = sum(a.shape[0] for a in arrays)
    hp = check_hyperparameters(k=k, local_lloyd_init_method=local_lloyd_init_method,
                               local_lloyd_num_trials=local_lloyd_num_trials, local_lloyd_max_iter=local_lloyd_max_iter,
                               local_lloyd_tol=local_lloyd_tol, n_threads=n_threads)
    if total < hp.k:
        raise ValueError(f"{total} centres cannot be reduced to k={hp.k}.")
    trials = resolve_local_lloyd_num_trials(hp.local_lloyd_num_trials, hp.k, "minibatch")
    out = _core.reduce_shards(arrays, weight_arrays, k=hp.k, init_method=hp.local_lloyd_init_method,
                              num_trials=trials, max_iter=hp.local_lloyd_max_iter, tol=hp.local_lloyd_tol,
                              seed=seed_of(random_state), n_threads=hp.n_threads)
    return Reduction(out["centers"], float(out["ssd"]), float(out["msd"]), int(out["n_iter"]))


def _real_array(value: Any, what: str, ndim: int) -> np.ndarray:
    """``value`` as an array of real numbers with ``ndim`` dimensions, or a ValueError naming ``what``."""
    array = np.asarray(value)
    if array.ndim != ndim or not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        shape = "2-D" if ndim == 2 else "1-D"
        raise ValueError(f"{what} must be a {shape} array of real numbers, not shape {array.shape} of {array.dtype}.")
    return array
