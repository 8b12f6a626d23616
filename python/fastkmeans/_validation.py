"""Input checks and the one conversion of user data into what the Rust core borrows.

The core reads C-contiguous float32 or float64 arrays without copying. Anything else (lists,
Fortran order, integers, booleans, float16, pandas DataFrames) is converted here, once: integers
and booleans to float64, float16 to float32. Every error is a ValueError naming the problem.

Sparse matrices (any ``scipy.sparse`` format) stay sparse: they become CSR with float32/float64
values and duplicate entries summed, and the core computes on them sparse x dense.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Optional, Tuple, Union

import numpy as np

from fastkmeans import _core

__all__ = ["MAX_SPARSE_FEATURES", "NonNumericDataError", "NotFittedError", "as_csr", "as_float_matrix", "as_float_rows",
           "check_centers_fit", "core_rows", "feature_names", "float_dtype", "is_sparse", "take_rows"]

try:  # scikit-learn is optional; when present its NotFittedError is the one users catch.
    from sklearn.exceptions import NotFittedError
except ImportError:  # pragma: no cover - exercised in the no-sklearn CI job

    class NotFittedError(ValueError, AttributeError):  # type: ignore[no-redef]
        """Raised when an estimator is used before ``fit``.

        ``fastkmeans.NotFittedError`` is scikit-learn's ``sklearn.exceptions.NotFittedError``
        when scikit-learn is installed, and this stand-in otherwise; both are a ``ValueError``
        and an ``AttributeError``.

        Examples
        --------
        >>> from fastkmeans import KMeans, NotFittedError
        >>> try:
        ...     KMeans(k=2).predict([[0.0, 1.0]])
        ... except NotFittedError as error:
        ...     print(error)
        This KMeans instance is not fitted yet. Call 'fit' with appropriate arguments before using this estimator.
        """


class NonNumericDataError(ValueError, TypeError):
    """Data holding values that are not numbers.

    A ValueError (a bad value) and, as NumPy and scikit-learn raise for objects that cannot be
    converted at all, a TypeError too, so that either ``except`` catches it.
    """


def feature_names(X: Any) -> Optional[np.ndarray]:
    """Column names of a DataFrame-like ``X`` when they are all strings, else None."""
    columns = getattr(X, "columns", None)
    if columns is None:
        return None
    names = np.asarray(list(columns), dtype=object)
    if len(names) and all(isinstance(name, str) for name in names):
        return names
    return None


def is_sparse(X: Any) -> bool:
    """Whether ``X`` is a scipy.sparse matrix or array."""
    try:
        import scipy.sparse
    except ImportError:  # pragma: no cover - without scipy nothing is a scipy matrix
        return False
    return bool(scipy.sparse.issparse(X))


def as_float_rows(X: Any, *, name: str = "X") -> Any:
    """Return ``X`` checked and converted for the core: dense as ``as_float_matrix``, sparse as CSR.

    Parameters
    ----------
    X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
        Data.
    name : str
        How the data is called in error messages.

    Returns
    -------
    ndarray or scipy.sparse.csr_matrix of shape (n_samples, n_features)
        Finite, non-empty float32/float64 rows; a sparse input stays sparse (CSR, no duplicates).
    """
    if isinstance(X, np.ndarray) or not is_sparse(X):
        return as_float_matrix(X, name=name)
    import scipy.sparse

    if len(X.shape) != 2:
        raise ValueError(f"Expected 2D array, got {len(X.shape)}D array instead: {name} has shape {X.shape}.")
    if X.dtype.kind == "c":
        raise ValueError(f"Complex data not supported: {name} has dtype {X.dtype}.")
    if X.dtype.kind not in "fiub":
        raise NonNumericDataError(f"{name} is a sparse matrix of dtype {X.dtype}, not of numbers.")
    csr = scipy.sparse.csr_matrix(X)
    n_samples, n_features = csr.shape
    if n_samples == 0:
        raise ValueError(f"Found array with 0 sample(s) (shape={csr.shape}) while a minimum of 1 is required.")
    if n_features == 0:
        raise ValueError(f"Found array with 0 feature(s) (shape={csr.shape}) while a minimum of 1 is required.")
    if n_features > MAX_SPARSE_FEATURES:
        raise ValueError(f"{name} has {n_features} features; at most {MAX_SPARSE_FEATURES} are supported.")
    csr = as_csr(csr)
    row = _core.first_non_finite_row(core_rows(csr))
    if row is not None:
        raise ValueError(f"Input {name} contains NaN or infinity (first in row {row}).")
    return csr


# The float types the core computes in.
_CORE_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def float_dtype(dtype: Any) -> np.dtype:
    """Return the float type the core computes in for data of ``dtype``.

    float32 and float64 stay as they are, float16 becomes float32, anything else float64.
    """
    dtype = np.dtype(dtype)
    if dtype == np.float16:
        return np.dtype(np.float32)
    return dtype if dtype in _CORE_DTYPES else np.dtype(np.float64)


def as_csr(X: Any) -> Any:
    """Return a scipy.sparse matrix as CSR with ``float_dtype`` values and duplicates summed.

    The caller's matrix is never modified: duplicates are summed in a copy.
    """
    import scipy.sparse

    csr = scipy.sparse.csr_matrix(X)
    csr = csr.astype(float_dtype(csr.dtype), copy=False)
    if not csr.has_canonical_format:
        csr = csr.copy()
        csr.sum_duplicates()
    return csr


SparseArgs = Tuple[np.ndarray, np.ndarray, np.ndarray, int]

MAX_SPARSE_FEATURES = 2**31 - 1
"""The most features a sparse matrix may have (the core's column indices are int32)."""


def check_centers_fit(n_centers: int, n_features: int, itemsize: int, *, what: str) -> None:
    """Raise a ValueError when ``n_centers`` dense centres of ``n_features`` cannot fit in memory.

    Dense data already holds n_samples x n_features values, but a sparse matrix of millions of
    features can be small while its centres are not: each centre is dense, and training keeps the
    centres, a transposed or packed copy and float64 sums (about ``2 * itemsize + 8`` bytes per
    value). Refusing up front gives an error that names the numbers instead of a failed allocation.

    Parameters
    ----------
    n_centers : int
        Centres kept during training (K for the web-scale trainer, k for Lloyd).
    n_features : int
        Features per row.
    itemsize : int
        Bytes per value of the data (4 or 8).
    what : str
        How the centres are called in the message, e.g. ``"k * extra_center_factor = 80"``.
    """
    needed = n_centers * n_features * (2 * itemsize + 8)
    available = _physical_memory()
    if available is not None and needed > available:
        raise ValueError(f"{what} centres of {n_features} features need about {needed / 1e9:.3g} GB while training, "
                         f"more than this machine's {available / 1e9:.3g} GB of memory; use fewer features or "
                         "a smaller k.")


@functools.lru_cache(maxsize=None)
def _physical_memory() -> Optional[int]:
    """Return the machine's memory in bytes (None where sysconf cannot say), asked once, not at every fit."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - platforms without sysconf
        return None


def core_rows(X: Any) -> Union[np.ndarray, SparseArgs]:
    """Return checked rows as the core takes them: the array, or a CSR matrix's arrays.

    Parameters
    ----------
    X : ndarray or scipy.sparse.csr_matrix
        Rows from ``as_float_rows``.

    Returns
    -------
    ndarray or tuple
        The array itself, or ``(data, indices, indptr, n_features)`` with int32 column indices and
        int64 row offsets (the core's CSR layout; usually a copy of ``indptr`` only).
    """
    if not is_sparse(X):
        return np.asarray(X)
    if X.shape[1] > MAX_SPARSE_FEATURES:  # the core's column indices are int32: never wrap them
        raise ValueError(f"the sparse data has {X.shape[1]} features; at most {MAX_SPARSE_FEATURES} are supported.")
    return (np.ascontiguousarray(X.data), np.ascontiguousarray(X.indices, dtype=np.int32),
            np.ascontiguousarray(X.indptr, dtype=np.int64), int(X.shape[1]))


def take_rows(X: Any, rows: Union[slice, np.ndarray]) -> Any:
    """Return the rows ``rows`` of checked data (C-contiguous when dense, CSR when sparse)."""
    if is_sparse(X):
        return X[rows]
    return np.ascontiguousarray(X[rows])


def as_float_matrix(X: Any, *, name: str = "X") -> np.ndarray:
    """Return ``X`` as a finite, non-empty, C-contiguous float32/float64 2-D array.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Data: a NumPy array, a nested list, a pandas DataFrame, ... Sparse matrices are refused.
    name : str
        How the data is called in error messages.

    Returns
    -------
    ndarray of shape (n_samples, n_features)
        ``X`` itself when it is already C-contiguous float32/float64, else a converted copy.
    """
    array = X if _core_ready(X) else _converted(X, name)
    row = _core.first_non_finite_row(array)
    if row is not None:
        raise ValueError(f"Input {name} contains NaN or infinity (first in row {row}).")
    return array


def _core_ready(X: Any) -> bool:
    """Whether ``X`` is already what the core takes, so that only its values are left to check.

    A non-empty, C-contiguous, aligned float32/float64 matrix: the common case, which a fit of a
    small table would otherwise spend some 100 µs of its first call after an idle pause checking.
    """
    return (type(X) is np.ndarray and X.ndim == 2 and X.dtype in _CORE_DTYPES and X.shape[0] > 0
            and X.shape[1] > 0 and X.flags.c_contiguous and X.flags.aligned)


def _converted(X: Any, name: str) -> np.ndarray:
    """``X`` checked and converted as ``as_float_matrix`` returns it, but for the values' finiteness."""
    if hasattr(X, "tocsr") or hasattr(X, "toarray"):
        raise TypeError(f"{name} is a sparse matrix; as_float_matrix is for dense data (use as_float_rows).")
    try:
        array = np.asarray(X)
    except (ValueError, TypeError) as exc:  # ragged nested lists and the like
        raise ValueError(f"{name} cannot be read as a 2-D numeric array: {exc}") from None
    if np.iscomplexobj(array):
        raise ValueError(f"Complex data not supported: {name} has dtype {array.dtype}.")
    if array.dtype.kind not in "fiub":
        try:
            array = array.astype(np.float64)
        except (ValueError, TypeError) as exc:
            raise NonNumericDataError(f"{name} contains non-numeric values ({exc}).") from None
    if array.ndim != 2:
        hint = " Reshape your data either using array.reshape(-1, 1) if it has a single feature or " \
               "array.reshape(1, -1) if it contains a single sample." if array.ndim == 1 else ""
        raise ValueError(f"Expected 2D array, got {array.ndim}D array instead: {name} has shape {array.shape}.{hint}")
    n_samples, n_features = array.shape
    if n_samples == 0:
        raise ValueError(f"Found array with 0 sample(s) (shape={array.shape}) while a minimum of 1 is required.")
    if n_features == 0:
        raise ValueError(f"Found array with 0 feature(s) (shape={array.shape}) while a minimum of 1 is required.")
    # Aligned too: arrays rebuilt from a network buffer (Dask moves partitions so) may start at any byte.
    return np.require(array, float_dtype(array.dtype), ["C_CONTIGUOUS", "ALIGNED"])
