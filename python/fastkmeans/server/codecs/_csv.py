"""``text/csv``: one row per line, no header; ``label_size=n`` skips n leading label columns.

Answers are ``closest_cluster,distance_to_cluster`` per line (``1.0,3.0``), as SageMaker's.
"""

from __future__ import annotations

from typing import Dict, List, Optional

import numpy as np

from fastkmeans.server.codecs._rows import Model, as_floats, bad_payload, cluster_strings, require_finite

__all__ = ["decode_csv", "encode_csv"]

_NEWLINE, _COMMA = ord("\n"), ord(",")


def decode_csv(body: bytes, params: Dict[str, str], model: Model) -> np.ndarray:
    """Parse a CSV body into rows of ``model.dtype``.

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
        400 naming the line: a wrong number of fields, a cell that is not a number, NaN or infinity.
    """
    label_size = _label_size(params)
    width = model.n_features + label_size
    text = body.replace(b"\r\n", b"\n") if b"\r" in body else body
    if not text.endswith(b"\n"):
        text += b"\n"
    # Per-line field counts, vectorised: a line's commas are the difference of the running count
    # of commas at its two ends. Blank lines are skipped (and their numbers kept for messages).
    buffer = np.frombuffer(text, dtype=np.uint8)
    ends = np.flatnonzero(buffer == _NEWLINE)
    starts = np.concatenate(([0], ends[:-1] + 1))
    commas = np.concatenate(([0], np.cumsum(buffer == _COMMA)))
    fields = commas[ends] - commas[starts] + 1
    data = ends > starts
    numbers = None if data.all() else np.flatnonzero(data) + 1
    if numbers is not None:
        if numbers.size == 0:
            raise bad_payload("the CSV body holds no row")
        fields = fields[data]
        text = b"\n".join(line for line in text.split(b"\n") if line)
    wrong = np.flatnonzero(fields != width)
    if wrong.size:
        i = int(wrong[0])
        raise bad_payload(f"line {_line(numbers, i)}: {fields[i]} fields, but the model takes {model.n_features} "
                          f"features" + (f" after {label_size} label columns" if label_size else ""))
    n_rows = fields.size
    try:
        values = np.fromstring(text.replace(b"\n", b","), dtype=np.float64, sep=",")  # text mode: not deprecated
    except ValueError:
        values = None
    if values is None or values.size != n_rows * width:
        raise _locate([line for line in text.split(b"\n") if line], numbers)
    rows = values.reshape(n_rows, width)
    if label_size:
        rows = rows[:, label_size:]
    rows = np.ascontiguousarray(rows, dtype=model.dtype)
    require_finite(rows, lambda i: f"line {_line(numbers, i)}")
    return rows


def encode_csv(closest_cluster: np.ndarray, distance_to_cluster: np.ndarray) -> bytes:
    """Return ``closest_cluster,distance_to_cluster`` lines."""
    clusters, distances = as_floats(closest_cluster, distance_to_cluster)
    prefixes = cluster_strings(closest_cluster, "{},")
    return ("\n".join(map(str.__add__, map(prefixes.__getitem__, clusters), map(repr, distances))) + "\n").encode()


def _label_size(params: Dict[str, str]) -> int:
    text = params.get("label_size", "0")
    if not text.isdigit():
        raise bad_payload(f"label_size={text!r} in the Content-Type is not a non-negative integer")
    return int(text)


def _line(numbers: Optional[np.ndarray], i: int) -> int:
    return int(numbers[i]) if numbers is not None else i + 1


def _locate(lines: List[bytes], numbers: Optional[np.ndarray]) -> Exception:
    """Find the first cell that is not a number (numpy's parser says only that one exists)."""
    for i, line in enumerate(lines):
        for j, cell in enumerate(line.split(b",")):
            try:
                float(cell)
            except ValueError:
                shown = cell.decode("utf-8", "replace").strip()
                what = " (an empty cell)" if not shown else ""
                return bad_payload(f"line {_line(numbers, i)}, column {j + 1}: {shown!r} is not a number{what}")
    return bad_payload("the CSV body could not be parsed as numbers")  # pragma: no cover - float() agrees with numpy
