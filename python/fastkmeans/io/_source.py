"""What the user passed, resolved: files (a path, a list, a directory) or an iterable of arrays."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable as IterableABC
from collections.abc import Iterator as IteratorABC
from typing import Any, Iterable, Iterator, List, Optional, Sequence, Union

import numpy as np

from fastkmeans._validation import is_sparse
from fastkmeans.io import _content
from fastkmeans.io._batch import Batch, DataError
from fastkmeans.io._content import ContentType, parse_content_type
from fastkmeans.io._prefetch import prefetch

__all__ = ["Source", "as_source", "open_source"]

BLOCK_BYTES = 4 << 20
"""Target size of the blocks of rows that .npy and Parquet files are read in."""

PathLike = Union[str, "os.PathLike[str]"]


class Source:
    """Data read in blocks, as many times as training needs: files, a directory, or an iterable.

    Build one with ``open_source``; ``KMeans.fit``, ``partial_fit``, ``predict``, ``assign``,
    ``transform``, ``score`` and ``evaluate`` take it (and plain paths) in place of an array.

    Parameters
    ----------
    data : path, list of paths, directory, or iterable of arrays
        See ``open_source``.
    content_type : str or None, default=None
        See ``open_source``.
    header : bool or None, default=None
        See ``open_source``.
    columns : sequence of int or str, or None, default=None
        See ``open_source``.
    dtype : {None, "float32", "float64"} or numpy dtype, default=None
        See ``open_source``.
    shuffle_buffer_rows : int or None, default=None
        See ``open_source``.
    """

    def __init__(self, data: Any, *, content_type: Optional[str] = None, header: Optional[bool] = None,
                 columns: Optional[Sequence[Union[int, str]]] = None, dtype: Any = None,
                 shuffle_buffer_rows: Optional[int] = None) -> None:
        self.content_type: Optional[ContentType] = parse_content_type(content_type) if content_type else None
        self.header = header
        if self.content_type is not None and self.content_type.header is not None:
            if header is not None and header != self.content_type.header:
                raise ValueError(f"header={header} contradicts the content type {self.content_type}.")
            self.header = self.content_type.header
        self.columns = None if columns is None else list(columns)
        self.dtype = None if dtype is None else np.dtype(dtype)
        if self.dtype is not None and self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, not {self.dtype}.")
        if shuffle_buffer_rows is not None and (isinstance(shuffle_buffer_rows, bool) or
                                                not isinstance(shuffle_buffer_rows, (int, np.integer)) or
                                                shuffle_buffer_rows < 0):
            raise ValueError("shuffle_buffer_rows must be a non-negative integer or None, not "
                             f"{shuffle_buffer_rows!r}.")
        self.shuffle_buffer_rows = shuffle_buffer_rows
        self.files: Optional[List[str]] = None
        self._items: Optional[Iterable[Any]] = None
        self._read_once = False
        if _is_paths(data):
            self.files = _list_files(data)
            self._formats = [self._format(path) for path in self.files]
        elif isinstance(data, IterableABC):
            if self.content_type is not None or self.header is not None or self.columns is not None:
                raise ValueError("content_type, header and columns apply to files, not to an iterable of arrays.")
            self._items = data
        else:
            raise TypeError(f"Cannot read data from {type(data).__name__}: expecting a path, a list of paths, a "
                            "directory or an iterable of arrays.")

    @property
    def reiterable(self) -> bool:
        """Whether the data can be read more than once (files, lists; not a generator)."""
        return self._items is None or not isinstance(self._items, IteratorABC)

    def batches(self) -> Iterator[Batch]:
        """Read the data once, from the start, in blocks.

        Every block is checked: numbers only, finite, the same number of features as the first.

        Yields
        ------
        Batch
            C-contiguous float32/float64 rows, with their file and line, record or row.

        Raises
        ------
        DataError
            A ValueError naming the file and the line, record or row, for bad data (ragged rows,
            a cell that is not a number, NaN or infinity, a different number of features, an empty
            file, a truncated record ...).
        FileNotFoundError
            For a file that has disappeared since the source was opened.
        """
        width: Optional[Batch] = None
        for batch in self._raw_batches():
            if self.dtype is not None and batch.rows.dtype != self.dtype:
                batch = Batch(batch.rows.astype(self.dtype), batch.name, batch.first, batch.unit, batch.lines)
            if width is None:
                width = batch
            elif batch.rows.shape[1] != width.rows.shape[1]:
                raise DataError(f"{batch.where()}: {batch.rows.shape[1]} features, but {width.where()} has "
                                f"{width.rows.shape[1]}.")
            yield batch
        if width is None:
            raise DataError(f"{self} holds no rows.")

    def read(self) -> Any:
        """Read all the data into one array (it must fit in memory).

        Returns
        -------
        ndarray or scipy.sparse.csr_matrix of shape (n_samples, n_features)
            The rows, C-contiguous, float32 if every block is float32, else float64; a CSR matrix
            when every block is sparse (sparse RecordIO, sparse matrices).

        Examples
        --------
        >>> import numpy as np
        >>> from fastkmeans.io import open_source
        >>> open_source([np.ones((2, 3)), np.zeros((1, 3))]).read().shape
        (3, 3)
        """
        parts = [batch.rows for batch in self.batches()]
        if all(is_sparse(part) for part in parts):
            import scipy.sparse

            return scipy.sparse.vstack(parts, format="csr")
        return np.ascontiguousarray(np.concatenate([p.toarray() if is_sparse(p) else p for p in parts]))

    def __repr__(self) -> str:
        """Return ``Source(<what>)``."""
        if self.files is None:
            return f"Source(<{type(self._items).__name__}>)"
        shown = self.files[0] if len(self.files) == 1 else f"{self.files[0]} and {len(self.files) - 1} more files"
        return f"Source({shown!r})"

    def _raw_batches(self) -> Iterator[Batch]:
        if self._items is not None:
            from fastkmeans.io._iterable import read_iterable

            if not self.reiterable:
                if self._read_once:
                    raise ValueError("This iterator has been read already and cannot be read again: pass a list of "
                                     "arrays (or another re-iterable) to read the data more than once.")
                self._read_once = True
            yield from read_iterable(self._items)
            return
        assert self.files is not None
        for path, media_type in zip(self.files, self._formats):
            yield from self._read_file(path, media_type)

    def _format(self, path: str) -> str:
        if self.content_type is None and _content.is_fifo(path):
            raise ValueError(f"{path} is a pipe: give its content type (text/csv or "
                             "application/x-recordio-protobuf), which cannot be guessed without consuming it.")
        media_type = self.content_type.media_type if self.content_type is not None else _content.detect(path)
        if media_type not in (_content.CSV, _content.TEXT) and _content.is_gzip(path):
            raise DataError(f"{path} is gzip-compressed {media_type}; only text (CSV) is read compressed: "
                            "decompress it first.")
        if media_type == _content.RECORDIO and self.columns is not None:
            raise ValueError("columns cannot be chosen in RecordIO-protobuf files.")
        return media_type

    def _read_file(self, path: str, media_type: str) -> Iterator[Batch]:
        if not os.path.exists(path):
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
        if not _content.is_fifo(path) and os.path.getsize(path) == 0:
            raise DataError(f"{path} is empty.")
        if media_type in (_content.CSV, _content.TEXT):
            from fastkmeans.io._csv import read_text

            label_size = self.content_type.label_size if self.content_type is not None else 0
            yield from read_text(path, csv=media_type == _content.CSV, header=bool(self.header),
                                 label_size=label_size, columns=self.columns,
                                 dtype=self.dtype if self.dtype is not None else np.dtype(np.float64),
                                 gzipped=_content.is_gzip(path))
        elif media_type == _content.NPY:
            from fastkmeans.io._npy import read_npy

            for batch in prefetch(lambda: read_npy(path, block_bytes=BLOCK_BYTES)):
                if self.columns is not None:
                    batch = Batch(np.ascontiguousarray(batch.rows[:, _positions(path, self.columns, batch)]),
                                  batch.name, batch.first, batch.unit)
                yield batch
        elif media_type == _content.PARQUET:
            from fastkmeans.io._parquet import read_parquet

            yield from prefetch(lambda: read_parquet(path, columns=self.columns, block_bytes=BLOCK_BYTES))
        else:
            from fastkmeans.io._recordio_source import read_recordio_rows

            yield from prefetch(lambda: read_recordio_rows(path))


def _positions(path: str, columns: Sequence[Union[int, str]], batch: Batch) -> List[int]:
    n_features = batch.rows.shape[1]
    for column in columns:
        if not isinstance(column, (int, np.integer)) or isinstance(column, bool) or not 0 <= column < n_features:
            raise DataError(f"{path}: column {column!r} is not a position in 0..{n_features - 1} (a .npy file has "
                            "no column names).")
    return [int(column) for column in columns]


def _is_paths(data: Any) -> bool:
    if isinstance(data, (str, os.PathLike)):
        return True
    return isinstance(data, (list, tuple)) and len(data) > 0 and all(isinstance(p, (str, os.PathLike)) for p in data)


def _is_matrix(item: Any) -> bool:
    shape = getattr(item, "shape", None)
    return isinstance(shape, tuple) and len(shape) == 2 and (hasattr(item, "__array__") or hasattr(item, "toarray"))


def _list_files(data: Union[PathLike, Sequence[PathLike]]) -> List[str]:
    """Every file named, a directory standing for its regular files (hidden and ``_`` ones skipped), sorted."""
    paths = [data] if isinstance(data, (str, os.PathLike)) else list(data)
    files: List[str] = []
    for path in (os.fspath(item) for item in paths):
        if os.path.isdir(path):
            names = sorted(name for name in os.listdir(path)
                           if not name.startswith((".", "_")) and os.path.isfile(os.path.join(path, name)))
            if not names:
                raise DataError(f"{path} is a directory with no data file in it.")
            files.extend(os.path.join(path, name) for name in names)
        elif os.path.isfile(path) or _content.is_fifo(path):
            files.append(path)
        elif os.path.exists(path):
            raise DataError(f"{path} is neither a regular file nor a directory.")
        else:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
    return files


def as_source(data: Any) -> Optional[Source]:
    """Return ``data`` as a Source if it is one, a path, a list of paths or an iterable of arrays; else None.

    Arrays, DataFrames, sparse matrices, nested lists of numbers and anything with ``__array__``
    give None: the estimator keeps them in memory and handles them as before.

    Parameters
    ----------
    data : Any
        What was passed to ``fit``, ``predict``, ...

    Returns
    -------
    Source or None
        The source, or None for in-memory data.
    """
    if isinstance(data, Source):
        return data
    if _is_paths(data):
        return Source(data)
    if isinstance(data, (list, tuple)):
        return Source(data) if data and all(_is_matrix(item) for item in data) else None
    if isinstance(data, (np.ndarray, str, bytes, dict)) or hasattr(data, "__array__") or hasattr(data, "toarray"):
        return None
    if isinstance(data, IterableABC):
        return Source(data)
    return None


def open_source(data: Any, *, content_type: Optional[str] = None, header: Optional[bool] = None,
                columns: Optional[Sequence[Union[int, str]]] = None, dtype: Any = None,
                shuffle_buffer_rows: Optional[int] = None) -> Source:
    """Open files or an iterable of arrays as a source that ``KMeans`` streams from.

    Nothing is read here beyond the first bytes of each file (its format); training reads the data
    in blocks, once per epoch, and never holds all of it.

    Parameters
    ----------
    data : str, os.PathLike, list of paths, or iterable of arrays
        A file; a directory (a SageMaker channel: every regular file in it, sorted by name,
        skipping names that start with ``.`` or ``_`` such as ``.amazon.manifest`` or ``_SUCCESS``;
        subdirectories are not read); a list of files and directories; or an iterable of 2-D arrays
        (a list is read as often as needed; a generator can be read once, so it serves one pass).
    content_type : str or None, default=None
        ``"text/csv"`` (with SageMaker's ``;label_size=n``: the first n columns are labels, skipped,
        and RFC 4180's ``;header=present``), ``"text/plain"`` (whitespace-separated columns),
        ``"application/x-recordio-protobuf"``, ``"application/x-npy"`` or
        ``"application/x-parquet"``, for every file. None: from each file's extension (``.csv``,
        ``.csv.gz``, ``.txt``, ``.npy``, ``.parquet``, ``.pbr``/``.rec``/``.recordio``), else its
        first bytes, else text. gzip compression of text is recognised by its first bytes.
    header : bool or None, default=None
        Whether text files start with a row of column names (skipped). None: no header, as in
        SageMaker's ``text/csv``.
    columns : sequence of int or str, or None, default=None
        The feature columns: 0-based positions (text, .npy, Parquet) or names (Parquet, and text
        with a header). None: all columns (Parquet: all integer and floating-point columns).
    dtype : {None, "float32", "float64"}, default=None
        Type of the rows. None: float64 for text, the file's type otherwise (float32 RecordIO stays
        float32). float32 halves memory and roughly doubles training speed.
    shuffle_buffer_rows : int or None, default=None
        Rows in the shuffle buffer that training draws its random mini-batches from. None:
        ``max(10 * mini_batch_size, 50,000)`` rows, at most 128 MiB. ``0`` (or anything up to
        ``mini_batch_size``) takes mini-batches in file order. See "Data in" in the documentation
        for what the buffer means for randomness.

    Returns
    -------
    Source
        Pass it to ``fit``, ``partial_fit``, ``predict``, ``assign``, ``transform``, ``score`` or
        ``evaluate``, or call its ``read()``.

    Raises
    ------
    FileNotFoundError
        For a path that does not exist.
    ValueError
        For an unknown content type, a directory with no file, contradicting options.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import numpy as np
    >>> from fastkmeans import KMeans
    >>> from fastkmeans.io import open_source
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(0, 1, (300, 2)), rng.normal(10, 1, (300, 2))])
    >>> np.savetxt(folder / "train.csv", X, delimiter=",", header="x,y", comments="")
    >>> source = open_source(folder / "train.csv", header=True, dtype="float32")
    >>> model = KMeans(k=2, mini_batch_size=100, random_state=0).fit(source)
    >>> print(np.abs(np.sort(model.cluster_centers_[:, 0])).round(0))
    [ 0. 10.]
    >>> model.predict(source).shape
    (600,)
    """
    return Source(data, content_type=content_type, header=header, columns=columns, dtype=dtype,
                  shuffle_buffer_rows=shuffle_buffer_rows)
