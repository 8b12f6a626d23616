"""NumPy ``.npy`` files, read in row blocks.

The header is read by ``numpy.load(mmap_mode="r")`` (nothing is loaded), the rows of a C-order file
by plain reads into a block-sized buffer: unlike slicing the memory map, this keeps the resident
memory at one block however large the file (pages of a memory map count as resident once touched).
Fortran-order files, whose rows are not contiguous, are sliced from the memory map instead.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from fastkmeans.io._batch import Batch, DataError, densify, require_finite

__all__ = ["read_npy"]


def read_npy(path: str, *, block_bytes: int) -> Iterator[Batch]:
    """Yield the rows of a 2-D numeric .npy file in blocks of about ``block_bytes``.

    Parameters
    ----------
    path : str
        The file.
    block_bytes : int
        Target size of a block.

    Yields
    ------
    Batch
        float32/float64 rows (float32 and float64 files keep their type; other numbers become
        float64, float16 float32), with their 0-based row numbers.
    """
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise DataError(f"{path} is not a readable .npy file (truncated or corrupted?): {error}") from None
    if not isinstance(array, np.memmap):  # np.load gives a plain array for an empty (0-size) file
        array = np.asarray(array)
    if array.dtype.kind not in "fiub" or array.dtype.fields is not None:
        raise DataError(f"{path} holds {array.dtype} values; expecting numbers.")
    if array.ndim != 2:
        raise DataError(f"{path} holds an array of shape {array.shape}; expecting 2-D (rows x features).")
    n_rows, n_features = array.shape
    if n_rows == 0 or n_features == 0:
        raise DataError(f"{path} is empty: shape {array.shape}.")
    block_rows = max(1, block_bytes // max(1, n_features * array.dtype.itemsize))
    contiguous = array.flags.c_contiguous and isinstance(array, np.memmap)
    offset = int(array.offset) if isinstance(array, np.memmap) else 0
    with open(path, "rb") as file:
        for start in range(0, n_rows, block_rows):
            count = min(block_rows, n_rows - start)
            if contiguous:
                file.seek(offset + start * n_features * array.dtype.itemsize)
                flat = np.fromfile(file, dtype=array.dtype, count=count * n_features)
                if flat.size != count * n_features:
                    raise DataError(f"{path}, row {start}: the file is truncated (its header promises "
                                    f"{n_rows} rows).")
                block = flat.reshape(count, n_features)
            else:
                block = np.asarray(array[start:start + count])
            if not block.dtype.isnative:
                block = block.astype(block.dtype.newbyteorder("="))
            batch = Batch(densify(block), path, start, "row")
            require_finite(batch.rows, batch.where)
            yield batch
