"""Data in: files and streams that ``KMeans`` trains on and predicts for without loading them.

``KMeans.fit`` and friends take, besides arrays, a path, a list of paths, a directory (a SageMaker
channel) or an iterable of arrays; ``open_source`` adds options (content type, header, columns,
dtype, shuffle buffer). Formats: CSV (SageMaker's ``text/csv``, also gzip-compressed),
whitespace-separated text, NumPy ``.npy``, Parquet and RecordIO-protobuf (dense and sparse).

Training streams: it reads blocks of rows, draws random mini-batches from a shuffle buffer, and
re-reads the source once per epoch, in memory bounded by the buffer and the mini-batch whatever
the size of the data. CSV and Parquet need pyarrow (``pip install "fastkmeans-sagemaker[io]"``).
"""

from __future__ import annotations

from fastkmeans.io._batch import Batch, DataError, densify
from fastkmeans.io._content import CSV, NPY, PARQUET, RECORDIO, TEXT, ContentType, detect, parse_content_type
from fastkmeans.io._recordio import RecordIOError, iter_recordio, read_recordio, write_recordio
from fastkmeans.io._shuffle import ShuffleBuffer, default_buffer_rows
from fastkmeans.io._source import Source, as_source, open_source

__all__ = [
    "CSV", "NPY", "PARQUET", "RECORDIO", "TEXT", "Batch", "ContentType", "DataError", "RecordIOError",
    "ShuffleBuffer", "Source", "as_source", "default_buffer_rows", "densify", "detect", "iter_recordio",
    "open_source", "parse_content_type", "read_recordio", "write_recordio",
]
