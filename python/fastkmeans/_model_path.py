"""MODEL as the command line and the server take it: a model file of any of our kinds, or a folder of one.

A native model file (``KMeans.save``), SageMaker's ``model.tar.gz``, SageMaker's bare
``model_algo-1`` (what SageMaker hosting unpacks the tarball into), or a directory holding one of
them (SageMaker's ``/opt/ml/model``). The kind is told by the first bytes, never by the name.
"""

from __future__ import annotations

import os
import struct
from typing import TYPE_CHECKING, List, Union

from fastkmeans._persist import load
from fastkmeans.sagemaker import MODEL_MEMBER, load_model, model_from_ndarray_file

if TYPE_CHECKING:  # pragma: no cover
    from fastkmeans import KMeans

__all__ = ["find_model_file", "load_model_path"]

PathLike = Union[str, "os.PathLike[str]"]

_GZIP = b"\x1f\x8b"
_NDARRAY_LIST = struct.pack("<Q", 0x112)
# A directory's candidates, most informative first: the native file keeps the training state.
_DIRECTORY_NAMES = ("model.fkm", "model.tar.gz", MODEL_MEMBER)


def find_model_file(path: PathLike) -> str:
    """Return the model file that ``path`` names: itself, or the one model file in a directory.

    Parameters
    ----------
    path : str or os.PathLike
        A model file or a directory holding ``model.fkm``, ``model.tar.gz``, ``model_algo-1`` or
        a single ``*.fkm`` file (the first of these that exists is taken).

    Returns
    -------
    str
        The file.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist, or the directory holds no model file (the message lists
        what it looked for).
    """
    name = os.fspath(path)
    if not os.path.exists(name):
        raise FileNotFoundError(f"{name}: no such model file or directory")
    if not os.path.isdir(name):
        return name
    for candidate in _DIRECTORY_NAMES:
        if os.path.isfile(os.path.join(name, candidate)):
            return os.path.join(name, candidate)
    native: List[str] = sorted(entry for entry in os.listdir(name) if entry.endswith(".fkm"))
    if len(native) == 1:
        return os.path.join(name, native[0])
    raise FileNotFoundError(f"{name}: the directory holds no model: looked for {', '.join(_DIRECTORY_NAMES)} "
                            f"or a single *.fkm file")


def load_model_path(path: PathLike) -> KMeans:
    """Load the model ``path`` names, whatever its kind (see the module's notes).

    Parameters
    ----------
    path : str or os.PathLike
        A model file or a directory holding one.

    Returns
    -------
    KMeans
        The fitted estimator.

    Raises
    ------
    FileNotFoundError
        When there is no model there.
    ValueError
        When the file is not a model, naming the file and what is wrong.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from fastkmeans import KMeans
    >>> from fastkmeans.sagemaker import save_model
    >>> model = KMeans(k=2, random_state=0).fit(np.array([[0.0, 0.0], [0.0, 2.0], [10.0, 10.0], [10.0, 12.0]]))
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     save_model(model, os.path.join(folder, "model.tar.gz"))
    ...     load_model_path(folder).cluster_centers_.shape
    (2, 2)
    """
    name = find_model_file(path)
    with open(name, "rb") as file:
        head = file.read(8)
    if head.startswith(_GZIP) or _is_tar(name):
        return load_model(name)
    if head == _NDARRAY_LIST:
        return model_from_ndarray_file(name)
    model: KMeans = load(name)  # a native file; for anything else its errors say what the file looks like
    return model


def _is_tar(name: str) -> bool:
    with open(name, "rb") as file:
        file.seek(257)
        return file.read(5) == b"ustar"
