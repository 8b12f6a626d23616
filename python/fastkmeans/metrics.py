"""How good is a clustering: SageMaker's losses and scikit-learn's cluster-quality indices, in the Rust core.

``ssd`` and ``msd`` are SageMaker's ``test:ssd`` / ``test:msd`` (squared distances of rows to their
closest centres). ``silhouette_samples``, ``silhouette_score``, ``calinski_harabasz_score`` and
``davies_bouldin_score`` are defined exactly as in ``sklearn.metrics`` (Euclidean distances) and
agree with it to about 1e-12 relative; they are computed in the multithreaded Rust core, blocked,
in memory O(n + k) beyond the data, and give the same bits on any number of threads.

The silhouette is O(n² d): exact up to a few hundred thousand rows. Past that,
``silhouette_score(..., sample_size=m)`` (or ``silhouette_estimate``) computes the exact silhouette
of m random rows (against all n rows) and returns their mean: an unbiased estimate whose standard
error ``silhouette_estimate`` reports.

Labels may be any values (ints, strings): they are encoded to 0..k-1 as scikit-learn does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional, Tuple

import numpy as np

from fastkmeans import _core, _device
from fastkmeans._validation import as_float_matrix, as_float_rows, core_rows, is_sparse

__all__ = ["SilhouetteEstimate", "calinski_harabasz_score", "davies_bouldin_score", "msd", "silhouette_estimate",
           "silhouette_samples", "silhouette_score", "ssd"]


def ssd(X: Any, centers: Any, sample_weight: Any = None, *, n_threads: Optional[int] = None) -> float:
    """Return the sum of squared distances of the rows of ``X`` to their closest centres (SageMaker's ssd).

    Parameters
    ----------
    X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
        Data.
    centers : array-like of shape (k, n_features)
        Centres (a fitted model's ``cluster_centers_``).
    sample_weight : array-like of shape (n_samples,) or None, default=None
        Non-negative row weights; None weighs every row 1.
    n_threads : int or None, default=None
        Threads for the core; None uses every core.

    Returns
    -------
    float
        Σ w · ||x − closest centre||², accumulated in float64.

    Examples
    --------
    >>> from fastkmeans.metrics import ssd, msd
    >>> X = [[0.0, 0.0], [0.0, 2.0], [10.0, 10.0]]
    >>> ssd(X, [[0.0, 1.0], [10.0, 10.0]]), msd(X, [[0.0, 1.0], [10.0, 10.0]])
    (2.0, 0.6666666666666666)
    """
    return _loss(X, centers, sample_weight, n_threads)[0]


def msd(X: Any, centers: Any, sample_weight: Any = None, *, n_threads: Optional[int] = None) -> float:
    """Return the (weighted) mean squared distance of the rows of ``X`` to their closest centres (SageMaker's msd).

    Parameters
    ----------
    X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
        Data.
    centers : array-like of shape (k, n_features)
        Centres.
    sample_weight : array-like of shape (n_samples,) or None, default=None
        Non-negative row weights; None weighs every row 1.
    n_threads : int or None, default=None
        Threads for the core.

    Returns
    -------
    float
        ssd / Σ w (0 when the weights sum to 0).
    """
    return _loss(X, centers, sample_weight, n_threads)[1]


def _loss(X: Any, centers: Any, sample_weight: Any, n_threads: Optional[int]) -> Tuple[float, float]:
    rows = as_float_rows(X)
    centers = as_float_matrix(centers, name="centers").astype(rows.dtype, copy=False)
    if centers.shape[1] != rows.shape[1]:
        raise ValueError(f"X has {rows.shape[1]} features, but centers has {centers.shape[1]}.")
    weights = None
    if sample_weight is not None:
        weights = np.ascontiguousarray(sample_weight, dtype=np.float64)
        if weights.shape != (rows.shape[0],):
            raise ValueError(f"sample_weight has shape {weights.shape}, but X has {rows.shape[0]} rows.")
    total_ssd, mean_sd, _ = _core.loss(core_rows(rows), np.ascontiguousarray(centers), weights, n_threads=n_threads)
    return float(total_ssd), float(mean_sd)


def _encode(X: Any, labels: Any, *, sparse_ok: bool, name: str) -> Tuple[Any, np.ndarray, int]:
    """Return checked rows, labels encoded to 0..k-1 (int32) and k; refuse a label count outside 2..n-1."""
    if is_sparse(X) and not sparse_ok:
        raise TypeError(f"{name} takes dense X, as scikit-learn's does; got a sparse matrix "
                        "(use X.toarray() if it fits in memory).")
    rows = as_float_rows(X)
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != rows.shape[0]:
        raise ValueError(f"labels has shape {labels.shape}, but X has {rows.shape[0]} rows: one label per row "
                         "is required.")
    _, codes = np.unique(labels, return_inverse=True)
    k = int(codes.max()) + 1 if codes.size else 0
    n = rows.shape[0]
    if not 1 < k < n:
        raise ValueError(f"Number of labels is {k}. Valid values are 2 to n_samples - 1 (inclusive)")
    return rows, np.ascontiguousarray(codes.reshape(-1), dtype=np.int32), k


def silhouette_samples(X: Any, labels: Any, *, n_threads: Optional[int] = None, device: str = "cpu") -> np.ndarray:
    """Return the silhouette of every row, exactly (Euclidean, as ``sklearn.metrics.silhouette_samples``).

    ``s = (b − a) / max(a, b)``, with ``a`` the mean distance of the row to the other rows of its
    cluster and ``b`` the smallest mean distance to the rows of another cluster; 0 for a row alone
    in its cluster. For dense rows, the clusters that provably cannot give a row its ``b`` (by
    bounds on its mean distance to each cluster) are skipped, so separated clusters cost a fraction
    of the n² distances; the values are the same (see docs/evaluation.md). With ``device="cuda"``,
    float32 dense rows are measured on the GPU, every pair from float64 GEMM tiles: the same values
    to about 1e-12 (docs/gpu.md).

    Parameters
    ----------
    X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
        Data (sparse stays sparse).
    labels : array-like of shape (n_samples,)
        Cluster of every row (any values); between 2 and n_samples - 1 distinct ones.
    n_threads : int or None, default=None
        Threads for the core.
    device : {"cpu", "cuda", "cuda:N", "auto"}, default="cpu"
        Where the distances are computed (as ``KMeans(device=...)``): float32 dense rows on a GPU,
        other rows on the CPU.

    Returns
    -------
    ndarray of shape (n_samples,)
        float64 silhouette values in [-1, 1].

    Examples
    --------
    >>> from fastkmeans.metrics import silhouette_samples
    >>> print(silhouette_samples([[0.0], [1.0], [10.0], [11.0]], [0, 0, 1, 1]).round(4))
    [0.9048 0.8947 0.8947 0.9048]
    """
    rows, codes, k = _encode(X, labels, sparse_ok=True, name="silhouette_samples")
    values: np.ndarray = _core.silhouette_samples(core_rows(rows), codes, k, n_threads=n_threads,
                                                  device=_device.resolve(device))
    return values


@dataclass(frozen=True)
class SilhouetteEstimate:
    """A silhouette score estimated from a random sample of rows.

    Attributes
    ----------
    score : float
        Mean exact silhouette of the sampled rows (each against all rows): an unbiased estimate of
        the silhouette score of all rows.
    standard_error : float
        Its standard error: ``std(s) / sqrt(m) * sqrt(1 - m / n)`` (sampling without replacement).
        The true score lies within ``score ± 1.96 * standard_error`` about 95% of the time.
    sample_size : int
        Rows sampled (m).
    n_samples : int
        Rows in the data (n).
    """

    score: float
    standard_error: float
    sample_size: int
    n_samples: int

    @property
    def interval(self) -> Tuple[float, float]:
        """The 95% confidence interval ``score ± 1.96 * standard_error``."""
        return self.score - 1.96 * self.standard_error, self.score + 1.96 * self.standard_error


def silhouette_estimate(X: Any, labels: Any, sample_size: int, *, random_state: Any = None,
                        n_threads: Optional[int] = None, device: str = "cpu") -> SilhouetteEstimate:
    """Estimate the silhouette score from ``sample_size`` random rows, with its error bar.

    The sampled rows get their exact silhouette against all n rows (O(m n d) work instead of
    O(n² d)); their mean is an unbiased estimate of the score, with standard error
    ``std(s) / sqrt(m) * sqrt(1 - m / n)``. Rows are drawn as scikit-learn draws them
    (``RandomState(random_state).permutation(n)[:sample_size]``). scikit-learn's own
    ``sample_size`` computes the silhouette *within* the sample instead (each sampled row against
    the other sampled rows only), which is noisier and biased for small samples.

    Parameters
    ----------
    X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
        Data.
    labels : array-like of shape (n_samples,)
        Cluster of every row.
    sample_size : int
        Rows to sample, 2 or more; all rows (an exact score, error 0) when it is n or more.
    random_state : int, RandomState instance or None, default=None
        Seed of the sample.
    n_threads : int or None, default=None
        Threads for the core.
    device : {"cpu", "cuda", "cuda:N", "auto"}, default="cpu"
        Where the distances are computed (as ``KMeans(device=...)``): float32 dense rows on a GPU,
        other rows on the CPU.

    Returns
    -------
    SilhouetteEstimate
        The estimate, its standard error and the sample size.
    """
    rows, codes, k = _encode(X, labels, sparse_ok=True, name="silhouette_estimate")
    n = rows.shape[0]
    if isinstance(sample_size, bool) or not isinstance(sample_size, (int, np.integer)) or sample_size < 2:
        raise ValueError(f"sample_size must be an integer of at least 2, not {sample_size!r}.")
    m = min(int(sample_size), n)
    rng = random_state if isinstance(random_state, np.random.RandomState) else np.random.RandomState(random_state)
    chosen = np.ascontiguousarray(np.sort(rng.permutation(n)[:m]), dtype=np.int64)
    values = _core.silhouette_samples(core_rows(rows), codes, k, chosen, n_threads=n_threads,
                                      device=_device.resolve(device))
    fraction_left = 1.0 - m / n
    error = float(np.std(values, ddof=1) / math.sqrt(m) * math.sqrt(fraction_left)) if m < n else 0.0
    return SilhouetteEstimate(float(np.mean(values)), error, m, n)


def silhouette_score(X: Any, labels: Any, *, sample_size: Optional[int] = None, random_state: Any = None,
                     n_threads: Optional[int] = None, device: str = "cpu") -> float:
    """Return the mean silhouette of all rows (exact), or its estimate from ``sample_size`` rows.

    Without ``sample_size`` this equals ``sklearn.metrics.silhouette_score(X, labels)``. With it,
    it is ``silhouette_estimate(X, labels, sample_size).score`` (see there: each sampled row
    against all rows, unbiased, with a standard error).

    Parameters
    ----------
    X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
        Data.
    labels : array-like of shape (n_samples,)
        Cluster of every row.
    sample_size : int or None, default=None
        Estimate from this many random rows; None computes every row's silhouette.
    random_state : int, RandomState instance or None, default=None
        Seed of the sample.
    n_threads : int or None, default=None
        Threads for the core.
    device : {"cpu", "cuda", "cuda:N", "auto"}, default="cpu"
        Where the distances are computed (as ``KMeans(device=...)``): float32 dense rows on a GPU,
        other rows on the CPU.

    Returns
    -------
    float
        The silhouette score, in [-1, 1].

    Examples
    --------
    >>> from fastkmeans.metrics import silhouette_score
    >>> round(silhouette_score([[0.0], [1.0], [10.0], [11.0]], [0, 0, 1, 1]), 4)
    0.8997
    """
    if sample_size is not None:
        return silhouette_estimate(X, labels, sample_size, random_state=random_state, n_threads=n_threads,
                                   device=device).score
    return float(np.mean(silhouette_samples(X, labels, n_threads=n_threads, device=device)))


def _silhouette_pairs(X: Any, labels: Any, *, n_threads: Optional[int] = None) -> Tuple[int, int]:
    """Distances the exact silhouette of dense ``X`` computes after pruning, and the n (n - 1) / 2 pairs."""
    rows, codes, k = _encode(X, labels, sparse_ok=False, name="silhouette_pairs")
    return _core.silhouette_pairs(rows, codes, k, n_threads=n_threads)


def _dispersion(X: Any, labels: Any, name: str, n_threads: Optional[int], device: str) -> Any:
    rows, codes, k = _encode(X, labels, sparse_ok=False, name=name)
    return _core.dispersion(rows, codes, k, n_threads=n_threads, device=_device.resolve(device))


def calinski_harabasz_score(X: Any, labels: Any, *, n_threads: Optional[int] = None, device: str = "cpu") -> float:
    """Return the Calinski–Harabasz index (variance ratio), as ``sklearn.metrics.calinski_harabasz_score``.

    ``[Σ_c n_c ||μ_c − μ||² / (k − 1)] / [Σ_i ||x_i − μ_{c(i)}||² / (n − k)]``: higher is better.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Dense data.
    labels : array-like of shape (n_samples,)
        Cluster of every row.
    n_threads : int or None, default=None
        Threads for the core.
    device : {"cpu", "cuda", "cuda:N", "auto"}, default="cpu"
        Where the rows are read (as ``KMeans(device=...)``): float32 rows on a GPU (two passes;
        the same value to about 1e-12, docs/gpu.md), other rows on the CPU.

    Returns
    -------
    float
        The index (1.0 when every row sits on its cluster's mean).

    Examples
    --------
    >>> from fastkmeans.metrics import calinski_harabasz_score
    >>> calinski_harabasz_score([[0.0, 1.0], [0.0, -1.0], [10.0, 1.0], [10.0, -1.0]], [0, 0, 1, 1])
    50.0
    """
    return float(_dispersion(X, labels, "calinski_harabasz_score", n_threads, device)["calinski_harabasz"])


def davies_bouldin_score(X: Any, labels: Any, *, n_threads: Optional[int] = None, device: str = "cpu") -> float:
    """Return the Davies–Bouldin index, as ``sklearn.metrics.davies_bouldin_score``.

    The mean over clusters of ``max_{j ≠ i} (S_i + S_j) / ||μ_i − μ_j||``, where ``S_i`` is the
    mean distance of cluster i's rows to its mean: lower is better, 0 is the least.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Dense data.
    labels : array-like of shape (n_samples,)
        Cluster of every row.
    n_threads : int or None, default=None
        Threads for the core.
    device : {"cpu", "cuda", "cuda:N", "auto"}, default="cpu"
        Where the rows are read (as ``KMeans(device=...)``): float32 rows on a GPU (two passes;
        the same value to about 1e-12, docs/gpu.md), other rows on the CPU.

    Returns
    -------
    float
        The index.

    Examples
    --------
    >>> from fastkmeans.metrics import davies_bouldin_score
    >>> davies_bouldin_score([[0.0, 1.0], [0.0, -1.0], [10.0, 1.0], [10.0, -1.0]], [0, 0, 1, 1])
    0.2
    """
    return float(_dispersion(X, labels, "davies_bouldin_score", n_threads, device)["davies_bouldin"])
