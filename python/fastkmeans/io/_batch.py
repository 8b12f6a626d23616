"""What every reader yields: a block of rows and where in the input its first row came from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

from fastkmeans import _core
from fastkmeans._validation import as_csr, core_rows, float_dtype, is_sparse

__all__ = ["Batch", "DataError", "batch_rows", "densify", "require_finite"]


class DataError(ValueError):
    r"""Bad data in a file or an iterable, with the file and the line, record or row in the message.

    A ``ValueError``, so ``except ValueError`` catches it as it catches bad in-memory arrays.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from fastkmeans import KMeans
    >>> from fastkmeans.io import DataError
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "bad.csv"
    >>> _ = path.write_text("1,2\n3,4\n5,x\n")
    >>> try:
    ...     KMeans(k=1).fit(path)
    ... except DataError as error:
    ...     print(str(error).replace(str(path), "bad.csv"))
    bad.csv, line 3, column 2: 'x' is not a number
    """


@dataclass(frozen=True)
class Batch:
    """A block of rows read from a source.

    Parameters
    ----------
    rows : ndarray or scipy.sparse.csr_matrix of shape (n_rows, n_features)
        C-contiguous float32 or float64 rows, all finite; sparse sources (sparse RecordIO, an
        iterable of sparse matrices) give CSR rows with duplicates summed.
    name : str
        The file the rows came from, or ``"item 3 of the iterable"``.
    first : int
        Position of ``rows[0]`` in it, counted in ``unit``.
    unit : {"line", "record", "row"}
        ``line``: a 1-based line of a text file; ``record``: a 0-based RecordIO record; ``row``:
        a 0-based row of an array, a .npy or a Parquet file.
    lines : ndarray of shape (n_rows,) or None, default=None
        The line of every row, where rows and lines do not follow one another (a text file with
        blank lines); None means row ``i`` is at ``first + i``.
    """

    rows: Any
    name: str
    first: int
    unit: str = "row"
    lines: Optional[np.ndarray] = None

    def position(self, i: int = 0) -> int:
        """Return the line, record or row number of ``rows[i]`` in its file (see ``unit``).

        Parameters
        ----------
        i : int, default=0
            Index of the row in this batch.

        Returns
        -------
        int
            Its position in the file.
        """
        if self.lines is not None:
            return int(self.lines[i])
        return self.first + i

    def where(self, i: int = 0) -> str:
        """Return ``"<file>, <unit> <number>"`` for ``rows[i]``, the prefix of every error message.

        Parameters
        ----------
        i : int, default=0
            Index of the row in this batch.

        Returns
        -------
        str
            For example ``"/data/train.csv, line 12"``.
        """
        return f"{self.name}, {self.unit} {self.position(i)}"


def require_finite(rows: np.ndarray, where: Callable[[int], str]) -> None:
    """Raise a DataError naming the first row of ``rows`` holding NaN or infinity (and its column).

    Parameters
    ----------
    rows : ndarray of shape (n_rows, n_features)
        C-contiguous float32/float64 rows.
    where : callable
        ``where(i)`` names row ``i`` (file and line, record or row).
    """
    row = _core.first_non_finite_row(core_rows(rows))
    if row is not None:
        values = rows[row].toarray()[0] if is_sparse(rows) else rows[row]
        column = int(np.flatnonzero(~np.isfinite(values))[0])
        raise DataError(f"{where(row)}, column {column + 1}: NaN or infinity ({values[column]}); every value "
                        "must be a finite number")


def batch_rows(rows: Any) -> Any:
    """Return a batch as the core takes it: dense rows as ``densify``, sparse ones as CSR.

    Sparse rows stay sparse (float32/float64 values, duplicates summed) and are computed on
    sparse x dense.

    Parameters
    ----------
    rows : ndarray or scipy.sparse matrix of shape (n_rows, n_features)
        A batch.

    Returns
    -------
    ndarray or scipy.sparse.csr_matrix of shape (n_rows, n_features)
        The rows, float32/float64.
    """
    return as_csr(rows) if is_sparse(rows) else densify(rows)


def densify(rows: Any) -> np.ndarray:
    """Return a batch as a dense C-contiguous float array.

    For readers whose rows are dense anyway (.npy blocks); sparse batches go through
    ``batch_rows`` and stay sparse.

    Parameters
    ----------
    rows : ndarray or scipy.sparse matrix of shape (n_rows, n_features)
        A batch.

    Returns
    -------
    ndarray of shape (n_rows, n_features)
        Dense float32/float64 rows (other dtypes become float64, float16 becomes float32).
    """
    if hasattr(rows, "toarray"):
        rows = rows.toarray()
    array = np.asarray(rows)
    return np.ascontiguousarray(array, dtype=float_dtype(array.dtype))
