"""A Dask array or DataFrame as a list of partitions, and the checks each partition gets on its worker."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional

import numpy as np

from fastkmeans._validation import as_float_rows, feature_names, float_dtype

__all__ = ["Partitions", "aligned", "aligned_rows", "as_dask_array", "partition_rows", "partitions", "seed_for",
           "sizeof"]


@dataclass
class Partitions:
    """The partitions of a Dask collection, as Dask delayed objects, with what the client knows of them."""

    blocks: List[Any]
    """One ``dask.delayed`` object per partition: its rows as given (ndarray, DataFrame, ...)."""
    n_features: int
    dtype: np.dtype
    """float32 or float64: what the core computes in."""
    names: Optional[np.ndarray]
    """DataFrame column names (all strings), else None."""


def partitions(X: Any) -> Partitions:
    """Return the partitions of a 2-D Dask array (chunked along rows only) or of a Dask DataFrame."""
    import dask.array as da

    if isinstance(X, da.Array):
        if X.ndim != 2:
            raise ValueError(f"Expected a 2-D Dask array, got {X.ndim}-D of shape {X.shape}.")
        if np.isnan(X.shape[1]):
            raise ValueError("The Dask array's number of columns is unknown; call compute_chunk_sizes() first.")
        if X.numblocks[1] != 1:  # every partition must hold whole rows
            X = X.rechunk({1: -1})
        _require_numeric(X.dtype, "X")
        return Partitions(list(X.to_delayed().ravel()), int(X.shape[1]), float_dtype(X.dtype), None)
    columns = getattr(X, "columns", None)
    if columns is None or not hasattr(X, "to_delayed"):
        raise TypeError(f"Expected a Dask array or a Dask DataFrame, not {type(X).__name__}.")
    dtypes = list(X.dtypes)
    for name, dtype in zip(columns, dtypes):
        _require_numeric(dtype, f"column {name!r}")
    dtype = float_dtype(np.result_type(*[getattr(d, "numpy_dtype", d) for d in dtypes])) if dtypes else np.dtype(
        np.float64)
    return Partitions(list(X.to_delayed()), len(columns), dtype, feature_names(X))


def as_dask_array(X: Any) -> Any:
    """Return a Dask DataFrame's values as a Dask array of the same partitions; a Dask array as it is."""
    import dask.array as da

    if isinstance(X, da.Array):
        if X.ndim != 2:
            raise ValueError(f"Expected a 2-D Dask array, got {X.ndim}-D of shape {X.shape}.")
        return X.rechunk({1: -1}) if X.numblocks[1] != 1 else X
    partitions(X)  # checks the columns
    return X.to_dask_array()


def _require_numeric(dtype: Any, what: str) -> None:
    if getattr(dtype, "kind", "O") not in "fiub":  # pandas' extension dtypes have a kind too
        raise ValueError(f"{what} has dtype {dtype}, not numbers: KMeans needs numeric data.")


def partition_rows(block: Any, index: int, dtype: np.dtype) -> Optional[Any]:
    """Return a partition's rows checked and converted for the core, on its worker; None if it is empty.

    Finite numbers only: an ndarray, or CSR when sparse.

    Errors name the partition; partitions from ``fastkmeans.dask.read`` have been checked already
    by the reader, whose errors name the file and line.
    """
    if getattr(block, "shape", (1,))[0] == 0:
        return None
    if hasattr(block, "indptr"):  # a CSR block sent from the client arrives in network buffers, maybe unaligned
        block = aligned_rows(block)
    rows = as_float_rows(block, name=f"partition {index}")
    converted: np.ndarray = rows.astype(dtype) if hasattr(rows, "toarray") else np.ascontiguousarray(rows, dtype=dtype)
    return converted


def aligned(value: Any) -> Any:
    """``value`` with every array in it (or in a dict or list of it) C-contiguous and aligned.

    Dask rebuilds the arrays it moves on top of the received bytes, where they may start at any
    address; the core borrows only aligned arrays, so those are copied (they are small: centres,
    counts, sums).
    """
    if isinstance(value, np.ndarray):
        return np.require(value, None, ["C_CONTIGUOUS", "ALIGNED"])
    if isinstance(value, dict):
        return {key: aligned(item) for key, item in value.items()}
    if isinstance(value, list):
        return [aligned(item) for item in value]
    return value


def aligned_rows(rows: Any) -> Any:
    """Return checked rows (ndarray or CSR) aligned for the core: copied when Dask moved them between workers."""
    if hasattr(rows, "indptr"):
        parts = (rows.data, rows.indices, rows.indptr)
        return rows if all(p.flags.aligned for p in parts) else rows.copy()
    return aligned(rows)


def seed_for(seed: int, *key: int) -> int:
    """Return a 64-bit seed for one partition's random stream: a function of the fit's seed and ``key`` only.

    ``key`` holds the purpose, the partition's index and the epoch, so a task that Dask retries
    draws the same numbers, whichever worker runs it.
    """
    return int(np.random.SeedSequence([seed % 2**64, *key]).generate_state(1, dtype=np.uint64)[0])


def sizeof(value: Any) -> int:
    """Bytes of a task's result or argument, as Dask counts them when it moves it."""
    from dask.sizeof import sizeof as dask_sizeof

    return int(dask_sizeof(value))
