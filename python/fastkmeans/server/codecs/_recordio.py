"""``application/x-recordio-protobuf``: SageMaker's RecordIO-wrapped ``Record`` messages.

Requests hold one Record per row (or several rows per tensor), features under ``"values"`` as
Float32Tensor, Float64Tensor or Int32Tensor, dense or sparse (keys and shape), as the SageMaker
SDK's ``RecordSerializer`` writes them; the Rust core decodes them. Answers hold one Record per
row with empty features and two labels, ``closest_cluster`` and ``distance_to_cluster``, each a
one-value Float32Tensor, written unsplit (the SDK's ``RecordDeserializer`` does not join split
records).
"""

from __future__ import annotations

import struct
from typing import Any, Dict

import numpy as np

from fastkmeans import _core
from fastkmeans.server.codecs._rows import Model, bad_payload, require_finite

__all__ = ["decode_recordio", "encode_recordio"]

_MAGIC = 0xCED7230A


def decode_recordio(body: bytes, params: Dict[str, str], model: Model) -> Any:
    """Decode RecordIO-protobuf records into rows (a CSR matrix when the records are sparse).

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
        400 naming the record: bad framing, a corrupted message, no ``"values"`` feature, records
        of different widths or tensor types, a width other than the model's, NaN or infinity.
    """
    if not body:
        raise bad_payload("the RecordIO body is empty")
    try:
        batch = _core.RecordIOReader.from_bytes(body).read_all()
    except _core.RecordIOError as error:
        raise bad_payload(str(error.args[0])) from None
    if batch is None:  # pragma: no cover - an input with no byte raises above
        raise bad_payload("the RecordIO body holds no record")
    if isinstance(batch, np.ndarray):
        rows: Any = batch
        width = batch.shape[1]
    else:
        import scipy.sparse

        data, indices, indptr, shape = batch
        width = shape[1]
        if width == model.n_features:
            rows = scipy.sparse.csr_matrix((data, indices, indptr), shape=shape)
            rows.sum_duplicates()
    if width != model.n_features:
        raise bad_payload(f"the records hold {width} features, but the model takes {model.n_features}")
    rows = rows.astype(model.dtype, copy=False)
    require_finite(rows, lambda i: f"row {i} (0-based)")
    return rows


def _template() -> bytes:
    """One answer record with zeros where the two float32 values go."""
    def value(number: float) -> bytes:
        tensor = b"\x0a\x04" + struct.pack("<f", number)  # Float32Tensor.values, packed
        return b"\x12" + bytes([len(tensor)]) + tensor  # Value.float32_tensor (field 2)

    def entry(key: bytes) -> bytes:
        body = b"\x0a" + bytes([len(key)]) + key + b"\x12" + bytes([len(value(0.0))]) + value(0.0)
        return b"\x12" + bytes([len(body)]) + body  # Record.label (field 2), one map entry

    record = entry(b"closest_cluster") + entry(b"distance_to_cluster")
    padding = b"\x00" * (-len(record) % 4)
    return struct.pack("<II", _MAGIC, len(record)) + record + padding


_TEMPLATE = _template()
# Byte offsets of the two float32 values in the template: each is the last 4 bytes of its map entry.
_CLUSTER_AT = _TEMPLATE.index(b"closest_cluster") + len(b"closest_cluster") + 6
_DISTANCE_AT = _TEMPLATE.index(b"distance_to_cluster") + len(b"distance_to_cluster") + 6


def encode_recordio(closest_cluster: np.ndarray, distance_to_cluster: np.ndarray) -> bytes:
    """Return one Record per row, its labels ``closest_cluster`` and ``distance_to_cluster`` (float32)."""
    n = closest_cluster.shape[0]
    out = np.frombuffer(_TEMPLATE * n, dtype=np.uint8).reshape(n, len(_TEMPLATE)).copy()
    out[:, _CLUSTER_AT:_CLUSTER_AT + 4] = np.asarray(closest_cluster, dtype="<f4").view(np.uint8).reshape(n, 4)
    out[:, _DISTANCE_AT:_DISTANCE_AT + 4] = np.asarray(distance_to_cluster, dtype="<f4").view(np.uint8).reshape(n, 4)
    return out.tobytes()
