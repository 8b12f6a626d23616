"""SageMaker's model artifact both ways: ``model.tar.gz`` holding ``model_algo-1``.

``save_model(model, path)`` writes what SageMaker's built-in k-means writes, so SageMaker hosting
(and ``mx.nd.load``) takes a fastkmeans model; ``load_model(path)`` reads SageMaker's artifact into
a ``KMeans`` that predicts. ``model_algo-1`` is an MXNet NDArray list holding one (k, feature_dim)
float32 array, the centres (see ``fastkmeans._ndarray`` and SAGEMAKER_KMEANS.md section 5).

The archive is untrusted input: it is read as a stream (never extracted, nothing is written),
members that are links, devices or named outside the archive's folder are refused, and every size
is checked against ``max_bytes`` before it is read, so a decompression bomb costs neither memory
nor disk.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import tarfile
import time
import zlib
from typing import IO, TYPE_CHECKING, Any, Mapping, Optional, Union

import numpy as np

from fastkmeans._atomic import write_atomically
from fastkmeans._ndarray import load_ndarray_list, save_ndarray_list

if TYPE_CHECKING:  # pragma: no cover
    from fastkmeans import KMeans

__all__ = ["DEFAULT_MAX_BYTES", "MODEL_MEMBER", "load_model", "model_from_ndarray_file", "save_model"]

MODEL_MEMBER = "model_algo-1"
# 1 GiB: a model of 1,000 centres x 268,000 float32 features. Raise max_bytes for larger ones.
DEFAULT_MAX_BYTES = 1 << 30

PathLike = Union[str, "os.PathLike[str]"]


def save_model(model: KMeans, path: PathLike, *, dtype: Any = np.float32) -> None:
    """Write ``model`` as SageMaker's ``model.tar.gz`` (``model_algo-1``, an MXNet NDArray list).

    The archive is what SageMaker's k-means training job leaves in S3: one member, ``model_algo-1``
    (ustar, mode 0644, owner 0/0), holding ``[centres]`` as ``mx.nd.save`` writes it. Upload it
    and create a SageMaker model from it with the k-means inference image, or read it with
    ``mx.nd.load("model_algo-1")[0]``. The write is atomic.

    Parameters
    ----------
    model : KMeans
        A fitted estimator.
    path : str or os.PathLike
        The ``model.tar.gz`` to create or replace.
    dtype : {numpy.float32, numpy.float64}, default=numpy.float32
        Type of the stored centres; SageMaker's own artifacts are float32.

    Raises
    ------
    NotFittedError
        When ``model`` is not fitted.

    Examples
    --------
    >>> import os, tarfile, tempfile
    >>> import numpy as np
    >>> from fastkmeans import KMeans
    >>> from fastkmeans.sagemaker import load_model, save_model
    >>> X = np.array([[0, 0], [0, 2], [10, 10], [10, 12]], dtype=np.float64)
    >>> model = KMeans(k=2, random_state=0).fit(X)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     save_model(model, os.path.join(folder, "model.tar.gz"))
    ...     print(tarfile.open(os.path.join(folder, "model.tar.gz")).getnames())
    ...     loaded = load_model(os.path.join(folder, "model.tar.gz"))
    ['model_algo-1']
    >>> bool((loaded.predict(X) == model.predict(X)).all())
    True
    """
    model._require_fitted()
    if np.dtype(dtype) not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, not {np.dtype(dtype)}")
    content = save_ndarray_list([np.asarray(model.cluster_centers_, dtype=dtype)])
    buffer = io.BytesIO()
    now = int(time.time())
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=now) as compressed:
        with tarfile.open(fileobj=compressed, mode="w", format=tarfile.USTAR_FORMAT) as archive:
            info = tarfile.TarInfo(MODEL_MEMBER)
            info.size, info.mode, info.mtime = len(content), 0o644, now
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            archive.addfile(info, io.BytesIO(content))
    write_atomically(path, [buffer.getvalue()])


def load_model(path: PathLike, *, hyperparameters: Optional[Mapping[str, Any]] = None,
               max_bytes: int = DEFAULT_MAX_BYTES) -> KMeans:
    """Read SageMaker's ``model.tar.gz`` into a ``KMeans`` that predicts.

    Reads ``model_algo-1`` (V2, V1 or legacy NDArray records, float32 or float64 centres) and
    ignores the archive's other members, such as ``state_<uuid>``. The result has
    ``cluster_centers_`` and ``n_features_in_``; it predicts, transforms, assigns and scores. It has
    no streaming state, so ``partial_fit`` on it starts a new training.

    Parameters
    ----------
    path : str or os.PathLike
        A ``model.tar.gz`` (or an uncompressed tar) from a SageMaker k-means training job.
    hyperparameters : mapping or None, default=None
        The job's hyperparameters (``hyperparameters.json``, strings or Python values). Given, they
        are checked against the centres (``k`` rows, ``feature_dim`` columns) and become the
        estimator's; otherwise ``k`` and ``feature_dim`` are taken from the centres.
    max_bytes : int, default=DEFAULT_MAX_BYTES (1 GiB)
        Most bytes the archive may decompress to, all members together.

    Returns
    -------
    KMeans
        The fitted estimator.

    Raises
    ------
    ValueError
        Naming the file and the problem: not a gzip/tar file, a member with an unsafe name, a link
        or a device, more than ``max_bytes``, no ``model_algo-1`` or two of them, an unreadable
        NDArray list, centres that are not a 2-D float array, or hyperparameters that disagree.
    OSError
        When the file cannot be read.

    Examples
    --------
    >>> from fastkmeans.sagemaker import load_model
    >>> model = load_model("../shared/data/sagemaker-artifacts/us-population-2021/model.tar.gz")  # doctest: +SKIP
    >>> model.cluster_centers_.shape  # doctest: +SKIP
    (8, 7)
    """
    name = os.fspath(path)
    content = _read_member(name, MODEL_MEMBER, max_bytes)
    return _model_from_member(content, f"{name}: {MODEL_MEMBER}", hyperparameters)


def model_from_ndarray_file(path: PathLike, *, hyperparameters: Optional[Mapping[str, Any]] = None,
                            max_bytes: int = DEFAULT_MAX_BYTES) -> KMeans:
    """Read a bare ``model_algo-1`` (what SageMaker hosting unpacks ``model.tar.gz`` into) into a ``KMeans``.

    Parameters
    ----------
    path : str or os.PathLike
        The MXNet NDArray list file.
    hyperparameters : mapping or None, default=None
        As for ``load_model``.
    max_bytes : int, default=DEFAULT_MAX_BYTES (1 GiB)
        Largest file accepted.

    Returns
    -------
    KMeans
        The fitted estimator.

    Raises
    ------
    ValueError
        Naming the file and the problem, as ``load_model``.
    OSError
        When the file cannot be read.
    """
    name = os.fspath(path)
    if os.path.getsize(name) > max_bytes:
        raise ValueError(f"{name}: is larger than max_bytes={max_bytes}.")
    with open(name, "rb") as file:
        content = file.read()
    return _model_from_member(content, name, hyperparameters)


def _model_from_member(content: bytes, name: str, hyperparameters: Optional[Mapping[str, Any]]) -> KMeans:
    from fastkmeans import KMeans  # imported here: the package imports this module first

    arrays, names = load_ndarray_list(content, name)
    centers = arrays[0] if len(arrays) == 1 and not names else None
    if centers is None or centers.ndim != 2 or centers.dtype not in (np.float32, np.float64) or 0 in centers.shape:
        found = "a dict" if names else f"{len(arrays)} arrays" if len(arrays) != 1 else (
            "a none array" if arrays[0] is None else f"an array of shape {arrays[0].shape} and dtype {arrays[0].dtype}")
        raise ValueError(f"{name} should hold a list of one (k, feature_dim) float32 or float64 "
                         f"array, the centres; it holds {found}.")
    if not np.isfinite(centers).all():
        raise ValueError(f"{name} holds centres with NaN or infinity.")
    k, feature_dim = centers.shape
    if hyperparameters is None:
        model = KMeans(k=k, feature_dim=feature_dim)
    else:
        model = KMeans.from_hyperparameters({"k": k, "feature_dim": feature_dim, **hyperparameters})
        if (model.k, model.feature_dim) != (k, feature_dim):
            raise ValueError(f"{name} holds {k} centres of {feature_dim} features, but the "
                             f"hyperparameters say k={model.k}, feature_dim={model.feature_dim}.")
    model.cluster_centers_ = centers
    model.n_features_in_ = feature_dim
    return model


def _read_member(name: str, wanted: str, max_bytes: int) -> bytes:
    """Return the bytes of the archive's member ``wanted``, reading the archive as a checked stream."""
    with open(name, "rb") as raw:
        magic = raw.read(2)
        raw.seek(0)
        stream: Any = gzip.GzipFile(fileobj=raw, mode="rb") if magic == b"\x1f\x8b" else raw
        capped = _Capped(stream, max_bytes, name)
        found: Optional[bytes] = None
        try:
            with tarfile.open(fileobj=capped, mode="r|") as archive:  # a stream: no seeking, no extraction
                for member in archive:
                    _check_member(member, name, max_bytes)
                    if not member.isfile() or _normalised(member.name) != wanted:
                        continue
                    if found is not None:
                        raise ValueError(f"{name}: holds two {wanted} members.")
                    extracted = archive.extractfile(member)
                    assert extracted is not None
                    found = extracted.read()
                # Read to the end, so that gzip checks its CRC-32 and length: the only checksum
                # SageMaker's artifact has catches a damaged or truncated download here.
                while capped.read(1 << 16):
                    pass
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as error:
            raise ValueError(f"{name}: is not a readable model.tar.gz: {error}.") from None
    if found is None:
        raise ValueError(f"{name}: holds no {wanted} member: not a SageMaker k-means model.tar.gz.")
    return found


def _check_member(member: tarfile.TarInfo, name: str, max_bytes: int) -> None:
    """Refuse what an extraction could turn into a write outside the folder, or what is too big."""
    parts = re.split(r"[/\\]", member.name)
    if member.name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", member.name):
        raise ValueError(f"{name}: member {member.name!r} has an absolute path: refused.")
    if ".." in parts:
        raise ValueError(f"{name}: member {member.name!r} climbs out of the archive's folder ('..'): refused.")
    if not (member.isfile() or member.isdir()):
        kind = ("a symbolic link" if member.issym() else "a hard link" if member.islnk() else
                "a device or FIFO" if member.isdev() else f"of tar type {member.type!r}")
        raise ValueError(f"{name}: member {member.name!r} is {kind}: only regular files are read.")
    if member.size > max_bytes:
        raise ValueError(f"{name}: member {member.name!r} has {member.size} bytes, more than max_bytes={max_bytes}.")


def _normalised(member_name: str) -> str:
    return member_name[2:] if member_name.startswith("./") else member_name


class _Capped(io.RawIOBase):
    """A read-only stream that refuses to deliver more than ``limit`` bytes in all (decompression bombs)."""

    def __init__(self, stream: IO[bytes], limit: int, name: str) -> None:
        self.stream, self.limit, self.name, self.delivered = stream, limit, name, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self.stream.read(min(len(view), self.limit - self.delivered + 1))
        self.delivered += len(data)
        if self.delivered > self.limit:
            raise ValueError(f"{self.name}: decompresses to more than max_bytes={self.limit} bytes: refused (a "
                             "decompression bomb?).")
        view[:len(data)] = data
        return len(data)
