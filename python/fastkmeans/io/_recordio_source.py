"""RecordIO-protobuf files as a stream, through ``fastkmeans.io._recordio`` (the record parser)."""

from __future__ import annotations

from typing import Iterator

from fastkmeans.io._batch import Batch, batch_rows, require_finite
from fastkmeans.io._recordio import iter_recordio

__all__ = ["RECORDS_PER_BLOCK", "read_recordio_rows"]

RECORDS_PER_BLOCK = 4096
"""Records parsed per block (one row each)."""


def read_recordio_rows(path: str) -> Iterator[Batch]:
    """Yield the rows of a RecordIO-protobuf file (dense or sparse records) in blocks.

    Parameters
    ----------
    path : str
        The file.

    Yields
    ------
    Batch
        Float32/float64 rows with the 0-based index of each record: dense for dense records,
        CSR (never densified) for sparse ones.
    """
    for rows, first_record in iter_recordio(path, RECORDS_PER_BLOCK):
        batch = Batch(batch_rows(rows), path, int(first_record), "record")
        require_finite(batch.rows, batch.where)
        yield batch
