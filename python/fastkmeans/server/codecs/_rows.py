"""What every request decoder returns, and the checks they share: feature count and finite values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from fastkmeans import _core
from fastkmeans._validation import core_rows
from fastkmeans.server._errors import RequestError

__all__ = ["Model", "bad_payload", "require_finite", "write_answers"]

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


def write_answers(closest_cluster: np.ndarray, distance_to_cluster: np.ndarray, media_type: str) -> bytes:
    """Return the answer body in a text media type, written in Rust (the GIL released).

    SageMaker answers float32 distances printed as the doubles they widen to (Python's ``repr``:
    ``23.40593910217285``) and cluster numbers as floats (``3.0``); the Rust writer spells every
    number exactly as ``repr`` does.
    """
    answer: bytes = _core.write_answers(np.ascontiguousarray(closest_cluster, dtype=np.int32),
                                        np.ascontiguousarray(distance_to_cluster, dtype=np.float32), media_type)
    return answer
