"""fastkmeans' own model file: ``KMeans.save(path)`` and ``fastkmeans.load(path)``.

Layout (all integers little-endian)::

    offset 0   magic      8 bytes  89 'F' 'K' 'M' 0d 0a 1a 0a
           8   u32        format version (1)
          12   u32        reserved, 0
          16   u64        total file length, checksum included
          24   u64        length of the metadata
          32   metadata   UTF-8 JSON: kind, versions, hyperparameters, fitted scalars, streaming
                          state scalars, and where each array lies (dtype, shape, offset, bytes)
               padding    zeros up to a multiple of 64: the data section starts here
               arrays     raw C-order little-endian arrays, each at a multiple of 64 bytes
      end-32   checksum   SHA-256 of every byte before it

The magic's first byte has the high bit set and it holds CR LF, ^Z and LF, as PNG's does, so a
copy through a 7-bit or newline-translating channel is caught as "not a model" rather than as
garbage. The arrays are read with ``numpy.frombuffer`` straight out of the file's bytes (no text
parsing); nothing in the file is ever executed: the metadata is JSON, read against a fixed list of
attributes, types and shapes.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Mapping, Optional, Tuple, Union

import numpy as np

from fastkmeans._atomic import write_atomically

if TYPE_CHECKING:  # pragma: no cover
    from fastkmeans import KMeans

__all__ = ["FORMAT_VERSION", "MAGIC", "load", "save"]

MAGIC = b"\x89FKM\r\n\x1a\n"
FORMAT_VERSION = 1
KIND = "fastkmeans.KMeans"
_HEADER = struct.Struct("<8sIIQQ")
_CHECKSUM_BYTES = 32
_ALIGN = 64

PathLike = Union[str, "os.PathLike[str]"]

# What a file may hold, and nothing else: attribute -> allowed dtypes (arrays) or Python type.
_ARRAYS: Dict[str, Tuple[str, ...]] = {
    "cluster_centers_": ("<f4", "<f8"),
    "cluster_weights_": ("<f8",),
    "cluster_sizes_": ("<i8",),
}
_SCALARS: Dict[str, type] = {
    "n_features_in_": int, "inertia_": float, "n_iter_": int, "n_steps_": int,
    "extra_center_factor_": int, "local_lloyd_num_trials_": int,
}
_METRICS = ("train_metrics_", "test_metrics_")
_STATE_ARRAYS: Dict[str, Tuple[str, ...]] = {
    "centers": ("<f4", "<f8"), "counts": ("<f8",), "far_points": ("<f4", "<f8"),
    "far_weights": ("<f8",), "far_dist2": ("<f8",),
}
_STATE_SCALARS = ("points_seen", "seed")
# n_threads is the one hyperparameter that acts at predict time: a crafted file must not make
# predict start a million threads.
MAX_THREADS = 1024
# Fitted attributes left out on purpose: labels_ describes the training rows, not the model (and
# has one entry per row); predict(X_train) gives it back.
OMITTED = ("labels_",)


def save(model: KMeans, path: PathLike) -> None:
    """Write a fitted estimator to ``path`` atomically (see ``KMeans.save``)."""
    model._require_fitted()
    metadata, arrays = _describe(model)
    encoded = json.dumps(metadata, separators=(",", ":"), allow_nan=False).encode("utf-8")
    data_start = _aligned(_HEADER.size + len(encoded))
    total = data_start + metadata["data_bytes"] + _CHECKSUM_BYTES
    header = _HEADER.pack(MAGIC, FORMAT_VERSION, 0, total, len(encoded))
    write_atomically(path, _signed(_chunks(header, encoded, data_start, arrays)))


def _describe(model: KMeans) -> Tuple[Dict[str, Any], List[Tuple[str, np.ndarray]]]:
    """Return the JSON metadata and the arrays, in file order, of a fitted estimator."""
    from fastkmeans import __version__

    arrays: List[Tuple[str, np.ndarray, Tuple[str, ...]]] = []
    fitted: Dict[str, Any] = {}
    for name, allowed in _ARRAYS.items():
        if hasattr(model, name):
            arrays.append((name, getattr(model, name), allowed))
    for name, kind in _SCALARS.items():
        if hasattr(model, name):
            fitted[name] = kind(getattr(model, name))
    for name in _METRICS:
        if hasattr(model, name):
            fitted[name] = {str(key): float(value) for key, value in getattr(model, name).items()}
    if hasattr(model, "feature_names_in_"):
        fitted["feature_names_in_"] = [str(name) for name in model.feature_names_in_]
    state: Optional[Dict[str, Any]] = getattr(model, "_state", None)
    state_scalars = None
    if state is not None:
        state_scalars = {name: int(state[name]) for name in _STATE_SCALARS}
        arrays.extend((f"state.{name}", state[name], allowed) for name, allowed in _STATE_ARRAYS.items())
    described, offset = {}, 0
    little: List[Tuple[str, np.ndarray]] = []
    for name, array, allowed in arrays:
        # Little-endian, and in a dtype the reader takes (int32 cluster sizes, say, become int64).
        dtype = np.asarray(array).dtype.newbyteorder("<")
        array = np.ascontiguousarray(array, dtype=dtype if dtype.str in allowed else allowed[0])
        offset = _aligned(offset)
        described[name] = {"dtype": array.dtype.str, "shape": list(array.shape), "offset": offset,
                           "bytes": array.nbytes}
        little.append((name, array))
        offset += array.nbytes
    metadata = {
        "kind": KIND,
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "params": _params(model.get_params()),
        "fitted": fitted,
        "state": state_scalars,
        "arrays": described,
        "data_bytes": offset,
    }
    return metadata, little


def _params(params: Mapping[str, Any]) -> Dict[str, Any]:
    """Return the hyperparameters as JSON values.

    A RandomState or Generator is not data: it is stored as null (the fitted state keeps the seed
    the run drew from it, so resuming is unaffected). ``initial_centers`` is training input, not
    part of the model: it is left out.
    """
    out: Dict[str, Any] = {}
    for name, value in params.items():
        if name in ("initial_centers", "device"):  # training input and a run-time choice, not the model
            continue
        if isinstance(value, (np.integer, np.floating)):
            value = value.item()
        if name == "eval_metrics":
            value = list(value) if isinstance(value, (list, tuple)) else value
        if name == "random_state" and not isinstance(value, (int, type(None))):
            value = None
        out[name] = value
    return out


def _chunks(header: bytes, encoded: bytes, data_start: int,
            arrays: List[Tuple[str, np.ndarray]]) -> Iterator[Union[bytes, memoryview]]:
    yield header
    yield encoded
    position = _HEADER.size + len(encoded)
    for _, array in arrays:
        start = data_start + _aligned(position - data_start)
        yield bytes(start - position)
        yield array.reshape(-1).view(np.uint8).data
        position = start + array.nbytes


def _signed(chunks: Iterator[Union[bytes, memoryview]]) -> Iterator[Union[bytes, memoryview]]:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
        yield chunk
    yield digest.digest()


def _aligned(offset: int) -> int:
    return -(-offset // _ALIGN) * _ALIGN


# Reading -----------------------------------------------------------------------------------------


def load(path: PathLike) -> KMeans:
    """Read a model written by ``KMeans.save``: it predicts, and ``partial_fit`` continues its training.

    Nothing in the file is executed. The arrays are read straight from the file's bytes (a model of
    1,000 centres x 1,000 features loads in milliseconds); every fitted attribute but ``labels_``
    comes back, with the streaming state, so ``partial_fit`` on the loaded model gives the same
    centres as if training had never stopped.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by ``KMeans.save``.

    Returns
    -------
    KMeans
        The fitted estimator.

    Raises
    ------
    ValueError
        Naming the file and the problem: not a fastkmeans model (with a guess at what it is), a
        newer format version, truncated, corrupted (checksum mismatch), or inconsistent content.
    OSError
        When the file cannot be read.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import fastkmeans
    >>> X = np.array([[0, 0], [0, 2], [10, 10], [10, 12]], dtype=np.float64)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     fastkmeans.KMeans(k=2, random_state=0).fit(X).save(os.path.join(folder, "model.fkm"))
    ...     model = fastkmeans.load(os.path.join(folder, "model.fkm"))
    >>> print(np.sort(model.cluster_centers_, axis=0))
    [[ 0.  1.]
     [10. 11.]]
    >>> model.train_metrics_
    {'msd': 1.0}
    """
    name = os.fspath(path)
    with open(name, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        head = file.read(_HEADER.size)
        _check_header(head, size, name)
        content = bytearray(size)
        content[:_HEADER.size] = head
        if file.readinto(memoryview(content)[_HEADER.size:]) != size - _HEADER.size:
            raise ValueError(f"{name}: is truncated: the file shrank while it was read.")
    return decode(content, name)


def decode(content: bytearray, name: str = "<bytes>") -> KMeans:
    """Build the estimator held in the bytes of a model file; every problem is a ValueError naming ``name``."""
    _check_header(bytes(content[:_HEADER.size]), len(content), name)
    body = memoryview(content)[:-_CHECKSUM_BYTES]
    if hashlib.sha256(body).digest() != bytes(content[-_CHECKSUM_BYTES:]):
        raise ValueError(f"{name}: is corrupted: its SHA-256 checksum does not match its content (a changed "
                         "byte, or a damaged copy).")
    metadata_length = _HEADER.unpack_from(content)[4]
    try:
        metadata = json.loads(bytes(content[_HEADER.size:_HEADER.size + metadata_length]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ValueError(f"{name}: has unreadable metadata ({error}).") from None
    data = memoryview(content)[_aligned(_HEADER.size + metadata_length):-_CHECKSUM_BYTES]
    return _build(metadata, data, name)


def _check_header(head: bytes, size: int, name: str) -> None:
    if len(head) < len(MAGIC) or head[:len(MAGIC)] != MAGIC:
        raise ValueError(f"{name}: is not a fastkmeans model file ({_what_it_is(head)}).")
    if len(head) < _HEADER.size:
        raise ValueError(f"{name}: is truncated: {len(head)} bytes, not even the {_HEADER.size}-byte header.")
    _, version, _, total, metadata_length = _HEADER.unpack(head)
    if version > FORMAT_VERSION:
        from fastkmeans import __version__

        raise ValueError(f"{name}: was written in model format version {version}, newer than this fastkmeans "
                         f"({__version__}) reads (up to {FORMAT_VERSION}): upgrade fastkmeans to load it.")
    if version == 0:
        raise ValueError(f"{name}: is corrupted: its header gives format version 0.")
    if size < total:
        raise ValueError(f"{name}: is truncated: its header says {total} bytes, the file has {size}.")
    if size > total:
        raise ValueError(f"{name}: is corrupted: it has {size} bytes, but its header says {total} "
                         "(bytes added at the end, or a damaged header).")
    if total < _HEADER.size + _CHECKSUM_BYTES or metadata_length > total - _HEADER.size - _CHECKSUM_BYTES:
        raise ValueError(f"{name}: is corrupted: its header's lengths ({total} bytes in all, {metadata_length} "
                         "of metadata) do not fit together.")
    if _aligned(_HEADER.size + metadata_length) > total - _CHECKSUM_BYTES:
        raise ValueError(f"{name}: is corrupted: the data section would start past the end of the file.")


def _what_it_is(head: bytes) -> str:
    """Guess the kind of a file that is not ours, for the error message."""
    if head.startswith(b"\x1f\x8b"):
        return "it is gzip-compressed: a SageMaker model.tar.gz? Use fastkmeans.sagemaker.load_model"
    if head.startswith(struct.pack("<Q", 0x112)):
        return "it is an MXNet NDArray file: SageMaker's model_algo-1? Use fastkmeans.sagemaker.load_model"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "it is a pickle, which fastkmeans never loads as a model: use pickle.load if you trust it"
    if head.startswith(b"\x89FKM"):
        return "the magic bytes are damaged: newlines converted by a text-mode copy?"
    if not head:
        return "it is empty"
    return f"it starts with {head[:8]!r}"


# Checking the metadata: a file that passed the checksum may still have been crafted -------------


class _Reader:
    """Checks of one file's metadata; every failure is a ValueError that names the file and the field."""

    def __init__(self, name: str, data: memoryview) -> None:
        self.name, self.data = name, data

    def fail(self, message: str) -> ValueError:
        return ValueError(f"{self.name}: is not a valid model: {message}.")

    def table(self, value: Any, what: str) -> Dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(f"{what} should be a JSON object, not {type(value).__name__}")
        return value

    def integer(self, value: Any, what: str, minimum: int = 0, maximum: int = 2**64 - 1) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
            raise self.fail(f"{what} should be an integer in [{minimum}, {maximum}], not {value!r}")
        return value

    def real(self, value: Any, what: str) -> float:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise self.fail(f"{what} should be a number, not {value!r}")
        return float(value)

    def array(self, name: str, entry: Any, allowed: Tuple[str, ...], shape: Tuple[Optional[int], ...]) -> np.ndarray:
        """Return the array described by ``entry``; ``shape`` gives each dimension, None for any size."""
        entry = self.table(entry, f"array {name}")
        dtype = entry.get("dtype")
        if dtype not in allowed:
            raise self.fail(f"array {name} has dtype {dtype!r}; expected {' or '.join(allowed)}")
        dims = entry.get("shape")
        if not isinstance(dims, list) or len(dims) != len(shape):
            raise self.fail(f"array {name} has shape {dims!r}; expected {len(shape)} dimensions")
        for index, (dim, expected) in enumerate(zip(dims, shape)):
            self.integer(dim, f"dimension {index} of array {name}", maximum=len(self.data))
            if expected is not None and dim != expected:
                raise self.fail(f"array {name} has shape {tuple(dims)}, but the model needs "
                                f"{tuple('any' if e is None else e for e in shape)}")
        itemsize = np.dtype(dtype).itemsize
        nbytes = itemsize * math.prod(dims)
        offset = self.integer(entry.get("offset"), f"offset of array {name}")
        if entry.get("bytes") != nbytes or offset % _ALIGN or offset + nbytes > len(self.data):
            raise self.fail(f"array {name} ({nbytes} bytes at offset {offset}) does not lie in the "
                            f"{len(self.data)}-byte data section")
        array = np.frombuffer(self.data, dtype=dtype, count=math.prod(dims), offset=offset).reshape(dims)
        return array if array.ctypes.data % itemsize == 0 else array.copy()


def _build(metadata: Any, data: memoryview, name: str) -> KMeans:
    from fastkmeans import KMeans

    read = _Reader(name, data)
    metadata = read.table(metadata, "the metadata")
    if metadata.get("kind") != KIND:
        raise read.fail(f"it holds {metadata.get('kind')!r}, not a {KIND}")
    model = KMeans(**_checked_params(read, metadata.get("params")))
    described = read.table(metadata.get("arrays"), "arrays")
    unknown = sorted(set(described) - set(_ARRAYS) - {f"state.{key}" for key in _STATE_ARRAYS})
    if unknown:
        raise read.fail(f"unknown arrays {unknown}")
    _build_fitted(read, model, read.table(metadata.get("fitted"), "fitted"), described)
    _build_state(read, model, metadata.get("state"), described, model.cluster_centers_.dtype.str)
    return model


def _checked_params(read: _Reader, found: Any) -> Dict[str, Any]:
    """Return the file's hyperparameters, checked as the constructor's are (and n_threads bounded)."""
    from fastkmeans._hyperparameters import check_hyperparameters

    params: Dict[str, Any] = dict(read.table(found, "params"))
    try:
        check_hyperparameters(**params)
    except ValueError as error:
        raise read.fail(f"its hyperparameters are invalid: {error}") from None
    if isinstance(params.get("n_threads"), int) and params["n_threads"] > MAX_THREADS:
        raise read.fail(f"n_threads={params['n_threads']} is more than the {MAX_THREADS} a model file may ask for")
    if params.get("random_state") is not None:
        read.integer(params["random_state"], "random_state")
    if isinstance(params.get("eval_metrics"), list):
        params["eval_metrics"] = tuple(params["eval_metrics"])
    return params


def _build_fitted(read: _Reader, model: KMeans, fitted: Dict[str, Any], described: Dict[str, Any]) -> None:
    """Restore the centres and every fitted attribute the file holds, each checked against k and d."""
    unknown = sorted(set(fitted) - set(_SCALARS) - set(_METRICS) - {"feature_names_in_"})
    if unknown:
        raise read.fail(f"unknown fitted attributes {unknown}")
    n_features = read.integer(fitted.get("n_features_in_"), "n_features_in_", minimum=1)
    if "cluster_centers_" not in described:
        raise read.fail("it holds no cluster_centers_")
    centers = read.array("cluster_centers_", described["cluster_centers_"], _ARRAYS["cluster_centers_"],
                         (model.k, n_features))
    if not np.isfinite(centers).all():
        raise read.fail("cluster_centers_ holds NaN or infinity")
    if model.feature_dim is not None and model.feature_dim != n_features:
        raise read.fail(f"feature_dim={model.feature_dim}, but the centres have {n_features} features")
    model.cluster_centers_ = centers
    for attribute in ("cluster_weights_", "cluster_sizes_"):
        if attribute in described:
            setattr(model, attribute, read.array(attribute, described[attribute], _ARRAYS[attribute], (model.k,)))
    for attribute, kind in _SCALARS.items():
        if attribute in fitted:
            value = fitted[attribute]
            setattr(model, attribute, read.real(value, attribute) if kind is float else read.integer(value, attribute))
    for attribute in _METRICS:
        if attribute in fitted:
            metrics = read.table(fitted[attribute], attribute)
            if not set(metrics) <= {"msd", "ssd"}:
                raise read.fail(f"{attribute} names {sorted(metrics)}; expected msd and ssd")
            setattr(model, attribute, {key: read.real(value, f"{attribute}[{key!r}]")
                                       for key, value in metrics.items()})
    if "feature_names_in_" in fitted:
        names = fitted["feature_names_in_"]
        if not isinstance(names, list) or len(names) != n_features or not all(isinstance(n, str) for n in names):
            raise read.fail(f"feature_names_in_ should be a list of {n_features} strings")
        model.feature_names_in_ = np.array(names, dtype=object)


def _build_state(read: _Reader, model: KMeans, scalars: Any, described: Dict[str, Any], dtype: str) -> None:
    """Restore the streaming state that ``partial_fit`` continues (K centres, counts, points seen, seed)."""
    if scalars is None:
        if any(key.startswith("state.") for key in described):
            raise read.fail("it holds state arrays but no state")
        return
    scalars = read.table(scalars, "state")
    if set(scalars) != set(_STATE_SCALARS) or set(f"state.{key}" for key in _STATE_ARRAYS) - set(described):
        raise read.fail(f"the streaming state should hold {list(_STATE_SCALARS)} and arrays {list(_STATE_ARRAYS)}")
    d = model.cluster_centers_.shape[1]
    centers = read.array("state.centers", described["state.centers"], (dtype,), (None, d))
    n_centers = centers.shape[0]
    if n_centers < model.k:
        raise read.fail(f"the streaming state has {n_centers} centres, fewer than k={model.k}")
    far_points = read.array("state.far_points", described["state.far_points"], (dtype,), (None, d))
    n_far = far_points.shape[0]
    model._state = {
        "centers": centers,
        "counts": read.array("state.counts", described["state.counts"], _STATE_ARRAYS["counts"], (n_centers,)),
        "points_seen": read.integer(scalars["points_seen"], "state points_seen"),
        "far_points": far_points,
        "far_weights": read.array("state.far_weights", described["state.far_weights"], ("<f8",), (n_far,)),
        "far_dist2": read.array("state.far_dist2", described["state.far_dist2"], ("<f8",), (n_far,)),
        "seed": read.integer(scalars["seed"], "state seed"),
    }
    for key in ("n_steps_", "extra_center_factor_", "local_lloyd_num_trials_"):
        if not hasattr(model, key):
            raise read.fail(f"it holds a streaming state but no {key}")
