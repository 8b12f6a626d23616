"""Content types: SageMaker's strings, parsed, and the format of a file guessed when none is given.

The order: an explicit content type, else the file name's extension, else the first bytes of the
file (the "magic" of .npy, Parquet, gzip and RecordIO), else text: CSV when its first line holds a
comma (or a single column), whitespace-separated columns otherwise.
"""

from __future__ import annotations

import gzip
import os
import stat
from dataclasses import dataclass, field
from typing import Dict, Optional

__all__ = ["CSV", "NPY", "PARQUET", "RECORDIO", "TEXT", "ContentType", "detect", "parse_content_type"]

CSV = "text/csv"
"""Comma-separated values without a header row: SageMaker's ``text/csv``."""
TEXT = "text/plain"
"""Columns separated by spaces or tabs (``numpy.loadtxt``'s default), one row per line."""
RECORDIO = "application/x-recordio-protobuf"
"""SageMaker's RecordIO-wrapped protobuf records (dense or sparse), one row per record."""
NPY = "application/x-npy"
"""A NumPy ``.npy`` file holding a 2-D numeric array."""
PARQUET = "application/x-parquet"
"""An Apache Parquet file; its numeric columns (or the chosen ones) are the features."""

KNOWN = (CSV, TEXT, RECORDIO, NPY, PARQUET)

_EXTENSIONS = {
    ".csv": CSV, ".tsv": TEXT, ".txt": None, ".npy": NPY, ".parquet": PARQUET, ".pq": PARQUET,
    ".pbr": RECORDIO, ".rec": RECORDIO, ".recordio": RECORDIO, ".protobuf": RECORDIO,
}
_MAGIC = ((b"\x93NUMPY", NPY), (b"PAR1", PARQUET), (b"\x0a\x23\xd7\xce", RECORDIO))
GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class ContentType:
    """A parsed content type: the media type and its parameters.

    Parameters
    ----------
    media_type : str
        One of the module's constants, e.g. ``"text/csv"``.
    params : dict of str to str
        Parameters after ``;``, e.g. ``{"label_size": "0"}``.
    """

    media_type: str
    params: Dict[str, str] = field(default_factory=dict)

    @property
    def label_size(self) -> int:
        """Leading CSV columns that hold labels, skipped: ``label_size`` (SageMaker's), default 0."""
        text = self.params.get("label_size", "0")
        if not text.isdigit():
            raise ValueError(f"label_size={text!r} in content type {self} is not a non-negative integer.")
        return int(text)

    @property
    def header(self) -> Optional[bool]:
        """RFC 4180's ``header=present|absent`` parameter, or None when not given."""
        text = self.params.get("header")
        if text is None:
            return None
        if text.lower() not in ("present", "absent"):
            raise ValueError(f"header={text!r} in content type {self}: expecting 'present' or 'absent'.")
        return text.lower() == "present"

    def __str__(self) -> str:
        """Return the content type as SageMaker writes it."""
        return ";".join([self.media_type, *(f"{key}={value}" for key, value in self.params.items())])


def parse_content_type(text: str) -> ContentType:
    """Parse ``"text/csv;label_size=0"`` and the like.

    Parameters
    ----------
    text : str
        A content type: ``text/csv`` (parameters ``label_size``, ``header``), ``text/plain``,
        ``application/x-recordio-protobuf``, ``application/x-npy`` or ``application/x-parquet``.

    Returns
    -------
    ContentType
        The media type (lower case) and parameters.

    Raises
    ------
    ValueError
        For a media type that is none of these.

    Examples
    --------
    >>> from fastkmeans.io import parse_content_type
    >>> parse_content_type("text/csv; label_size=0")
    ContentType(media_type='text/csv', params={'label_size': '0'})
    """
    media_type, *rest = [part.strip() for part in text.split(";")]
    media_type = media_type.lower()
    if media_type == "application/x-recordio":  # SageMaker's name for the same records, unwrapped by channel
        media_type = RECORDIO
    if media_type not in KNOWN:
        raise ValueError(f"Unknown content type {text!r}; expecting one of {', '.join(KNOWN)}.")
    params = {}
    for item in rest:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"Bad parameter {item!r} in content type {text!r}: expecting name=value.")
        params[key.strip().lower()] = value.strip()
    return ContentType(media_type, params)


def is_fifo(path: str) -> bool:
    """Whether ``path`` is a named pipe (SageMaker's Pipe mode), whose bytes can be read only once."""
    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except OSError:
        return False


def is_gzip(path: str) -> bool:
    """Whether the file starts with gzip's magic bytes (never for a pipe: peeking would consume them)."""
    if is_fifo(path):
        return False
    with open(path, "rb") as file:
        return file.read(2) == GZIP_MAGIC


def detect(path: str) -> str:
    """Return the content type of a file from its extension, else its first bytes.

    ``.gz`` files are recognised by what is inside: ``x.csv.gz`` is CSV, and a ``.gz`` without
    another extension is text (CSV or whitespace-separated, by its first line).

    Parameters
    ----------
    path : str
        An existing file.

    Returns
    -------
    str
        One of the module's content type constants.
    """
    name = os.path.basename(path).lower()
    if name.endswith(".gz"):
        name = name[:-3]
    found = _EXTENSIONS.get(os.path.splitext(name)[1])
    if found is not None:
        return found
    with open(path, "rb") as file:
        head = file.read(8)
    for magic, content_type in _MAGIC:
        if head.startswith(magic):
            return content_type
    return _sniff_text(path)


def _sniff_text(path: str) -> str:
    """CSV when the first non-blank line has a comma or a single field, else whitespace-separated."""
    opener = gzip.open if is_gzip(path) else open
    with opener(path, "rb") as file:
        for raw in file:
            line = raw.strip()
            if line:
                return CSV if b"," in line or len(line.split()) == 1 else TEXT
            if file.tell() > 1 << 20:
                break
    return CSV
