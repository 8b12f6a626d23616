"""MXNet's NDArray list format (``mx.nd.save`` / ``mx.nd.load``), the bytes of SageMaker's ``model_algo-1``.

Layout, little-endian (apache/mxnet 1.9.1 src/ndarray/ndarray.cc; SAGEMAKER_KMEANS.md section 5)::

    u64 0x112 (kMXAPINDArrayListMagic), u64 reserved
    u64 N, then N NDArray records
    u64 M (0 for a list, N for a dict), then M names, each u64 length + UTF-8 bytes

One record, in the three versions MXNet 1.x reads::

    V2      u32 0xF993FAC9, i32 stype, shape, context, i32 type_flag, raw C-order data
    V1      u32 0xF993FAC8,            shape, context, i32 type_flag, raw C-order data
    legacy  u32 ndim, ndim x u32 dims,        context, i32 type_flag, raw C-order data

where shape is i32 ndim + ndim x i64 and context is i32 dev_type + i32 dev_id. An ndim of 0 is
a "none" array: nothing follows its shape. ``mx.nd.save`` writes V2 (dense, stype 0, cpu(0)).

The reader takes untrusted bytes: every count and shape is checked against the bytes that are
left before anything is allocated, so a header claiming a huge array costs nothing.
"""

from __future__ import annotations

import math
import struct
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

__all__ = ["LIST_MAGIC", "NDArrayError", "load_ndarray_list", "save_ndarray_list"]

LIST_MAGIC = 0x112
_V1_MAGIC, _V2_MAGIC, _V3_MAGIC = 0xF993FAC8, 0xF993FAC9, 0xF993FACA
# mshadow's type flags.
_DTYPES: Dict[int, str] = {0: "<f4", 1: "<f8", 2: "<f2", 3: "|u1", 4: "<i4", 5: "|i1", 6: "<i8"}
_TYPE_FLAGS = {np.dtype(dtype): flag for flag, dtype in _DTYPES.items()}
_STORAGE = {1: "row_sparse", 2: "csr"}
_CPU = 1
# MXNet's own limit on dimensions is far above anything real; this keeps a crafted ndim cheap.
MAX_NDIM = 32


class NDArrayError(ValueError):
    """Bytes that are not a readable MXNet NDArray list."""


class _Cursor:
    """Reads little-endian fields from bytes, naming what it was reading when the bytes run out."""

    def __init__(self, content: bytes, name: str) -> None:
        self.view, self.position, self.name = memoryview(content), 0, name

    @property
    def left(self) -> int:
        return len(self.view) - self.position

    def fail(self, message: str) -> NDArrayError:
        return NDArrayError(f"{self.name}: {message} (at byte {self.position}).")

    def take(self, count: int, what: str) -> memoryview:
        if count > self.left:
            raise self.fail(f"is truncated: {what} needs {count} bytes, {self.left} are left")
        start = self.position
        self.position += count
        return self.view[start:self.position]

    def unpack(self, fmt: str, what: str) -> Tuple[int, ...]:
        layout = struct.Struct("<" + fmt)
        return layout.unpack(self.take(layout.size, what))

    def one(self, fmt: str, what: str) -> int:
        value: int = self.unpack(fmt, what)[0]
        return value


def load_ndarray_list(content: bytes, name: str = "<bytes>") -> Tuple[List[Optional[np.ndarray]], List[str]]:
    """Read the arrays (None for a "none" array) and names (empty for a list) of an NDArray file.

    Parameters
    ----------
    content : bytes
        The whole file, e.g. ``model_algo-1``.
    name : str, default="<bytes>"
        What to call the input in error messages.

    Returns
    -------
    arrays : list of ndarray or None
        The arrays in file order, with their shapes and dtypes (float32, float64, float16, uint8,
        int32, int8 or int64), writable copies.
    names : list of str
        Empty for a list (``mx.nd.save(f, [a])``), one per array for a dict.

    Raises
    ------
    NDArrayError
        A ValueError naming the problem and the byte offset: another kind of file, a truncated
        one, an unknown record version or type, sparse storage, or a shape larger than the bytes left.

    Examples
    --------
    >>> import numpy as np
    >>> from fastkmeans._ndarray import load_ndarray_list, save_ndarray_list
    >>> centers = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    >>> content = save_ndarray_list([centers])
    >>> len(content), content[:8].hex(" ")
    (88, '12 01 00 00 00 00 00 00')
    >>> arrays, names = load_ndarray_list(content)
    >>> print(arrays[0], names)
    [[1. 2.]
     [3. 4.]] []
    """
    cursor = _Cursor(content, name)
    if len(content) < 16 or cursor.one("Q", "the list magic") != LIST_MAGIC:
        raise NDArrayError(f"{name}: is not an MXNet NDArray file (it does not start with the list magic 0x112).")
    cursor.take(8, "the reserved field")
    count = cursor.one("Q", "the number of arrays")
    # The smallest record (a legacy "none" array) is 4 bytes: more records than that cannot fit.
    if count > cursor.left // 4:
        raise cursor.fail(f"claims {count} arrays, more than its {cursor.left} remaining bytes can hold")
    arrays = [_record(cursor, index) for index in range(count)]
    n_names = cursor.one("Q", "the number of names")
    if n_names not in (0, count):
        raise cursor.fail(f"has {n_names} names for {count} arrays (a list has none, a dict one per array)")
    names = []
    for index in range(n_names):
        length = cursor.one("Q", f"the length of name {index}")
        raw = cursor.take(length, f"name {index}")
        try:
            names.append(bytes(raw).decode("utf-8"))
        except UnicodeDecodeError:
            raise cursor.fail(f"name {index} is not UTF-8") from None
    if cursor.left:
        raise cursor.fail(f"has {cursor.left} bytes after the last name")
    return arrays, names


def _record(cursor: _Cursor, index: int) -> Optional[np.ndarray]:
    what = f"array {index}"
    magic = cursor.one("I", f"the magic of {what}")
    if magic == _V2_MAGIC:
        stype = cursor.one("i", f"the storage type of {what}")
        if stype != 0:
            kind = _STORAGE.get(stype, f"unknown storage type {stype}")
            raise cursor.fail(f"{what} has {kind} storage; only dense arrays are read")
        shape = _shape(cursor, cursor.one("i", f"the ndim of {what}"), "q", what)
    elif magic == _V1_MAGIC:
        shape = _shape(cursor, cursor.one("i", f"the ndim of {what}"), "q", what)
    elif magic == _V3_MAGIC:
        raise cursor.fail(f"{what} is a V3 (numpy-shape, MXNet 2) record; MXNet 1.x's V2, V1 and legacy are read")
    elif magic <= MAX_NDIM:  # legacy: no magic, the first word is ndim and the dims are u32
        shape = _shape(cursor, magic, "I", what)
    else:
        raise cursor.fail(f"{what} starts with 0x{magic:08X}: not an NDArray record magic (V2 0xF993FAC9, "
                          f"V1 0xF993FAC8) nor a legacy ndim <= {MAX_NDIM}")
    if not shape:
        return None  # MXNet's "none" array: no context, type or data follow
    dev_type, _ = cursor.unpack("ii", f"the context of {what}")
    if dev_type not in (1, 2, 3, 5):
        raise cursor.fail(f"{what} has device type {dev_type}; expected 1 (cpu), 2 (gpu), 3 or 5")
    type_flag = cursor.one("i", f"the type of {what}")
    if type_flag not in _DTYPES:
        raise cursor.fail(f"{what} has type flag {type_flag}; known: {sorted(_DTYPES)}")
    dtype = np.dtype(_DTYPES[type_flag])
    size = math.prod(shape)
    if size * dtype.itemsize > cursor.left:
        raise cursor.fail(f"{what} claims shape {shape} of {dtype.name}, {size * dtype.itemsize} bytes, but only "
                          f"{cursor.left} are left")
    data = cursor.take(size * dtype.itemsize, f"the data of {what}")
    return np.frombuffer(data, dtype=dtype, count=size).reshape(shape).copy()


def _shape(cursor: _Cursor, ndim: int, fmt: str, what: str) -> Tuple[int, ...]:
    if not 0 <= ndim <= MAX_NDIM:
        raise cursor.fail(f"{what} has ndim {ndim}; expected 0 to {MAX_NDIM}")
    dims = cursor.unpack(fmt * ndim, f"the shape of {what}")
    if any(dim < 0 for dim in dims):
        raise cursor.fail(f"{what} has shape {dims} with a negative dimension")
    return tuple(dims)


def save_ndarray_list(arrays: Sequence[np.ndarray], names: Optional[Sequence[str]] = None) -> bytes:
    """Return the bytes ``mx.nd.save`` writes for these arrays: V2 dense records on cpu(0).

    Parameters
    ----------
    arrays : sequence of ndarray
        Arrays of 1 to 32 dimensions, float32, float64, float16, uint8, int32, int8 or int64.
    names : sequence of str or None, default=None
        None for a list (what SageMaker's ``model_algo-1`` is), one name per array for a dict.

    Returns
    -------
    bytes
        The file's content.

    Examples
    --------
    >>> import numpy as np
    >>> from fastkmeans._ndarray import save_ndarray_list
    >>> content = save_ndarray_list([np.zeros((8, 7), dtype=np.float32)])
    >>> len(content) == 72 + 4 * 8 * 7  # 296 bytes, as SageMaker's k = 8, d = 7 file
    True
    """
    if names is not None and len(names) != len(arrays):
        raise ValueError(f"{len(names)} names for {len(arrays)} arrays")
    parts = [struct.pack("<QQQ", LIST_MAGIC, 0, len(arrays))]
    for array in arrays:
        array = np.asarray(array)
        dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
        if dtype not in _TYPE_FLAGS:
            raise ValueError(f"MXNet has no type for {array.dtype}; use one of {sorted(_DTYPES.values())}")
        if not 1 <= array.ndim <= MAX_NDIM:
            raise ValueError(f"an array of {array.ndim} dimensions cannot be saved (1 to {MAX_NDIM})")
        parts.append(struct.pack(f"<Iii{array.ndim}q", _V2_MAGIC, 0, array.ndim, *array.shape))
        parts.append(struct.pack("<iii", _CPU, 0, _TYPE_FLAGS[dtype]))
        parts.append(np.ascontiguousarray(array, dtype=dtype).tobytes())
    parts.append(struct.pack("<Q", 0 if names is None else len(names)))
    for name in names or ():
        encoded = name.encode("utf-8")
        parts.append(struct.pack("<Q", len(encoded)) + encoded)
    return b"".join(parts)
