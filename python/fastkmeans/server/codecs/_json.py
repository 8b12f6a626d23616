"""``application/json`` and ``application/jsonlines``: SageMaker's instance forms, dense and sparse.

A request body is one of:

- ``{"instances": [instance, ...]}``, each instance ``{"features": [1.5, 16.0]}`` (dense),
  ``{"data": {"features": {"values": [...]}}}`` (dense) or
  ``{"data": {"features": {"keys": [26, 182], "shape": [2000], "values": [1, 1]}}}`` (sparse), or
  a bare list of numbers;
- a list of rows ``[[1.5, 16.0], ...]`` or one row ``[1.5, 16.0]`` (what the SageMaker SDK's
  ``JSONSerializer`` writes for a NumPy array);
- one instance on its own.

JSON Lines holds one instance (or row) per line. Answers are SageMaker's, byte for byte:
``{"predictions":[{"closest_cluster":1.0,"distance_to_cluster":3.0}]}`` and, per line,
``{"distance_to_cluster": 3.0, "closest_cluster": 1.0}``.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Tuple, Union

import numpy as np

from fastkmeans import _core
from fastkmeans.server.codecs._rows import Model, bad_payload, require_finite, write_answers

__all__ = ["decode_json", "decode_jsonlines", "encode_json", "encode_jsonlines"]

# A sparse row: (values, column keys); a dense row: a list of numbers.
_Row = Union[List[Any], Tuple[List[Any], List[Any]]]


def decode_json(body: bytes, params: Dict[str, str], model: Model) -> Any:
    """Parse a JSON body into rows: an ndarray of shape (n_rows, n_features), or a CSR matrix if any row is sparse.

    Parameters
    ----------
    body : bytes
        The request body.
    params : dict of str to str
        The content type's parameters (unused).
    model : Model
        Features and dtype expected.

    Returns
    -------
    ndarray of shape (n_rows, model.n_features) or scipy.sparse.csr_matrix

    Raises
    ------
    RequestError
        400 naming the instance: malformed JSON, an unknown form, a row of the wrong length, a
        value that is not a number, a sparse key outside the shape, NaN or infinity.
    """
    fast = _parse(body, model, lines=False)
    if fast is not None:
        return fast
    document = _loads(body, "the JSON body")
    if isinstance(document, dict) and "instances" in document:
        instances = document["instances"]
        if not isinstance(instances, list):
            raise bad_payload(f'"instances" must be a list, not {_kind(instances)}')
        names = "instances[{}]"
    elif isinstance(document, list) and document and not isinstance(document[0], (list, dict)):
        instances, names = [document], "the row"
    elif isinstance(document, list):
        instances, names = document, "row {}"
    else:
        instances, names = [document], "the instance"
    fast = _dense_features(instances, model)
    if fast is not None:
        require_finite(fast, lambda i: names.format(i))
        return fast
    rows = [_row(instance, names.format(i), model) for i, instance in enumerate(instances)]
    return _matrix(rows, lambda i: names.format(i), model)


def _dense_features(instances: List[Any], model: Model) -> Any:
    """Read the common case in one vectorised step: every instance ``{"features": [numbers]}``, all full length.

    Returns None for anything else, which the instance-by-instance path then reads (or names the
    instance at fault).
    """
    try:
        matrix = np.array([instance["features"] for instance in instances])
    except (TypeError, KeyError, ValueError, OverflowError):
        return None
    if matrix.ndim != 2 or matrix.shape[1] != model.n_features or matrix.dtype.kind not in "iuf":
        return None
    return np.ascontiguousarray(matrix, dtype=model.dtype)


def decode_jsonlines(body: bytes, params: Dict[str, str], model: Model) -> Any:
    """Parse a JSON Lines body, one instance or row per line (blank lines skipped), as ``decode_json``."""
    fast = _parse(body, model, lines=True)
    if fast is not None:
        return fast
    lines = body.split(b"\n")
    numbers = [i + 1 for i, line in enumerate(lines) if line.strip()]
    rows = [_row(_loads(lines[n - 1], f"line {n}"), f"line {n}", model) for n in numbers]
    return _matrix(rows, lambda i: f"line {numbers[i]}", model)


def encode_json(closest_cluster: np.ndarray, distance_to_cluster: np.ndarray) -> bytes:
    """Return SageMaker's JSON answer (written in Rust)."""
    return write_answers(closest_cluster, distance_to_cluster, "application/json")


def encode_jsonlines(closest_cluster: np.ndarray, distance_to_cluster: np.ndarray) -> bytes:
    """Return SageMaker's JSON Lines answer (its key order: distance first; written in Rust)."""
    return write_answers(closest_cluster, distance_to_cluster, "application/jsonlines")


def _parse(body: bytes, model: Model, lines: bool) -> Any:
    """Read the body in Rust (the GIL released), or return None for the Python reader below.

    The Rust reader is strict: whatever it accepts it reads exactly as ``json.loads`` and NumPy
    would. It leaves to the Python reader every body it refuses (malformed or wrong ones, which
    the Python reader words as before, naming the instance or line, and the rare odd but valid
    ones: a key given twice, booleans, ``NaN`` literals, integers of 2**53 or more).
    """
    try:
        rows = _core.parse_json(body, model.n_features, model.dtype == np.float32, lines)
    except _core.TextError:
        return None
    if isinstance(rows, tuple):
        import scipy.sparse

        data, indices, indptr, shape = rows
        rows = scipy.sparse.csr_matrix((data, indices, indptr), shape=shape)
        rows.sum_duplicates()
    return rows


def _loads(text: bytes, what: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        raise bad_payload(f"{what} is nested too deeply") from None
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError
        raise bad_payload(f"{what} is not valid JSON: {error}") from None


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number")


def _row(instance: Any, name: str, model: Model) -> _Row:
    """Return a dense row (a list) or a sparse one ((values, keys)), its length checked."""
    if isinstance(instance, list):
        features: Any = instance
    elif isinstance(instance, dict) and "features" in instance:
        features = instance["features"]
    elif isinstance(instance, dict) and isinstance(instance.get("data"), dict) and "features" in instance["data"]:
        features = instance["data"]["features"]
        if isinstance(features, dict):
            return _tensor(features, name, model)
    else:
        raise bad_payload(f'{name}: expected {{"features": [...]}}, {{"data": {{"features": {{"values": [...]}}}}}} '
                          f"or a list of numbers, not {_kind(instance)}"
                          + (f" with keys {sorted(instance)[:5]}" if isinstance(instance, dict) else ""))
    if not isinstance(features, list):
        raise bad_payload(f"{name}: features must be a list of numbers, not {_kind(features)}")
    if len(features) != model.n_features:
        raise bad_payload(f"{name}: {len(features)} features, but the model takes {model.n_features}")
    return features


def _tensor(tensor: Dict[str, Any], name: str, model: Model) -> _Row:
    values = tensor.get("values")
    if not isinstance(values, list):
        raise bad_payload(f'{name}: features must hold "values", a list of numbers')
    if "keys" not in tensor:
        if len(values) != model.n_features:
            raise bad_payload(f"{name}: {len(values)} features, but the model takes {model.n_features}")
        return values
    keys, shape = tensor["keys"], tensor.get("shape")
    if not isinstance(keys, list) or len(keys) != len(values):
        raise bad_payload(f'{name}: sparse features need "keys", a list as long as "values" ({len(values)})')
    if shape not in ([model.n_features], [1, model.n_features]):
        raise bad_payload(f'{name}: "shape" is {shape!r}, but the model takes {model.n_features} features '
                          f"(shape [{model.n_features}])")
    return values, keys


def _matrix(rows: List[_Row], name: Any, model: Model) -> Any:
    if not rows:
        raise bad_payload("the request holds no instance")
    if all(isinstance(row, list) for row in rows):
        matrix = _numbers(rows, name, model)
        require_finite(matrix, name)
        return matrix
    return _sparse(rows, name, model)


def _numbers(rows: List[Any], name: Any, model: Model) -> np.ndarray:
    try:
        matrix = np.array(rows)
    except (ValueError, TypeError):
        matrix = None
    if matrix is None or matrix.dtype.kind not in "iuf" or matrix.ndim != 2:
        for i, row in enumerate(rows):
            for j, value in enumerate(row):
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise bad_payload(f"{name(i)}, feature {j}: {json.dumps(value)[:40]} is not a number")
        raise bad_payload("a value is outside the range of a float")  # an integer such as 10**400
    try:
        return np.ascontiguousarray(matrix, dtype=model.dtype)
    except OverflowError:  # integers past float64's range
        raise bad_payload("a value is too large for a float") from None


def _sparse(rows: List[_Row], name: Any, model: Model) -> Any:
    import scipy.sparse

    data: List[Any] = []
    indices: List[Any] = []
    indptr = [0]
    for i, row in enumerate(rows):
        if isinstance(row, list):
            values, keys = row, list(range(model.n_features))
        else:
            values, keys = row
        data.extend(values)
        indices.extend(keys)
        indptr.append(len(data))
        for key in keys:
            if isinstance(key, bool) or not isinstance(key, int) or not 0 <= key < model.n_features:
                raise bad_payload(f"{name(i)}: key {json.dumps(key)[:40]} is not a column in [0, {model.n_features})")
    values_array = _numbers([data], lambda _: "the sparse values", model)[0] if data else np.zeros(0, model.dtype)
    finite = np.isfinite(values_array)
    if not finite.all():
        first = int(np.argmin(finite))
        at = int(np.searchsorted(indptr, first, side="right")) - 1
        raise bad_payload(f"{name(at)} holds NaN or infinity")
    matrix = scipy.sparse.csr_matrix((values_array, np.asarray(indices, dtype=np.int32), np.asarray(indptr)),
                                     shape=(len(rows), model.n_features))
    matrix.sum_duplicates()
    return matrix
