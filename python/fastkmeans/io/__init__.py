"""Data in: files and streams that ``KMeans`` trains on and predicts for without loading them.

``KMeans.fit`` and friends take, besides arrays, a path, a list of paths, a directory (a SageMaker
channel) or an iterable of arrays; ``open_source`` adds options (content type, header, columns,
dtype, shuffle buffer). Formats: CSV (SageMaker's ``text/csv``, also gzip-compressed),
whitespace-separated text, NumPy ``.npy``, Parquet and RecordIO-protobuf (dense and sparse).

Training streams: it reads blocks of rows, draws random mini-batches from a shuffle buffer, and
re-reads the source once per epoch, in memory bounded by the buffer and the mini-batch whatever
the size of the data. CSV and Parquet need pyarrow (``pip install "fastkmeans[io]"``).
"""

from __future__ import annotations

from typing import Any

from fastkmeans.io._batch import Batch, DataError, densify
from fastkmeans.io._content import CSV, NPY, PARQUET, RECORDIO, TEXT, ContentType, detect, parse_content_type
from fastkmeans.io._shuffle import ShuffleBuffer, default_buffer_rows
from fastkmeans.io._source import Source, as_source, open_source

__all__ = [
    "CSV", "NPY", "PARQUET", "RECORDIO", "TEXT", "Batch", "ContentType", "DataError", "ShuffleBuffer", "Source",
    "as_source", "default_buffer_rows", "densify", "detect", "open_source", "parse_content_type", "read_recordio",
    "write_recordio",
]

_RECORDIO_NAMES = ("read_recordio", "write_recordio", "iter_recordio", "RecordIOError")


def __getattr__(name: str) -> Any:
    """Load ``read_recordio``, ``write_recordio`` and friends from the RecordIO module on first use."""
    if name in _RECORDIO_NAMES:
        from fastkmeans.io._recordio_source import recordio_module

        return getattr(recordio_module(), name)
    raise AttributeError(f"module 'fastkmeans.io' has no attribute {name!r}")
