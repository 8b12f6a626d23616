"""ONNX export of a fitted model: ``KMeans.to_onnx``.

The graph is skl2onnx's KMeans converter's (onnx/sklearn-onnx, operator_converters/k_means.py), so
code written against a converted scikit-learn model runs on ours, plus SageMaker's
``distance_to_cluster``::

    X (float32, [N, d])
    squared = ReduceSumSquare(X, axis 1) + Gemm(X, C, alpha=-2, transB=1) + ||C||²    [N, k]
    squared = Max(squared, 0)
    label = ArgMin(squared, axis 1)                          int64, [N]
    scores = Sqrt(squared)                                   float32, [N, k]: transform(X)
    distance_to_cluster = Sqrt(ReduceMin(squared, axis 1))   float32, [N]: assign(X)[1]

||x - c||² = ||x||² - 2 x·c + ||c||² loses digits when x is near c, and the sum can come out
slightly negative: it is clamped at zero before the square root (which would give NaN) and before
the argmin. Opset 17 and IR version 8 keep the file loadable by onnxruntime 1.13 and later.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Optional, Union

import numpy as np

from fastkmeans._atomic import write_atomically

if TYPE_CHECKING:  # pragma: no cover
    from fastkmeans import KMeans

__all__ = ["IR_VERSION", "OPSET", "to_onnx"]

OPSET = 17
IR_VERSION = 8

PathLike = Union[str, "os.PathLike[str]"]


def to_onnx(model: KMeans, path: Optional[PathLike] = None) -> Any:
    """Build the ONNX graph of a fitted model; write it atomically to ``path`` when given (see ``KMeans.to_onnx``)."""
    model._require_fitted()
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        raise ImportError("KMeans.to_onnx needs the onnx package: pip install 'fastkmeans-sagemaker[onnx]'") from None
    from fastkmeans import __version__

    centers = np.ascontiguousarray(model.cluster_centers_, dtype=np.float32)
    k, d = centers.shape
    constants = [
        numpy_helper.from_array(centers, "centers"),
        numpy_helper.from_array((centers.astype(np.float64) ** 2).sum(axis=1).astype(np.float32), "center_norms"),
        numpy_helper.from_array(np.zeros((), np.float32), "zero"),
    ]
    nodes = [
        helper.make_node("ReduceSumSquare", ["X"], ["row_norms"], axes=[1], keepdims=1),
        # -2 X·Cᵀ + ||c||² in one Gemm (C's row norms broadcast over the rows).
        helper.make_node("Gemm", ["X", "centers", "center_norms"], ["cross"], alpha=-2.0, beta=1.0, transB=1),
        helper.make_node("Add", ["row_norms", "cross"], ["raw_squared"]),
        # Roundoff can make the expanded form negative for a point on a centre: clamp before Sqrt.
        helper.make_node("Max", ["raw_squared", "zero"], ["squared"]),
        helper.make_node("ArgMin", ["squared"], ["label"], axis=1, keepdims=0),
        helper.make_node("Sqrt", ["squared"], ["scores"]),
        helper.make_node("ReduceMin", ["squared"], ["closest_squared"], axes=[1], keepdims=0),
        helper.make_node("Sqrt", ["closest_squared"], ["distance_to_cluster"]),
    ]
    graph = helper.make_graph(
        nodes, "fastkmeans_kmeans",
        inputs=[helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", d])],
        outputs=[helper.make_tensor_value_info("label", TensorProto.INT64, ["N"]),
                 helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", k]),
                 helper.make_tensor_value_info("distance_to_cluster", TensorProto.FLOAT, ["N"])],
        initializer=constants,
    )
    onnx_model = helper.make_model(graph, producer_name="fastkmeans", producer_version=__version__,
                                   opset_imports=[helper.make_opsetid("", OPSET)])
    onnx_model.ir_version = IR_VERSION
    onnx_model.doc_string = (f"fastkmeans KMeans, k={k}, feature_dim={d}: label = closest cluster, scores = "
                             "Euclidean distances to every centre, distance_to_cluster = to the closest one.")
    helper.set_model_props(onnx_model, {"k": str(k), "feature_dim": str(d)})
    onnx.checker.check_model(onnx_model, full_check=True)
    if path is not None:
        write_atomically(path, [onnx_model.SerializeToString()])
    return onnx_model
