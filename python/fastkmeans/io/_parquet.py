"""Apache Parquet files, read in record batches by pyarrow."""

from __future__ import annotations

from typing import Any, Iterator, List, Optional, Sequence, Union

import numpy as np

from fastkmeans.io._batch import Batch, DataError, require_finite
from fastkmeans.io._csv import require_pyarrow

__all__ = ["read_parquet"]


def read_parquet(path: str, *, columns: Optional[Sequence[Union[int, str]]], block_bytes: int) -> Iterator[Batch]:
    """Yield the rows of a Parquet file: all its numeric columns, or the chosen ones.

    Parameters
    ----------
    path : str
        The file.
    columns : sequence of str or int, or None
        Column names (or 0-based positions in the file's schema); None: every integer or
        floating-point column, in the file's order.
    block_bytes : int
        Target size of a block of rows.

    Yields
    ------
    Batch
        float32 rows when every chosen column is float32 (or float16), float64 otherwise, with
        their 0-based row numbers.
    """
    pa = require_pyarrow("Parquet")
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as error:
        raise DataError(f"{path} is not a readable Parquet file: {error}") from None
    schema = parquet.schema_arrow
    names = _chosen(path, schema, columns, pa)
    single = all(pa.types.is_float32(schema.field(name).type) or pa.types.is_float16(schema.field(name).type)
                 for name in names)
    dtype = np.dtype(np.float32 if single else np.float64)
    if parquet.metadata.num_rows == 0:
        raise DataError(f"{path} is empty: it has no rows.")
    block_rows = max(1, block_bytes // (len(names) * dtype.itemsize))
    start = 0
    try:
        for record_batch in parquet.iter_batches(batch_size=block_rows, columns=names):
            rows = np.empty((record_batch.num_rows, len(names)), dtype=dtype)
            for j, column in enumerate(record_batch.columns):
                # Nulls become NaN here, and are refused below with their row.
                rows[:, j] = column.to_numpy(zero_copy_only=False)
            batch = Batch(rows, path, start, "row")
            require_finite(rows, batch.where)
            start += len(rows)
            yield batch
    except pa.ArrowException as error:
        raise DataError(f"{path}, row {start}: the file cannot be read: {error}") from None


def _chosen(path: str, schema: Any, columns: Optional[Sequence[Union[int, str]]], pa: Any) -> List[str]:
    def numeric(name: str) -> bool:
        kind = schema.field(name).type
        return bool(pa.types.is_integer(kind) or pa.types.is_floating(kind))

    if columns is None:
        names = [name for name in schema.names if numeric(name)]
        if not names:
            raise DataError(f"{path} has no numeric column; its columns are "
                            f"{', '.join(f'{f.name} ({f.type})' for f in schema)}.")
        return names
    names = []
    for column in columns:
        if isinstance(column, (int, np.integer)) and not isinstance(column, bool):
            if not 0 <= column < len(schema.names):
                raise DataError(f"{path}: column {column} is not a position in 0..{len(schema.names) - 1}.")
            names.append(schema.names[column])
        elif column in schema.names:
            names.append(str(column))
        else:
            raise DataError(f"{path} has no column {column!r}; its columns are {schema.names}.")
    bad = [f"{name} ({schema.field(name).type})" for name in names if not numeric(name)]
    if bad:
        raise DataError(f"{path}: the chosen column(s) {', '.join(bad)} are not numeric.")
    if not names:
        raise ValueError("columns is empty: choose at least one column.")
    return names
