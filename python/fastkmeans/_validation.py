"""Input checks and the one conversion of user data into what the Rust core borrows.

The core reads C-contiguous float32 or float64 arrays without copying. Anything else (lists,
Fortran order, integers, booleans, float16, pandas DataFrames) is converted here, once: integers
and booleans to float64, float16 to float32. Every error is a ValueError naming the problem.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from fastkmeans import _core

__all__ = ["NonNumericDataError", "NotFittedError", "as_float_matrix", "feature_names"]

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
    if hasattr(X, "tocsr") or hasattr(X, "toarray"):
        raise TypeError(f"{name} is a sparse matrix; fastkmeans.KMeans needs dense data (use X.toarray()).")
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
    if array.dtype == np.float16:
        array = array.astype(np.float32)
    elif array.dtype not in (np.float32, np.float64):
        array = array.astype(np.float64)
    array = np.ascontiguousarray(array)
    row = _core.first_non_finite_row(array)
    if row is not None:
        raise ValueError(f"Input {name} contains NaN or infinity (first in row {row}).")
    return array
