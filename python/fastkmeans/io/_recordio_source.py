"""RecordIO-protobuf files as a stream, through ``fastkmeans.io._recordio`` (the record parser).

The parser lives in its own module, imported here when a RecordIO file is first read, so that the
rest of ``fastkmeans.io`` does not depend on it.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Iterator

from fastkmeans.io._batch import Batch, densify, require_finite

__all__ = ["RECORDS_PER_BLOCK", "read_recordio_rows", "recordio_module"]

RECORDS_PER_BLOCK = 4096
"""Records parsed per block (one row each; sparse blocks are densified one block at a time)."""


def recordio_module() -> ModuleType:
    """Return ``fastkmeans.io._recordio``, or raise an ImportError saying it is missing from this build."""
    try:
        return importlib.import_module("fastkmeans.io._recordio")
    except ModuleNotFoundError as error:
        if error.name != "fastkmeans.io._recordio":
            raise
        raise ImportError("RecordIO-protobuf support (fastkmeans.io._recordio) is not part of this build of "
                          "fastkmeans; convert the data to CSV, .npy or Parquet, or install a release that "
                          "reads RecordIO.") from None


def read_recordio_rows(path: str) -> Iterator[Batch]:
    """Yield the rows of a RecordIO-protobuf file (dense or sparse records) in blocks.

    Parameters
    ----------
    path : str
        The file.

    Yields
    ------
    Batch
        Dense float32/float64 rows with the 0-based index of each record.
    """
    for rows, first_record in recordio_module().iter_recordio(path, RECORDS_PER_BLOCK):
        batch = Batch(densify(rows), path, int(first_record), "record")
        require_finite(batch.rows, batch.where)
        yield batch
