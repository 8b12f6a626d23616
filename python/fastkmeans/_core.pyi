"""Type stubs for the Rust extension ``fastkmeans._core`` (the PyO3 bindings of fastkmeans-core).

Arrays are borrowed without copying and must be C-contiguous float32 or float64; arrays passed
together must share their dtype. Wherever rows are taken (``x``, ``sample``, ``batch``) a sparse
matrix may be passed as the tuple ``(data, indices, indptr, n_features)`` of its CSR arrays
(float32/float64 values, int32 column indices, int64 row offsets, duplicates summed): it is
assigned and summed sparse x dense, never densified. Every function releases the GIL and stops with KeyboardInterrupt
on Ctrl-C. ``n_threads=None`` uses the global pool (every core). A bad value raises ValueError.
"""

import os
from typing import Any, Dict, List, Optional, Tuple, Union, final

import numpy as np
import numpy.typing as npt

__all__ = [
    "assign", "assign_and_sum", "transform", "first_non_finite_row", "fit_minibatch", "fit_lloyd", "minibatch_seed",
    "minibatch_update", "reduce", "absorbed_counts", "reduce_shards", "reduce_and_refine", "loss",
    "silhouette_samples", "dispersion",
    "BACKENDS", "CPU_TILES", "silhouette_pairs", "reduce_candidates",
    "RecordIOError", "RecordIOReader", "write_recordio_dense", "write_recordio_sparse",
    "TextError", "parse_csv", "parse_json", "write_answers", "cuda_compiled", "cuda_probe", "cuda_describe",
]

BACKENDS: List[str]
"""Compute backends built into this extension (``["cpu"]``, or ``["cpu", "cuda"]`` with the cuda feature)."""
CPU_TILES: str
"""The assignment tiles this CPU runs: ``"avx512"``, ``"avx2"`` or ``"portable"``, with ``"+amx"`` where float32
labels against many centres go through the AMX filter (bfloat16 tiles, exact rescoring), all with the same bits
(``FASTKMEANS_DISABLE_AVX512=1`` in the environment keeps the AVX2 tiles on a CPU with AVX-512,
``FASTKMEANS_DISABLE_AMX=1`` the exact tiles alone on a CPU with AMX)."""

# A streaming training state, as returned under "state" and passed back in: "centers" (K x d, the
# data's dtype), "counts" (K,), "points_seen" (int), "far_points" (M x d, M <= K), "far_weights"
# (M,), "far_dist2" (M,). Extra keys (the estimator keeps its seed there) are ignored. Private, so
# that stubtest does not look for it in the extension.
_State = Dict[str, Any]

# Dense rows, or the CSR arrays of sparse rows: (data, indices, indptr, n_features).
_Rows = Union[
    npt.NDArray[np.floating[Any]],
    Tuple[npt.NDArray[np.floating[Any]], npt.NDArray[np.int32], npt.NDArray[np.int64], int],
]

def assign(
    x: _Rows, centers: npt.NDArray[np.floating[Any]], n_threads: Optional[int] = None,
    device: Optional[Tuple[int, bool]] = None,
) -> Tuple[npt.NDArray[np.int32], npt.NDArray[np.float64]]:
    """Return the closest centre (ties to the lowest index) and squared distance of every row.

    Parameters
    ----------
    x : ndarray of shape (n_samples, d)
        Rows to assign.
    centers : ndarray of shape (n_centers, d)
        Centres, with the dtype of ``x``.
    n_threads : int or None, default=None
        Threads to use.

    Returns
    -------
    labels : ndarray of shape (n_samples,)
        int32 index of the closest centre.
    dist2 : ndarray of shape (n_samples,)
        float64 squared Euclidean distance to it.
    """

def transform(
    x: _Rows, centers: npt.NDArray[np.floating[Any]], n_threads: Optional[int] = None,
    device: Optional[Tuple[int, bool]] = None,
) -> npt.NDArray[np.floating[Any]]:
    """Return the Euclidean distance from every row to every centre, in the dtype of ``x``.

    On the CPU every distance is exact (accumulated in float64, rounded once); on a GPU the
    float32 GEMM's expansion, with the distances it could have cancelled away re-checked exactly.

    Parameters
    ----------
    x : ndarray of shape (n_samples, d)
        Rows.
    centers : ndarray of shape (k, d)
        Centres, with the dtype of ``x``.
    n_threads : int or None, default=None
        Threads to use.
    device : (int, bool) or None, default=None
        None for the CPU, else (CUDA ordinal, TF32).

    Returns
    -------
    ndarray of shape (n_samples, k)
        Distances.
    """

def assign_and_sum(
    x: _Rows, centers: npt.NDArray[np.floating[Any]], n_threads: Optional[int] = None,
    device: Optional[Tuple[int, bool]] = None,
) -> Dict[str, Any]:
    """Assign every row (as ``assign``) and sum the rows of each cluster for the next Lloyd M step.

    One partition's share of a distributed Lloyd iteration: the sums of several partitions,
    taken against the same centres, add up to those of all their rows.

    Parameters
    ----------
    x : ndarray of shape (n_samples, d)
        Rows to assign.
    centers : ndarray of shape (k, d)
        Centres, with the dtype of ``x``.
    n_threads : int or None, default=None
        Threads to use.

    Returns
    -------
    dict
        ``labels`` (n_samples,) int32 and ``dist2`` (n_samples,) float64 as ``assign`` returns
        them; ``deltas`` (k, d) float64, the sum over each cluster's rows of ``x - center`` (so
        the new centre is ``center + deltas / weights``); ``weights`` (k,) float64, the rows of
        each cluster; ``members`` (k,) uint64, the same count as an integer.
    """

def cuda_compiled() -> bool:
    """Whether this build has the ``cuda`` feature (the GPU backend)."""

def cuda_probe(lib_dirs: List[str] = ...) -> Tuple[int, str]:
    """Return ``(device_count, reason)``: the usable CUDA devices and, when none, why.

    ``lib_dirs`` are searched for cuBLAS and NVRTC after the system's paths; only the first call
    in a process looks. The ``device`` argument of ``assign``, ``assign_and_sum``,
    ``fit_minibatch`` and ``fit_lloyd`` is None (the CPU) or ``(ordinal, tf32)``.
    """

def cuda_describe(ordinal: int = 0, tf32: bool = False) -> str:
    """Open CUDA device ``ordinal`` (compiling the kernels if needed) and return its name."""

def first_non_finite_row(x: _Rows) -> Optional[int]:
    """Return the index of the first row holding NaN or infinity, or None.

    Parameters
    ----------
    x : ndarray of shape (n_samples, d)
        Rows to scan.

    Returns
    -------
    int or None
        The row index, or None when every value is finite.
    """

def fit_minibatch(
    x: _Rows,
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
    reseed_ratio: float = 0.25,
    refine: Optional[Tuple[int, float]] = None,
    refine_rule: str = "loss",
    n_threads: Optional[int] = None,
    device: Optional[Tuple[int, bool]] = None,
) -> Dict[str, Any]:
    """Train in memory with the web-scale algorithm: seed, ``epochs`` shuffled passes, reduce K to k, label.

    Where one batch holds every row, the rows themselves seed and make each epoch's batch, unshuffled.

    Parameters
    ----------
    x : ndarray of shape (n_samples, d)
        Training data.
    k : int
        Final clusters.
    n_centers : int
        K, the streaming centres (k times the resolved ``extra_center_factor``).
    mini_batch_size, epochs, init_method, half_life_time_size : int, int, str, int
        SageMaker's hyperparameters of the same names.
    local_lloyd_init_method, local_lloyd_num_trials, local_lloyd_max_iter, local_lloyd_tol : str, int, int, float
        SageMaker's hyperparameters of the reduction (``num_trials`` already resolved).
    seed : int
        Seed of every random stream (0 to 2**64 - 1).
    reseed_ratio : float, default=0.25
        Starved-centre reseeding (see ``KMeans``); 0 never reseeds.
    refine : (int, float) or None, default=None
        (max_iter, tol): the reduction's leading trials are measured on the rows and full-data
        Lloyd runs from the chosen one, or on tiny data from each (``recipe="fastkmeans"``, see
        ``reduce_and_refine``); its
        first pass labels the data instead of a separate labelling pass. None ends with the
        reduction's best trial (SageMaker's recipe).
    refine_rule : {"loss", "shift"}, default="loss"
        What ``refine``'s tol bounds, as ``fit_lloyd``'s ``stop_rule``.
    n_threads : int or None, default=None
        Threads to use.

    Returns
    -------
    dict
        ``centers`` (k, d) in the dtype of ``x`` (the refined ones when ``refine`` is given),
        ``labels`` (n_samples,) int32, ``inertia`` (training ssd), ``n_iter`` (the reduction's),
        ``reduction_msd``, ``n_batches``, ``weights`` (k,) (as ``absorbed_counts`` of the final
        centres) and ``state`` (the streaming state, see ``_State``).
    """

def fit_lloyd(
    x: _Rows,
    *,
    k: int,
    init_method: str,
    num_trials: int,
    max_iter: int,
    tol: float,
    seed: int,
    weights: Optional[npt.NDArray[np.float64]] = None,
    init_centers: Optional[npt.NDArray[np.floating[Any]]] = None,
    stop_rule: str = "loss",
    n_threads: Optional[int] = None,
    device: Optional[Tuple[int, bool]] = None,
) -> Dict[str, Any]:
    """Run the best of ``num_trials`` (weighted) full-batch Lloyd runs, or one run from ``init_centers``.

    Parameters
    ----------
    x : ndarray of shape (n_samples, d)
        Training data.
    k : int
        Clusters.
    init_method : {"random", "kmeans++", "kmeans||", "coreset"}
        Seeding of each run: uniform rows, greedy k-means++, k-means||, or the best of 4 greedy
        k-means++ and weighted Lloyd runs on a lightweight coreset of 32 rows per centre (greedy
        k-means++ over every row on data under 16 x max(32k, 4096) rows; docs/seeding.md).
    num_trials, max_iter, tol : int, int, float
        Runs, most iterations per run, and the tolerance of ``stop_rule``.
    seed : int
        Seed of every random stream (0 to 2**64 - 1).
    weights : ndarray of shape (n_samples,) or None, default=None
        float64 row weights; None weighs every row 1.
    init_centers : ndarray of shape (k, d) or None, default=None
        Starting centres, with the dtype of ``x``; given, a single run starts from them.
    stop_rule : {"loss", "shift"}, default="loss"
        "loss": a run stops once its loss falls by less than ``tol`` of its value (SageMaker's
        ``local_lloyd_tol``); "shift": once the centres' total squared move is at most ``tol`` times
        the data's mean per-feature variance, or no row changes its centre (scikit-learn's rule).
    n_threads : int or None, default=None
        Threads to use.

    Returns
    -------
    dict
        ``centers`` (k, d) in the dtype of ``x``, ``labels`` (n_samples,) int32, ``inertia``
        (weighted ssd) and ``n_iter``.
    """

def minibatch_seed(
    sample: _Rows,
    *,
    n_centers: int,
    init_method: str,
    seed: int,
    k: Optional[int] = None,
    n_threads: Optional[int] = None,
) -> Dict[str, Any]:
    """Seed a fresh streaming state from ``sample`` (counts zero, no far points).

    Parameters
    ----------
    sample : ndarray of shape (n_sample, d)
        The seeding batch; ``n_sample >= n_centers``.
    n_centers : int
        K, the streaming centres.
    init_method : {"random", "kmeans++", "kmeans||", "kmeans++-random"}
        SageMaker's ``init_method`` (plain k-means++), or ``"kmeans++-random"``: plain k-means++
        for the first ``k`` centres, uniform rows for the rest.
    seed : int
        Seed (0 to 2**64 - 1).
    k : int or None, default=None
        The final k, for ``"kmeans++-random"`` (``None``: ``n_centers``).
    n_threads : int or None, default=None
        Threads to use.

    Returns
    -------
    dict
        The new state under ``state``.
    """

def minibatch_update(
    batch: _Rows,
    *,
    state: _State,
    half_life_time_size: int,
    mini_batch_size: Optional[int] = None,
    order: Optional[npt.NDArray[np.int64]] = None,
    shuffle_seed: Optional[int] = None,
    reseed_ratio: float = 0.25,
    n_threads: Optional[int] = None,
) -> Dict[str, Any]:
    """Merge rows into a copy of the state, as one mini-batch or in mini-batches.

    Parameters
    ----------
    batch : ndarray of shape (n, d)
        The rows, with the dtype of the state's centres.
    state : dict
        The streaming state; it is not modified.
    half_life_time_size : int
        SageMaker's decay (0: none).
    mini_batch_size : int or None, default=None
        Merge the rows in mini-batches of this many rows, the loop running in the core; None
        merges all of them (all of ``order``, when given) as one mini-batch.
    order : ndarray of shape (m,) int64 or None, default=None
        Take the rows in this order (row indices, any of them any number of times); None takes
        every row in turn.
    shuffle_seed : int or None, default=None
        Instead of ``order``: take the rows in a random order drawn in the core from this seed
        (the order of an in-memory ``fit``'s first epoch with the same seed, where an epoch is more
        than one batch): one shuffled epoch.
    reseed_ratio : float, default=0.25
        Starved-centre reseeding (see ``KMeans``); 0 never reseeds.
    n_threads : int or None, default=None
        Threads to use.

    Returns
    -------
    dict
        ``batch_ssd`` (the sum over the mini-batches, each against the centres before its
        merge), ``n_batches`` and the new state under ``state``.
    """

def reduce(
    state: _State,
    *,
    k: int,
    init_method: str,
    num_trials: int,
    max_iter: int,
    tol: float,
    seed: int,
    n_threads: Optional[int] = None,
) -> Dict[str, Any]:
    """Shrink the state's centres (weighted by their counts) and far points to k by weighted Lloyd trials.

    Parameters
    ----------
    state : dict
        The streaming state; it is not modified.
    k : int
        Final clusters.
    init_method : {"random", "kmeans++", "kmeans||", "coreset"}
        Seeding of each trial (greedy k-means++).
    num_trials, max_iter, tol : int, int, float
        Trials, most iterations per trial, relative loss change that stops a trial.
    seed : int
        Seed (0 to 2**64 - 1).
    n_threads : int or None, default=None
        Threads to use.

    Returns
    -------
    dict
        ``centers`` (k, d) in the dtype of the state, ``ssd`` and ``msd`` (weighted) and ``n_iter``.
    """

def absorbed_counts(state: _State, centers: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    """Return each final centre's weight: the total count of the state's streaming centres nearest to it.

    Parameters
    ----------
    state : dict
        The streaming state; it is not modified.
    centers : ndarray of shape (k, d)
        The final centres, in the dtype of the state's centres.

    Returns
    -------
    ndarray of shape (k,)
        Each streaming centre's count added to its nearest final centre (ties to the lowest
        index), in streaming-centre order.
    """

def reduce_and_refine(
    x: _Rows,
    *,
    state: _State,
    k: int,
    init_method: str,
    num_trials: int,
    max_iter: int,
    tol: float,
    seed: int,
    refine: Tuple[int, float],
    refine_rule: str = "loss",
    n_threads: Optional[int] = None,
    device: Optional[Tuple[int, bool]] = None,
) -> Dict[str, Any]:
    """End an in-memory fit: reduce the state, choose a trial by the rows, refine.

    The reduction runs as ``reduce`` does, but stops after its first four trials where three of them
    agree on their lowest weighted loss (``num_trials`` is then the most that run). Its three leading
    distinct trials (lowest weighted loss first) are each measured
    by their loss over the rows after one Lloyd step; full-data Lloyd runs from the lowest's
    stepped centres. One distinct trial is taken as it is. On tiny data (n * k * d <= 8192) every
    distinct trial is refined instead, and the lowest end wins.

    Parameters
    ----------
    x : ndarray of shape (n_samples, d), or the CSR arrays of sparse rows (``_Rows``)
        The training rows, with the dtype of the state's centres.
    state : dict
        The streaming state; it is not modified.
    k, init_method, num_trials, max_iter, tol, seed : int, str, int, int, float, int
        The reduction, as ``reduce``.
    refine : (int, float)
        (max_iter, tol) of the full-data Lloyd run.
    refine_rule : {"loss", "shift"}, default="loss"
        What ``refine``'s tol bounds, as ``fit_lloyd``'s ``stop_rule``.
    n_threads : int or None, default=None
        Threads to use.
    device : (int, bool) or None, default=None
        None for the CPU, else (CUDA ordinal, TF32).

    Returns
    -------
    dict
        ``centers`` (k, d) in the dtype of ``x``, ``labels`` (n_samples,) int32, ``inertia``
        (training ssd), ``n_iter`` (the chosen trial's) and ``reduction_msd``.
    """

def reduce_shards(
    centers: List[npt.NDArray[np.floating[Any]]],
    weights: List[npt.NDArray[np.float64]],
    *,
    k: int,
    init_method: str,
    num_trials: int,
    max_iter: int,
    tol: float,
    seed: int,
    n_threads: Optional[int] = None,
) -> Dict[str, Any]:
    """Shrink the weighted centres of several shards, taken in order, to k by weighted Lloyd trials.

    Parameters
    ----------
    centers : list of ndarray of shape (n_i, d)
        Each shard's centres, C-contiguous, all float32 or all float64.
    weights : list of ndarray of shape (n_i,)
        One finite, non-negative float64 weight per centre.
    k, init_method, num_trials, max_iter, tol, seed, n_threads
        As for ``reduce``.

    Returns
    -------
    dict
        ``centers`` (k, d) in the shards' dtype, ``ssd`` and ``msd`` (weighted) and ``n_iter``.
    """

def reduce_candidates(
    candidates: npt.NDArray[np.floating[Any]],
    weights: npt.NDArray[np.float64],
    *,
    k: int,
    seed: int,
    n_threads: Optional[int] = None,
) -> npt.NDArray[Any]:
    """Reduce k-means||'s weighted candidates to k centres: weighted greedy k-means++, then weighted Lloyd.

    Parameters
    ----------
    candidates : ndarray of shape (m, d)
        The candidates gathered from every shard, C-contiguous float32 or float64.
    weights : ndarray of shape (m,)
        One finite, non-negative float64 weight per candidate (the rows closest to it).
    k : int
        Centres wanted, >= 1.
    seed : int
        Seed of the k-means++ draws (trial 0's stream).
    n_threads : int or None, default=None
        Threads for the core.

    Returns
    -------
    ndarray of shape (min(k, m), d)
        The centres, in the candidates' dtype: the candidates themselves when m <= k.
    """

def loss(
    x: _Rows,
    centers: npt.NDArray[np.floating[Any]],
    weights: Optional[npt.NDArray[np.float64]] = None,
    n_threads: Optional[int] = None,
) -> Tuple[float, float, float]:
    """Return ``(ssd, msd, total_weight)`` of the rows against their closest centres.

    Parameters
    ----------
    x : ndarray of shape (n_samples, d)
        Rows.
    centers : ndarray of shape (k, d)
        Centres, with the dtype of ``x``.
    weights : ndarray of shape (n_samples,) or None, default=None
        float64 row weights; None weighs every row 1.
    n_threads : int or None, default=None
        Threads to use.

    Returns
    -------
    tuple of float
        Σ w·||x − c||², that over Σ w (0 for no weight), and Σ w.
    """

def silhouette_samples(
    x: _Rows,
    labels: npt.NDArray[np.int32],
    k: int,
    rows: Optional[npt.NDArray[np.int64]] = None,
    n_threads: Optional[int] = None,
    device: Optional[Tuple[int, bool]] = None,
) -> npt.NDArray[np.float64]:
    """Return the exact silhouette of the rows ``rows`` (every row when None) against all rows of ``x``.

    Parameters
    ----------
    x : ndarray of shape (n_samples, d)
        Rows, dense or sparse.
    labels : ndarray of shape (n_samples,)
        int32 cluster of every row, in 0..k-1.
    k : int
        Number of clusters.
    rows : ndarray of shape (m,) or None, default=None
        int64 indices of the rows whose silhouette is wanted.
    n_threads : int or None, default=None
        Threads to use.
    device : (int, bool) or None, default=None
        None for the CPU, else (CUDA ordinal, TF32): float32 dense rows on that GPU.

    Returns
    -------
    ndarray of shape (m,)
        float64 silhouette values.
    """

def silhouette_pairs(
    x: npt.NDArray[np.floating[Any]],
    labels: npt.NDArray[np.int32],
    k: int,
    n_threads: Optional[int] = None,
) -> Tuple[int, int]:
    """Return the distances the exact silhouette of every row computes after pruning, and the pairs of rows.

    Parameters
    ----------
    x : ndarray of shape (n_samples, d)
        Dense rows.
    labels : ndarray of shape (n_samples,)
        int32 cluster of every row, in 0..k-1.
    k : int
        Number of clusters.
    n_threads : int or None, default=None
        Threads to use.

    Returns
    -------
    tuple of (int, int)
        Distances computed, and n (n - 1) / 2.
    """

def dispersion(
    x: npt.NDArray[np.floating[Any]],
    labels: npt.NDArray[np.int32],
    k: int,
    n_threads: Optional[int] = None,
    device: Optional[Tuple[int, bool]] = None,
) -> Dict[str, Any]:
    """Return per-cluster dispersion and the Calinski–Harabasz and Davies–Bouldin indices.

    Parameters
    ----------
    x : ndarray of shape (n_samples, d)
        Dense rows.
    labels : ndarray of shape (n_samples,)
        int32 cluster of every row, in 0..k-1.
    k : int
        Number of clusters.
    n_threads : int or None, default=None
        Threads to use.
    device : (int, bool) or None, default=None
        ``(ordinal, tf32)`` of a GPU: float32 rows read there (the same statistics to about
        1e-12); None: the CPU.

    Returns
    -------
    dict
        ``calinski_harabasz``, ``davies_bouldin`` (floats), ``counts`` (k,) int64, ``within_ssd``
        and ``within_distance`` (k,) float64 (Σ||x − mean||² and Σ||x − mean||), ``means`` (k, d) float64.
    """

# A sparse batch: data (float32 or float64), indices (int64), indptr (int64), (n_rows, n_cols).
_SparseBatch = Tuple[npt.NDArray[np.floating[Any]], npt.NDArray[np.int64], npt.NDArray[np.int64], Tuple[int, int]]
_Batch = Union[npt.NDArray[np.floating[Any]], _SparseBatch]
_Path = Union[str, os.PathLike[str]]
# Arrays the writers take: C-contiguous float32, float64 or int32.
_TensorArray = Union[npt.NDArray[np.float32], npt.NDArray[np.float64], npt.NDArray[np.int32]]

class RecordIOError(ValueError):
    """A RecordIO-protobuf input that cannot be read: ``args`` are (message, record index or None).

    ``fastkmeans.io`` turns it into ``fastkmeans.io.RecordIOError``, naming the file.
    """

@final
class RecordIOReader:
    """Reads RecordIO-protobuf records, in batches, from a file (through a buffer) or from bytes.

    Parameters
    ----------
    path : str or os.PathLike
        The file; OSError (FileNotFoundError, ...) when it cannot be opened.
    """

    def __new__(cls, path: _Path) -> RecordIOReader: ...
    @staticmethod
    def from_bytes(data: bytes) -> RecordIOReader:
        """Return a reader of the records held in ``data``."""

    def next_batch(self, batch_rows: int) -> Optional[Tuple[_Batch, int]]:
        """Decode the next whole records, until they hold ``batch_rows`` rows or more (or the input ends).

        Parameters
        ----------
        batch_rows : int
            Rows wanted.

        Returns
        -------
        tuple or None
            ``(batch, first_record)``: an ndarray of shape (n_rows, n_cols) for dense records or a
            ``_SparseBatch`` for sparse ones, and the index (0-based) of the batch's first record;
            None once every record has been read. An input with no byte raises RecordIOError.
        """

    def read_all(self) -> Optional[_Batch]:
        """Decode every record left as one batch (None when none is left); Ctrl-C stops it."""

def write_recordio_dense(path: _Path, x: _TensorArray, labels: Optional[_TensorArray] = None) -> None:
    """Write each row of ``x`` as one record to the new file ``path`` (which must not exist).

    Parameters
    ----------
    path : str or os.PathLike
        The file to create.
    x : ndarray of shape (n_rows, n_cols)
        float32, float64 or int32 rows: Float32Tensor, Float64Tensor or Int32Tensor values.
    labels : ndarray of shape (n_rows,) or None, default=None
        float32, float64 or int32 labels, one per row.
    """

def write_recordio_sparse(
    path: _Path,
    data: _TensorArray,
    indices: npt.NDArray[np.int64],
    indptr: npt.NDArray[np.int64],
    n_cols: int,
    labels: Optional[_TensorArray] = None,
) -> None:
    """Write each row of a CSR matrix as one record (values, keys = columns, shape ``[n_cols]``).

    Parameters
    ----------
    path : str or os.PathLike
        The file to create (it must not exist).
    data : ndarray of shape (nnz,)
        float32, float64 or int32 values.
    indices : ndarray of shape (nnz,)
        int64 column of each value.
    indptr : ndarray of shape (n_rows + 1,)
        int64 offsets of each row's values.
    n_cols : int
        Columns of the matrix.
    labels : ndarray of shape (n_rows,) or None, default=None
        float32, float64 or int32 labels, one per row.
    """

class TextError(ValueError):
    """A request body that cannot be read: ``args`` are (message, kind, line, column, found, cell).

    ``kind`` is ``"no_row"``, ``"fields"`` (``found`` fields on ``line``), ``"not_a_number"`` (the
    bytes ``cell`` at ``line``, ``column``) or ``"non_finite"`` for CSV, ``"json"`` for JSON (the
    other fields None). Lines and columns count from 1.
    """

def parse_csv(body: bytes, n_features: int, label_size: int, float32: bool) -> npt.NDArray[np.floating[Any]]:
    """Parse a ``text/csv`` request body (no header; ``label_size`` leading columns dropped).

    Returns an ndarray of shape (n_rows, n_features), float32 if ``float32`` else float64.
    TextError names the first wrong field count, else the first cell that is not a number, else
    the first row holding NaN or infinity.
    """

def parse_json(
    body: bytes, n_features: int, float32: bool, lines: bool = False
) -> Union[npt.NDArray[np.floating[Any]], Tuple[npt.NDArray[np.floating[Any]], npt.NDArray[np.int32],
                                                npt.NDArray[np.int64], Tuple[int, int]]]:
    """Parse an ``application/json`` (or, with ``lines``, ``application/jsonlines``) request body.

    Returns dense rows of shape (n_rows, n_features), or ``(data, indices, indptr, shape)`` of CSR
    rows (duplicates not summed) when an instance is sparse. Strict: TextError for anything
    Python's ``json`` and NumPy might read differently (a key given twice, booleans, NaN literals,
    integers of 2**53 or more) as well as for malformed bodies.
    """

def write_answers(
    closest_cluster: npt.NDArray[np.int32], distance_to_cluster: npt.NDArray[np.float32], media_type: str
) -> bytes:
    """Return SageMaker's answer body in ``"text/csv"``, ``"application/json"`` or ``"application/jsonlines"``.

    Every number is spelled as Python's ``repr`` of the double (the float32 distance widened).
    """
