"""``fastkmeans.dask.read``: files as a Dask array of one partition per file (or .npy block), read on the workers.

The client only lists the files (metadata); every partition is a task that opens its file with
``fastkmeans.io`` on a worker, so its rows are checked there (a ragged line, a cell that is not a
number, NaN) and an error names the file and the line, record or row. Files behind an fsspec URL
(``s3://``, ``gs://``, ``https://``, ...) are copied to the worker's temporary directory first,
since the readers take local files; errors still name the URL.
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from fastkmeans.io import NPY, DataError, Source, densify, detect, parse_content_type
from fastkmeans.io._batch import require_finite
from fastkmeans.io._source import _list_files

__all__ = ["list_files", "read_files"]


def read_files(paths: Any, *, content_type: Optional[str] = None, header: Optional[bool] = None,
               columns: Optional[Sequence[Union[int, str]]] = None, dtype: Any = None,
               storage_options: Optional[Dict[str, Any]] = None, rows_per_partition: Optional[int] = None) -> Any:
    """Open files as a Dask array with one partition per file or block (see ``fastkmeans.dask.read``)."""
    import dask
    import dask.array as da

    files = list_files(paths, storage_options or {})
    options = {"content_type": content_type, "header": header, "columns": None if columns is None else list(columns),
               "dtype": None if dtype is None else np.dtype(dtype).name}
    if content_type is not None:
        parse_content_type(content_type)  # a bad one fails here, before any task runs
    # The width and dtype come from the first file, read on a worker like every partition.
    n_features, found = dask.compute(dask.delayed(_peek, pure=True)(files[0], options, storage_options))[0]
    options["dtype"] = found
    if rows_per_partition is not None and (isinstance(rows_per_partition, bool) or
                                           not isinstance(rows_per_partition, (int, np.integer)) or
                                           rows_per_partition < 1):
        raise ValueError(f"rows_per_partition must be a positive integer or None, not {rows_per_partition!r}.")
    parts = []
    for path in files:
        blocks = _npy_blocks(path, options, rows_per_partition) if rows_per_partition is not None else None
        if blocks is None:
            parts.append(da.from_delayed(
                dask.delayed(_read_partition, pure=True)(path, options, storage_options, n_features),
                shape=(np.nan, n_features), dtype=np.dtype(found)))
            continue
        parts.extend(da.from_delayed(dask.delayed(_read_npy_rows, pure=True)(path, start, stop, options, n_features),
                                     shape=(stop - start, n_features), dtype=np.dtype(found)) for start, stop in blocks)
    return da.concatenate(parts, axis=0) if len(parts) > 1 else parts[0]


def _npy_blocks(path: str, options: Dict[str, Any], rows: int) -> Optional[List[Tuple[int, int]]]:
    """Row ranges of ``rows`` rows of a local .npy file (its header only is read here), or None for other files."""
    content_type = options["content_type"]
    media_type = parse_content_type(content_type).media_type if content_type else detect(path)
    if _is_url(path) or media_type != NPY:
        return None
    try:
        n_rows = int(np.load(path, mmap_mode="r", allow_pickle=False).shape[0])
    except (ValueError, OSError, EOFError, IndexError):
        return None  # the partition's reader names the problem
    return [(start, min(start + rows, n_rows)) for start in range(0, n_rows, rows)]


def _read_npy_rows(path: str, start: int, stop: int, options: Dict[str, Any], n_features: int) -> np.ndarray:
    """Rows ``start:stop`` of a local .npy file, checked (runs on a worker: one partition)."""
    array = np.load(path, mmap_mode="r", allow_pickle=False)
    columns = options["columns"]
    block = np.asarray(array[start:stop] if columns is None else array[start:stop, columns])
    if block.ndim != 2 or block.shape[1] != n_features:
        raise DataError(f"{path}: rows of shape {block.shape[1:]}, but the first file has {n_features} features.")
    rows = np.ascontiguousarray(densify(block), dtype=options["dtype"])
    require_finite(rows, lambda i: f"{path}, row {start + i}")
    return rows


def list_files(paths: Any, storage_options: Dict[str, Any]) -> List[str]:
    """Every file named: local paths, directories and glob patterns, or fsspec URLs, in order."""
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not items:
        raise ValueError("read needs at least one path.")
    files: List[str] = []
    for item in (os.fspath(path) for path in items):
        if _is_url(item):
            files.extend(_list_url(item, storage_options))
        elif glob.has_magic(item):
            matched = sorted(glob.glob(item))
            if not matched:
                raise FileNotFoundError(f"No file matches {item!r}.")
            files.extend(_list_files(matched))
        else:
            files.extend(_list_files(item))
    return files


def _is_url(path: str) -> bool:
    return "://" in path or "::" in path


def _list_url(url: str, storage_options: Dict[str, Any]) -> List[str]:
    import fsspec

    fs, _, expanded = fsspec.core.get_fs_token_paths(url, storage_options=storage_options)
    found: List[str] = []
    for path in expanded:
        if fs.isdir(path):
            names = sorted(p for p in fs.find(path, maxdepth=1) if not os.path.basename(p).startswith((".", "_")))
            if not names:
                raise DataError(f"{url} is a directory with no data file in it.")
            found.extend(names)
        elif fs.exists(path):
            found.append(path)
    if not found:
        raise FileNotFoundError(f"No file at {url!r}.")
    return [fs.unstrip_protocol(path) for path in found]


def _open_local(path: str, storage_options: Optional[Dict[str, Any]]) -> Tuple[str, Optional[str]]:
    """Return a local path to read ``path`` from, and the temporary directory holding a copy (or None)."""
    if not _is_url(path):
        return path, None
    import fsspec
    from fsspec.implementations.local import LocalFileSystem

    fs, inner = fsspec.core.url_to_fs(path, **(storage_options or {}))
    if isinstance(fs, LocalFileSystem):
        return inner, None
    folder = tempfile.mkdtemp(prefix="fastkmeans-")
    local = os.path.join(folder, os.path.basename(inner.rstrip("/")) or "data")
    try:
        fs.get_file(inner, local)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return local, folder


def _source_rows(path: str, options: Dict[str, Any], storage_options: Optional[Dict[str, Any]],
                 first_only: bool) -> Any:
    local, folder = _open_local(path, storage_options)
    try:
        source = Source(local, **options)
        if first_only:
            return next(source.batches()).rows
        return source.read()
    except (DataError, FileNotFoundError) as error:
        if local == path:
            raise
        raise type(error)(str(error).replace(local, path)) from None
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


def _peek(path: str, options: Dict[str, Any], storage_options: Optional[Dict[str, Any]]) -> Tuple[int, str]:
    """Return the number of features and the dtype of the first block of ``path`` (runs on a worker)."""
    rows = _source_rows(path, options, storage_options, first_only=True)
    return int(rows.shape[1]), np.dtype(rows.dtype).name


def _read_partition(path: str, options: Dict[str, Any], storage_options: Optional[Dict[str, Any]],
                    n_features: int) -> np.ndarray:
    """Every row of ``path``, checked, dense (runs on a worker: one partition)."""
    rows = _source_rows(path, options, storage_options, first_only=False)
    if rows.shape[1] != n_features:
        raise DataError(f"{path}: {rows.shape[1]} features, but the first file has {n_features}.")
    if hasattr(rows, "toarray"):  # sparse RecordIO: partitions of a Dask array are dense here
        rows = rows.toarray()
    return np.ascontiguousarray(rows, dtype=options["dtype"])
