"""RecordIO-protobuf, SageMaker's training format: read in batches, written as the SDK writes it.

A file is a sequence of RecordIO records (dmlc-core's framing: magic ``0xced7230a``, length,
continuation flags, padding to 4 bytes), each holding one ``aialgs.data.Record`` protobuf message
whose ``features["values"]`` tensor is a row (or rows) of data. The decoding runs in Rust
(``fastkmeans._core``, crate fastkmeans-io) with the GIL released.

What is read:

- ``Float32Tensor`` values as float32; ``Float64Tensor`` and ``Int32Tensor`` values as float64
  (exact for every int32).
- A tensor without keys is a dense row (no shape, or shape ``[n_cols]``) or ``r`` dense rows
  (shape ``[r, n_cols]``, row-major). A tensor with keys is a sparse row (shape ``[n_cols]``,
  key = column), or ``r`` sparse rows (shape ``[r, n_cols]``, key = ``row * n_cols + column`` as
  sagemaker-spark writes them). The first record decides whether the file reads as a dense array
  or as a ``scipy.sparse.csr_matrix``; every record must agree on the dtype and on ``n_cols``.
- Labels and other features are skipped: k-means needs no label.
- Records split with continuation flags (as MXNet's dmlc-core writes records that contain the
  magic number) are joined again.
"""

from __future__ import annotations

import os
import secrets
import sys
from typing import TYPE_CHECKING, Any, Iterator, Optional, Tuple, Union

import numpy as np

from fastkmeans import _core

if TYPE_CHECKING:  # SciPy is needed only for sparse data, and imported only then.
    import scipy.sparse

__all__ = ["RecordIOError", "iter_recordio", "read_recordio", "write_recordio"]

# A file name: str or os.PathLike[str].
_Path = Union[str, "os.PathLike[str]"]
_Matrix = Union[np.ndarray, "scipy.sparse.csr_matrix"]

_INT32_MIN, _INT32_MAX = np.iinfo(np.int32).min, np.iinfo(np.int32).max


class RecordIOError(ValueError):
    """A RecordIO-protobuf file that cannot be read.

    The message names the file, the record at fault (0-based, with its byte offset) and what is
    wrong: a bad magic number, a length past the end of the file, a corrupted protobuf message,
    no ``"values"`` feature, a tensor of another type or width than the records before it, a
    sparse key outside the shape, or an empty file.

    Parameters
    ----------
    message : str
        What went wrong, and where.
    path : str or None, default=None
        The file.
    record : int or None, default=None
        Index (0-based) of the record at fault, when the problem is in one.

    Examples
    --------
    >>> import os, tempfile
    >>> from fastkmeans.io import RecordIOError, read_recordio
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "data.pbr")
    ...     with open(path, "wb") as f:
    ...         _ = f.write(b"not RecordIO")
    ...     try:
    ...         read_recordio(path)
    ...     except RecordIOError as error:
    ...         print(error.record, str(error).split(": ", 1)[1])
    0 record 0 (0-based, at byte 0): bad magic 0x20746f6e (expected 0xced7230a): not RecordIO, or corrupted
    """

    def __init__(self, message: str, path: Optional[str] = None, record: Optional[int] = None) -> None:
        super().__init__(message)
        self.path = path
        self.record = record

    def __reduce__(self) -> Tuple[Any, ...]:
        return (type(self), (self.args[0], self.path, self.record))


def iter_recordio(path: _Path, batch_rows: int) -> Iterator[Tuple[_Matrix, int]]:
    """Read a RecordIO-protobuf file in batches of ``batch_rows`` rows.

    The file is opened at once (a missing file raises here) and read as the iterator advances,
    through one buffer: files larger than memory stream through.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    batch_rows : int
        Rows per batch (SageMaker's ``mini_batch_size``). A batch holds whole records: exactly
        ``batch_rows`` rows when every record holds one row (as the SDK writes), at least that
        many otherwise; the last batch may hold fewer.

    Yields
    ------
    batch : ndarray of shape (n_batch, n_features) or scipy.sparse.csr_matrix
        The rows, float32 or float64 (see the module's notes).
    first_record : int
        Index (0-based) of the batch's first record in the file.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist (``OSError`` for other failures of the system).
    RecordIOError
        At the first record that cannot be read; the batches before it were whole and valid.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from fastkmeans.io import iter_recordio, write_recordio
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "train.pbr")
    ...     write_recordio(np.arange(10, dtype=np.float32).reshape(5, 2), path)
    ...     for batch, first_record in iter_recordio(path, batch_rows=2):
    ...         print(first_record, batch.tolist())
    0 [[0.0, 1.0], [2.0, 3.0]]
    2 [[4.0, 5.0], [6.0, 7.0]]
    4 [[8.0, 9.0]]
    """
    if isinstance(batch_rows, (bool, np.bool_)) or not isinstance(batch_rows, (int, np.integer)) or batch_rows < 1:
        raise ValueError(f"batch_rows must be an integer >= 1, not {batch_rows!r}")
    name = os.fspath(path)
    reader = _core.RecordIOReader(name)
    return _batches(reader, name, int(batch_rows))


def _batches(reader: _core.RecordIOReader, name: str, batch_rows: int) -> Iterator[Tuple[_Matrix, int]]:
    while True:
        try:
            item = reader.next_batch(batch_rows)
        except _core.RecordIOError as exc:
            raise _error(exc, name) from None
        if item is None:
            return
        batch, first_record = item
        yield _matrix(batch), first_record


def read_recordio(path: _Path) -> _Matrix:
    """Read a whole RecordIO-protobuf file.

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    ndarray of shape (n_samples, n_features) or scipy.sparse.csr_matrix
        Every row of the file: a dense array, float32 for ``Float32Tensor`` records and float64
        otherwise, or a CSR matrix when the first record is sparse (with keys).

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist (``OSError`` for other failures of the system).
    RecordIOError
        When any record cannot be read, or the file is empty; nothing is returned then.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from fastkmeans.io import read_recordio, write_recordio
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "train.pbr")
    ...     write_recordio(np.array([[1, 2], [3, 4]]), path)  # integers: Int32Tensor
    ...     read_recordio(path)
    array([[1., 2.],
           [3., 4.]])
    """
    name = os.fspath(path)
    reader = _core.RecordIOReader(name)
    try:
        batch = reader.read_all()
    except _core.RecordIOError as exc:
        raise _error(exc, name) from None
    if batch is None:  # pragma: no cover - an empty file raises RecordIOError above
        raise RecordIOError(f"{name}: no records", name)
    return _matrix(batch)


def write_recordio(X: Any, path: _Path, labels: Any = None) -> None:
    """Write ``X`` as RecordIO-protobuf, one record per row, as the SageMaker SDK writes it.

    Dense arrays are written as ``write_numpy_to_dense_tensor`` writes them (byte for byte):
    float32 rows as ``Float32Tensor``, float64 as ``Float64Tensor``, integers as ``Int32Tensor``
    (every value must fit in int32), under ``features["values"]``, without keys or shape. SciPy
    sparse matrices are written as ``write_spmatrix_to_sparse_tensor`` writes them: each CSR row's
    values, its columns as ``keys`` and ``shape = [n_features]``. ``labels[i]``, when given, is
    written as row ``i``'s ``label["values"]``, its tensor type chosen by the labels' dtype.

    The file is written to a temporary file in the same folder, then renamed over ``path``:
    a failure (or Ctrl-C) leaves ``path`` as it was and no partial file behind.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features) or scipy sparse matrix
        The rows, float32, float64 or integer (other dtypes are refused, as by the SDK).
    path : str or os.PathLike
        The file to create or replace.
    labels : array-like of shape (n_samples,), default=None
        One label per row, float32, float64 or integer.

    Raises
    ------
    ValueError
        For ``X`` that is not 2-D or has no row, an unsupported dtype, integers outside int32,
        or labels that are not one per row.
    ImportError
        When ``X`` is sparse and SciPy is not installed.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from fastkmeans.io import write_recordio
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "row.pbr")
    ...     write_recordio(np.array([[1.0, 2.0]], dtype=np.float32), path)
    ...     with open(path, "rb") as f:
    ...         f.read().hex(" ")
    '0a 23 d7 ce 18 00 00 00 0a 16 0a 06 76 61 6c 75 65 73 12 0c 12 0a 0a 08 00 00 80 3f 00 00 00 40'
    """
    name = os.fspath(path)
    sparse = _is_sparse(X)
    if sparse:
        csr = X.tocsr()
        n_rows, n_cols = csr.shape
        data = _tensor_values(np.asarray(csr.data), "X")
        indices = np.ascontiguousarray(csr.indices, dtype=np.int64)
        indptr = np.ascontiguousarray(csr.indptr, dtype=np.int64)
    else:
        dense = np.asarray(X)
        if dense.ndim != 2:
            raise ValueError(f"X must be a 2-D array (n_samples, n_features), not of shape {dense.shape}")
        n_rows, n_cols = dense.shape
        dense = _tensor_values(dense, "X")
    if n_rows == 0:
        raise ValueError("X has no rows; a RecordIO file holds at least one record")
    label_values = None
    if labels is not None:
        label_array = np.asarray(labels)
        if label_array.shape != (n_rows,):
            raise ValueError(f"labels must hold one label per row, shape ({n_rows},), not {label_array.shape}")
        label_values = _tensor_values(label_array, "labels")
    folder, base = os.path.split(os.path.abspath(name))
    temporary = os.path.join(folder, f".{base}.{secrets.token_hex(8)}.tmp")
    try:
        if sparse:
            _core.write_recordio_sparse(temporary, data, indices, indptr, n_cols, label_values)
        else:
            _core.write_recordio_dense(temporary, dense, label_values)
        os.replace(temporary, name)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _tensor_values(array: np.ndarray, name: str) -> np.ndarray:
    """Return ``array`` C-contiguous in the dtype of its tensor type: float32, float64 or int32."""
    if array.dtype in (np.float32, np.float64):
        return np.ascontiguousarray(array)
    if array.dtype.kind in "iu" and array.dtype != np.bool_:
        low, high = (array.min(), array.max()) if array.size else (0, 0)
        if low < _INT32_MIN or high > _INT32_MAX:
            bad = low if low < _INT32_MIN else high
            raise ValueError(f"{name} holds {bad}, outside int32: integers are written as an Int32Tensor")
        return np.ascontiguousarray(array, dtype=np.int32)
    raise ValueError(
        f"unsupported dtype {array.dtype} for {name}: RecordIO-protobuf holds float32, float64 or "
        "integer values (Float32Tensor, Float64Tensor, Int32Tensor)"
    )


def _is_sparse(X: Any) -> bool:
    # A SciPy sparse matrix cannot exist unless SciPy is imported already.
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and bool(sparse.issparse(X))


def _matrix(batch: Any) -> _Matrix:
    """Return a dense batch as it is, a sparse one ``(data, indices, indptr, shape)`` as a CSR matrix."""
    if isinstance(batch, np.ndarray):
        return batch
    data, indices, indptr, shape = batch
    return _scipy_sparse().csr_matrix((data, indices, indptr), shape=shape)


def _scipy_sparse() -> Any:
    try:
        import scipy.sparse
    except ImportError:  # pragma: no cover - exercised without SciPy
        raise ImportError(
            "this RecordIO file holds sparse records, which are read as scipy.sparse.csr_matrix: "
            "install SciPy (pip install scipy)"
        ) from None
    return scipy.sparse


def _error(exc: _core.RecordIOError, name: str) -> RecordIOError:
    message, record = exc.args
    return RecordIOError(f"{name}: {message}", name, record)
