"""``text/csv``: one row per line, no header; ``label_size=n`` skips n leading label columns.

Answers are ``closest_cluster,distance_to_cluster`` per line (``1.0,3.0``), as SageMaker's.
"""

from __future__ import annotations

from typing import Dict

import numpy as np

from fastkmeans import _core
from fastkmeans.server.codecs._rows import Model, bad_payload, write_answers

__all__ = ["decode_csv", "encode_csv"]


def decode_csv(body: bytes, params: Dict[str, str], model: Model) -> np.ndarray:
    """Parse a CSV body into rows of ``model.dtype`` (in Rust, the GIL released).

    Parameters
    ----------
    body : bytes
        The request body.
    params : dict of str to str
        The content type's parameters; ``label_size`` is honoured.
    model : Model
        Features and dtype expected.

    Returns
    -------
    ndarray of shape (n_rows, model.n_features)

    Raises
    ------
    RequestError
        400 naming the line: a wrong number of fields (first, wherever it is), a cell that is not
        a number, NaN or infinity.
    """
    label_size = _label_size(params)
    try:
        rows: np.ndarray = _core.parse_csv(body, model.n_features, label_size, model.dtype == np.float32)
    except _core.TextError as error:
        message, kind, line, column, _, cell = error.args
        if kind == "not_a_number":
            shown = cell.decode("utf-8", "replace").strip()
            what = " (an empty cell)" if not shown else ""
            message = f"line {line}, column {column}: {shown!r} is not a number{what}"
        raise bad_payload(message) from None
    return rows


def encode_csv(closest_cluster: np.ndarray, distance_to_cluster: np.ndarray) -> bytes:
    """Return ``closest_cluster,distance_to_cluster`` lines (written in Rust)."""
    return write_answers(closest_cluster, distance_to_cluster, "text/csv")


def _label_size(params: Dict[str, str]) -> int:
    text = params.get("label_size", "0")
    if not text.isdigit():
        raise bad_payload(f"label_size={text!r} in the Content-Type is not a non-negative integer")
    return int(text)
