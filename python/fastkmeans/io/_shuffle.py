"""The shuffle buffer: random mini-batches from a stream, in memory bounded by the buffer.

SageMaker's mini-batches are random subsets of the data. A stream that does not fit in memory
cannot be permuted, so the rows pass through a pool of ``capacity`` rows: once the pool is full,
each mini-batch is ``mini_batch_size`` rows drawn uniformly at random from it, and the next rows
of the stream take their slots. When the stream ends, the rows left in the pool are permuted and
cut into the last mini-batches, so every row is used exactly once per pass.

This is a *local* shuffle. A row leaves the pool after a geometrically distributed wait, about
``capacity`` rows on average, so two rows farther apart in the stream than a few buffer lengths
never meet in a mini-batch, and a file sorted by cluster is seen roughly in order (blurred over
a window of a few ``capacity`` rows) -- the trade-off every streaming shuffle makes (SageMaker's
``ShuffleConfig`` shuffles whole S3 objects, not rows). A stream shorter than the buffer is
permuted completely: an exact shuffle, as for data in memory.

The mini-batches depend only on the sequence of rows and the random generator, not on how the
source cuts the rows into blocks, so a CSV, a .npy and an array give the same batches.

Sparse streams (sparse RecordIO, sparse matrices) keep a sparse pool, drawn from in the same way
(the same rows for the same draws); the default pool is sized by the first block's bytes per row
(values and column indices). Drawing and refilling cost the rows drawn and read, as for dense.
"""

from __future__ import annotations

from typing import Any, Iterator, Optional

import numpy as np

from fastkmeans._validation import as_csr, is_sparse
from fastkmeans.io._batch import Batch

__all__ = ["MAX_BUFFER_BYTES", "MIN_BUFFER_ROWS", "ShuffleBuffer", "default_buffer_rows"]

MIN_BUFFER_ROWS = 50_000
"""Rows in the default buffer, at least (and at least 10 mini-batches)."""
MAX_BUFFER_BYTES = 128 << 20
"""Bytes in the default buffer, at most (but never fewer than 2 mini-batches)."""


def default_buffer_rows(mini_batch_size: int, n_features: int, itemsize: int) -> int:
    """Return the default buffer size: ``max(10 * mini_batch_size, 50,000)`` rows, at most 128 MiB.

    Parameters
    ----------
    mini_batch_size : int
        Rows per mini-batch.
    n_features : int
        Features per row.
    itemsize : int
        Bytes per value (4 or 8).

    Returns
    -------
    int
        Rows in the buffer; never fewer than ``2 * mini_batch_size``.

    Examples
    --------
    >>> from fastkmeans.io import default_buffer_rows
    >>> default_buffer_rows(5000, 50, 8)     # 50,000 rows of 50 float64: 20 MB
    50000
    >>> default_buffer_rows(5000, 784, 8)    # MNIST-sized rows: capped at 128 MiB
    21399
    """
    wanted = max(10 * mini_batch_size, MIN_BUFFER_ROWS)
    cap = max(2 * mini_batch_size, MAX_BUFFER_BYTES // max(1, n_features * itemsize))
    return min(wanted, cap)


class ShuffleBuffer:
    """Random mini-batches of ``batch_rows`` rows from a stream of batches, through a pool of rows.

    Parameters
    ----------
    batches : iterator of Batch
        The stream (all of the same width).
    batch_rows : int
        Rows per mini-batch.
    capacity : int or None
        Rows in the pool; None: ``default_buffer_rows``. A capacity of at most ``batch_rows``
        gives the mini-batches in stream order (no shuffle).
    rng : numpy.random.Generator
        The draws.
    dtype : numpy dtype or None, default=None
        Type of the pool (and mini-batches); None: that of the first batch.

    Examples
    --------
    >>> import numpy as np
    >>> from fastkmeans.io import Batch, ShuffleBuffer
    >>> stream = (Batch(np.arange(i, i + 4, dtype=float).reshape(2, 2), "x", i) for i in range(0, 20, 4))
    >>> buffer = ShuffleBuffer(stream, batch_rows=3, capacity=6, rng=np.random.default_rng(0))
    >>> batches = list(buffer)
    >>> [len(b) for b in batches], buffer.rows_read
    ([3, 3, 3, 1], 10)
    >>> sorted(np.concatenate(batches)[:, 0].tolist()) == list(range(0, 20, 2))
    True
    """

    def __init__(self, batches: Iterator[Batch], *, batch_rows: int, capacity: Optional[int],
                 rng: np.random.Generator, dtype: Optional[np.dtype] = None) -> None:
        self._batches = batches
        self._batch_rows = batch_rows
        self._capacity = capacity
        self._rng = rng
        self._dtype = dtype
        self._size = 0  # rows in the pool; 0 until the first batch is read
        self._sparse = False
        self._pool: Any = None  # the (size x d) pool: an ndarray, or a _SparsePool
        self._pool_dtype = np.dtype(np.float64)  # set from the first batch
        self._n_features = 0
        self._held = 0  # rows in pool[:held] (before the first draw)
        self._pending: Any = None
        self._offset = 0
        self._exhausted = False
        self.rows_read = 0
        """Rows taken from the stream so far."""
        self.first: Optional[Batch] = None
        """The stream's first batch (its name and position), once read."""

    @property
    def capacity(self) -> int:
        """Rows in the pool (known once the first batch is read)."""
        return self._size

    def fill(self) -> Any:
        """Read until the pool is full or the stream ends; return the rows held.

        Returns
        -------
        ndarray or scipy.sparse.csr_matrix of shape (n_held, n_features)
            The pool's rows (a view when dense), for the seeding sample; empty (0 x 0) if the
            stream is empty.
        """
        while not self._exhausted and (self._size == 0 or self._held < self._size):
            rows = self._take(self._size - self._held if self._size else 0)
            if rows is None:
                break
            self._pool[self._held:self._held + rows.shape[0]] = rows
            self._held += rows.shape[0]
        if self._size == 0:
            return np.empty((0, 0))
        return self._pool[:self._held]

    def __iter__(self) -> Iterator[Any]:
        """Yield the mini-batches of one pass in the pool's dtype (C-contiguous, or CSR when sparse)."""
        self.fill()
        if self._size == 0:
            return
        size, b = self._size, self._batch_rows
        in_order = size <= b
        while self._held == size:
            chosen = np.arange(b) if in_order else self._rng.choice(size, b, replace=False)
            yield self._pool[chosen]
            refilled = 0
            while refilled < b:
                rows = self._take(b - refilled)
                if rows is None:
                    break
                self._pool[chosen[refilled:refilled + rows.shape[0]]] = rows
                refilled += rows.shape[0]
            if refilled < b:  # the stream ended: the chosen slots past `refilled` are empty
                keep = np.ones(size, dtype=bool)
                keep[chosen[refilled:]] = False
                yield from self._drain(np.flatnonzero(keep), in_order)
                return
        yield from self._drain(np.arange(self._held), in_order)

    def _drain(self, slots: np.ndarray, in_order: bool) -> Iterator[Any]:
        order = slots if in_order else slots[self._rng.permutation(len(slots))]
        for start in range(0, len(order), self._batch_rows):
            yield self._pool[order[start:start + self._batch_rows]]

    def _take(self, most: int) -> Any:
        """Up to ``most`` next rows of the stream (``most=0``: the first batch, to size the pool); None at its end."""
        while self._pending is None or self._offset >= self._pending.shape[0]:
            batch = next(self._batches, None)
            if batch is None:
                self._exhausted = True
                return None
            if self._size == 0:
                self._start(batch)
            rows = batch.rows
            if self._sparse:
                if not is_sparse(rows):  # an iterable may mix dense and sparse items
                    rows = as_csr(rows)
                rows = rows.astype(self._pool_dtype, copy=False)
            elif is_sparse(rows):
                rows = rows.toarray()
            self._pending, self._offset = rows, 0
        if most == 0:
            return self._pending[:0]
        rows = self._pending[self._offset:self._offset + most]
        self._offset += rows.shape[0]
        self.rows_read += rows.shape[0]
        return rows

    def _start(self, batch: Batch) -> None:
        self.first = batch
        rows = batch.rows
        n_features = self._n_features = rows.shape[1]
        self._sparse = is_sparse(rows)
        dtype = np.dtype(self._dtype if self._dtype is not None else rows.dtype)
        self._pool_dtype = dtype
        capacity = self._capacity
        if capacity is None:
            # A sparse row costs its values and their int32 column indices: size the pool by that.
            width = n_features
            if self._sparse:
                per_row = rows.nnz / max(1, rows.shape[0])
                width = max(1, int(np.ceil(per_row * (dtype.itemsize + 4) / dtype.itemsize)))
            capacity = default_buffer_rows(self._batch_rows, width, dtype.itemsize)
        self._size = max(capacity, self._batch_rows)
        if self._sparse:
            self._pool = _SparsePool(self._size, n_features, dtype)
        else:
            self._pool = np.empty((self._size, n_features), dtype=dtype)


class _SparsePool:
    """A pool of sparse rows, indexed like the dense pool.

    ``pool[slots]`` reads rows (a CSR matrix), ``pool[slots] = rows`` replaces them. The rows live
    in append-only CSR arrays, and each slot names its row there, so replacing rows costs the new
    rows only and reading costs the rows read, however large the pool. Once the arrays hold twice
    the pool's rows, the live rows are copied out (amortised O(1) per row).
    """

    def __init__(self, size: int, n_features: int, dtype: np.dtype) -> None:
        import scipy.sparse

        self._csr = scipy.sparse.csr_matrix
        self._shape = (size, n_features)
        # One index type for offsets and columns, so that scipy never converts (copies) them.
        self._index = np.dtype(np.int32 if n_features < 2**31 else np.int64)
        self._most_values = 2**31 - 1 if n_features < 2**31 else 2**63 - 1
        self._data = np.empty(1024, dtype)
        self._indices = np.empty(1024, self._index)
        self._indptr = np.zeros(2 * size + 2, self._index)
        self._rows = 0
        self._slots = np.zeros(size, np.int64)  # the row of every slot

    def __getitem__(self, slots: Any) -> Any:
        nnz = int(self._indptr[self._rows])
        rows = self._csr((self._data[:nnz], self._indices[:nnz], self._indptr[:self._rows + 1]),
                         shape=(self._rows, self._shape[1]), copy=False)
        return rows[self._slots[slots]]

    def __setitem__(self, slots: Any, rows: Any) -> None:
        n = rows.shape[0]
        if self._rows + n > 2 * self._shape[0]:
            self._compact()
        start, nnz = int(self._indptr[self._rows]), rows.nnz
        if start + nnz > self._most_values:
            raise ValueError(f"the sparse shuffle buffer would hold more than {self._most_values} values; "
                             "open the source with a smaller shuffle_buffer_rows.")
        if start + nnz > len(self._data):
            grown = max(2 * len(self._data), start + nnz)
            self._data = np.concatenate([self._data[:start], np.empty(grown - start, self._data.dtype)])
            self._indices = np.concatenate([self._indices[:start], np.empty(grown - start, self._index)])
        first = rows.indptr[0]
        self._data[start:start + nnz] = rows.data[first:first + nnz]
        self._indices[start:start + nnz] = rows.indices[first:first + nnz]
        self._indptr[self._rows + 1:self._rows + n + 1] = rows.indptr[1:] - first + start
        self._slots[slots] = np.arange(self._rows, self._rows + n)
        self._rows += n

    def _compact(self) -> None:
        """Keep only the rows that slots name, in slot order."""
        live = self[np.arange(self._shape[0])]
        nnz = live.nnz
        self._data[:nnz] = live.data
        self._indices[:nnz] = live.indices
        self._indptr[:self._shape[0] + 1] = live.indptr
        self._rows = self._shape[0]
        self._slots = np.arange(self._shape[0])
