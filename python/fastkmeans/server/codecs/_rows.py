"""What every request decoder returns, and the checks they share: feature count and finite values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, List, Tuple

import numpy as np

from fastkmeans import _core
from fastkmeans._validation import core_rows
from fastkmeans.server._errors import RequestError

__all__ = ["Model", "as_floats", "bad_payload", "cluster_strings", "require_finite"]

# SageMaker's own words for a payload it cannot read (SAGEMAKER_KMEANS.md section 4); ours follow.
_PREFIX = "unable to evaluate payload provided"


def bad_payload(message: str) -> RequestError:
    """Return a 400 error whose message starts as SageMaker's does and then says what and where."""
    return RequestError(400, f"{_PREFIX}: {message}")


@dataclass(frozen=True)
class Model:
    """What a decoder needs to know of the model: its features and the dtype of its centres.

    Parameters
    ----------
    n_features : int
        Features of every row (the model's ``feature_dim``).
    dtype : numpy.dtype
        float32 or float64: rows are decoded into it, so that requests concatenate without a copy.
    """

    n_features: int
    dtype: np.dtype


def require_finite(rows: Any, where: Callable[[int], str]) -> None:
    """Raise a 400 naming the first row holding NaN or infinity; ``where(i)`` names row ``i``."""
    bad = _core.first_non_finite_row(core_rows(rows))
    if bad is not None:
        raise bad_payload(f"{where(bad)} holds NaN or infinity")


def as_floats(closest_cluster: np.ndarray, distance_to_cluster: np.ndarray) -> Tuple[List[int], List[float]]:
    """Return the answer's columns as Python lists: cluster indices (ints) and distances (floats).

    SageMaker answers float32 distances printed as doubles: ``23.40593910217285``.
    """
    return (closest_cluster.tolist(), distance_to_cluster.astype(np.float32).astype(np.float64).tolist())


def cluster_strings(closest_cluster: np.ndarray, template: str) -> List[str]:
    """Return ``template`` filled with each cluster number as SageMaker prints it (``3.0``), by index.

    There are only k clusters: the answers' text is built from these k strings and the distances
    with ``map`` (C loops) rather than formatting every row in Python.
    """
    largest = int(closest_cluster.max()) if closest_cluster.size else 0
    return [template.format(float(cluster)) for cluster in range(largest + 1)]
