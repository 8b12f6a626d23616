"""Data files: SageMaker's training formats, read in batches and written as SageMaker writes them.

RecordIO-protobuf (``application/x-recordio-protobuf``): ``read_recordio`` reads a whole file,
``iter_recordio`` streams it in batches of rows, ``write_recordio`` writes a dense array or a
SciPy sparse matrix byte for byte as the SageMaker SDK does, and ``RecordIOError`` names the
file and the record of any problem.
"""

from fastkmeans.io._recordio import RecordIOError, iter_recordio, read_recordio, write_recordio

__all__ = ["RecordIOError", "iter_recordio", "read_recordio", "write_recordio"]
