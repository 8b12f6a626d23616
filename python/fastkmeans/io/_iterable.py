"""An iterable of arrays (in-memory chunks, a generator, a list of DataFrames) as a stream."""

from __future__ import annotations

from typing import Any, Iterable, Iterator

import numpy as np

from fastkmeans._validation import is_sparse
from fastkmeans.io._batch import Batch, DataError, batch_rows, require_finite

__all__ = ["read_iterable"]


def read_iterable(items: Iterable[Any]) -> Iterator[Batch]:
    """Yield every item of ``items`` as a batch of rows.

    Parameters
    ----------
    items : iterable of array-like of shape (n_rows, n_features)
        NumPy arrays, DataFrames, nested lists or ``scipy.sparse`` matrices (which stay sparse).
        Items with no rows are skipped.

    Yields
    ------
    Batch
        The item's rows (float32/float64, converted once if needed), named ``item <i> of the
        iterable`` with 0-based row numbers.
    """
    for index, item in enumerate(items):
        name = f"item {index} of the iterable"
        if not is_sparse(item):
            array = np.asarray(item)
            if array.dtype.kind not in "fiub":
                raise DataError(f"{name} holds {array.dtype} values; expecting numbers.")
            if array.ndim != 2:
                raise DataError(f"{name} has shape {array.shape}; expecting 2-D arrays (rows x features).")
            item = array
        rows = batch_rows(item)
        if rows.shape[0] == 0:
            continue
        batch = Batch(rows, name, 0, "row")
        require_finite(rows, batch.where)
        yield batch
