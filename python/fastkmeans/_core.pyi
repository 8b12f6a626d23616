"""Type stubs for the Rust extension ``fastkmeans._core`` (the PyO3 bindings of fastkmeans-core).

Arrays are borrowed without copying and must be C-contiguous float32 or float64; arrays passed
together must share their dtype. Every function releases the GIL and stops with KeyboardInterrupt
on Ctrl-C. ``n_threads=None`` uses the global pool (every core).
"""

from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import numpy.typing as npt

BACKENDS: List[str]

def assign(
    x: npt.NDArray[np.floating[Any]], centers: npt.NDArray[np.floating[Any]], n_threads: Optional[int] = None
) -> Tuple[npt.NDArray[np.int32], npt.NDArray[np.float64]]:
    """Closest centre (ties to the lowest index) and squared distance of every row."""

def first_non_finite_row(x: npt.NDArray[np.floating[Any]]) -> Optional[int]:
    """Index of the first row holding NaN or infinity, or None."""

# A streaming training state, as returned under "state" and passed back in: "centers" (K x d, the
# data's dtype), "counts" (K,), "points_seen" (int), "far_points" (M x d, M <= K), "far_weights"
# (M,), "far_dist2" (M,). Extra keys (the estimator keeps its seed there) are ignored.
State = Dict[str, Any]

def fit_minibatch(
    x: npt.NDArray[np.floating[Any]],
    *,
    k: int,
    n_centers: int,
    mini_batch_size: int,
    epochs: int,
    init_method: str,
    half_life_time_size: int,
    local_lloyd_init_method: str,
    local_lloyd_num_trials: int,
    local_lloyd_max_iter: int,
    local_lloyd_tol: float,
    seed: int,
    n_threads: Optional[int] = None,
) -> Dict[str, Any]:
    """Web-scale training in memory: centers, labels, inertia, n_iter, reduction_msd, n_batches, state."""

def fit_lloyd(
    x: npt.NDArray[np.floating[Any]],
    *,
    k: int,
    init_method: str,
    num_trials: int,
    max_iter: int,
    tol: float,
    seed: int,
    weights: Optional[npt.NDArray[np.float64]] = None,
    init_centers: Optional[npt.NDArray[np.floating[Any]]] = None,
    n_threads: Optional[int] = None,
) -> Dict[str, Any]:
    """Best of num_trials (weighted) Lloyd runs, or one from init_centers: centers, labels, inertia, n_iter."""

def minibatch_seed(
    sample: npt.NDArray[np.floating[Any]],
    *,
    n_centers: int,
    init_method: str,
    seed: int,
    n_threads: Optional[int] = None,
) -> Dict[str, Any]:
    """A fresh state seeded from sample (counts zero, no far points), under "state"."""

def minibatch_update(
    batch: npt.NDArray[np.floating[Any]],
    *,
    state: State,
    half_life_time_size: int,
    n_threads: Optional[int] = None,
) -> Dict[str, Any]:
    """One mini-batch merged into a copy of the state: batch_ssd, and the new state under "state"."""

def reduce(
    state: State,
    *,
    k: int,
    init_method: str,
    num_trials: int,
    max_iter: int,
    tol: float,
    seed: int,
    n_threads: Optional[int] = None,
) -> Dict[str, Any]:
    """The state's centres (weighted by counts) and far points shrunk to k: centers, ssd, msd, n_iter."""
