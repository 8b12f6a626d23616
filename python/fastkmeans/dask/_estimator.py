"""What ``KMeans`` does with a Dask collection: train on the workers, then store as the estimator does.

``KMeans.fit`` / ``partial_fit`` / ``predict`` / ``assign`` / ``transform`` / ``score`` /
``evaluate`` hand a Dask array or DataFrame here. Training stores nothing until it has succeeded,
as every other fit. After a Dask fit, as after a streamed one, ``labels_`` is absent
(``predict(X)`` labels the data lazily); ``inertia_`` and ``train_metrics_`` are the reduction's
(SageMaker's train metrics) for ``algorithm="minibatch"`` and the data's ssd / msd for
``"lloyd"``, which also sets ``cluster_sizes_``. ``sync_bytes_`` holds the bytes of centres,
counts and sums that moved between the client and the partitions in each epoch (each Lloyd
iteration): O(partitions x K x d), never the rows.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple

import numpy as np

from fastkmeans import _core, _training
from fastkmeans._hyperparameters import Hyperparameters
from fastkmeans._validation import as_float_rows, core_rows
from fastkmeans.dask import _lloyd, _minibatch
from fastkmeans.dask._partitions import Partitions, aligned, as_dask_array, partition_rows, partitions

if TYPE_CHECKING:
    from fastkmeans._kmeans import KMeans

__all__ = ["assign", "fit", "partial_fit", "ssd_and_count", "transform"]


def fit(model: KMeans, X: Any, test: Any) -> KMeans:
    """``KMeans.fit`` on a Dask collection."""
    hp = model._checked()
    parts = _training_partitions(model, X)
    seed = _training.seed_of(model.random_state)
    if hp.algorithm == "lloyd":
        result = _lloyd.train(parts, hp, seed)
        test_metrics = _test_metrics(model, test, result.centers, parts.n_features, hp)
        _store_lloyd(model, result, parts)
        model._set_test_metrics(test_metrics)
        return model
    trained = _minibatch.train(parts, hp, seed)
    test_metrics = _test_metrics(model, test, trained.reduced["centers"], parts.n_features, hp)
    _store_minibatch(model, trained, parts, hp)
    model._set_test_metrics(test_metrics)
    return model


def partial_fit(model: KMeans, X: Any, hp: Hyperparameters) -> KMeans:
    """``KMeans.partial_fit`` on a Dask collection: one distributed pass from the current state, or a first one."""
    state: Optional[Dict[str, Any]] = getattr(model, "_state", None)
    if state is None:
        parts = _training_partitions(model, X)
        trained = _minibatch.train(parts, dataclasses.replace(hp, epochs=1), _training.seed_of(model.random_state))
    else:
        parts = partitions(X)
        _check_known(model, parts)
        trained = _minibatch.train(parts, hp, int(state["seed"]), previous=model._stream(state))
    _store_minibatch(model, trained, parts, hp)
    return model


def assign(model: KMeans, X: Any) -> Tuple[Any, Any]:
    """Closest centre (int32) and squared distance (float64) of every row, as two lazy Dask arrays."""
    model._require_fitted()
    array = _known_array(model, X)
    out = array.map_blocks(_assign_block, model.cluster_centers_, model.n_threads, dtype=np.float64,
                           chunks=(array.chunks[0], (2,)))
    return out[:, 0].astype(np.int32), out[:, 1]


def transform(model: KMeans, X: Any) -> Any:
    """Euclidean distances of every row to every centre, as a lazy Dask array."""
    from fastkmeans._kmeans import _distances

    model._require_fitted()
    array = _known_array(model, X)
    k = model.cluster_centers_.shape[0]
    return array.map_blocks(_transform_block, model.cluster_centers_, _distances, dtype=np.dtype(array.dtype)
                            if array.dtype in (np.float32, np.float64) else np.float64, chunks=(array.chunks[0], (k,)))


def ssd_and_count(model: KMeans, X: Any) -> Tuple[float, int]:
    """Sum of squared distances to the closest centres, and rows, added up over the partitions on the workers."""
    model._require_fitted()
    parts = partitions(X)
    _check_known(model, parts)
    return _ssd_and_count(parts, model.cluster_centers_, model.n_threads)


def _ssd_and_count(parts: Partitions, centers: np.ndarray, n_threads: Optional[int]) -> Tuple[float, int]:
    import dask

    shared = dask.delayed(centers, pure=True)
    sums = dask.compute(*[dask.delayed(_ssd_block, pure=True)(block, i, parts.dtype, shared, n_threads)
                          for i, block in enumerate(parts.blocks)])
    return float(sum(s[0] for s in sums)), int(sum(s[1] for s in sums))


def _training_partitions(model: KMeans, X: Any) -> Partitions:
    parts = partitions(X)
    if model.feature_dim is not None and parts.n_features != model.feature_dim:
        raise ValueError(f"X has {parts.n_features} features, but feature_dim={model.feature_dim}.")
    return parts


def _check_known(model: KMeans, parts: Partitions) -> None:
    model._require_fitted()
    if parts.n_features != model.n_features_in_:
        raise ValueError(f"X has {parts.n_features} features, but {type(model).__name__} is expecting "
                         f"{model.n_features_in_} features as input.")
    fitted = getattr(model, "feature_names_in_", None)
    if fitted is not None and parts.names is None:
        warnings.warn(f"X does not have valid feature names, but {type(model).__name__} was fitted with feature "
                      "names", UserWarning, stacklevel=4)
    elif parts.names is not None and fitted is None:
        warnings.warn(f"X has feature names, but {type(model).__name__} was fitted without feature names",
                      UserWarning, stacklevel=4)
    elif parts.names is not None and fitted is not None and not np.array_equal(parts.names, fitted):
        raise ValueError("The feature names should match those that were passed during fit.\n"
                         f"Fitted with: {list(fitted)}\nGot: {list(parts.names)}")


def _known_array(model: KMeans, X: Any) -> Any:
    _check_known(model, partitions(X))
    return as_dask_array(X)


def _test_metrics(model: KMeans, test: Any, centers: np.ndarray, n_features: int,
                  hp: Hyperparameters) -> Optional[Dict[str, float]]:
    from fastkmeans.dask import is_dask_collection

    if not is_dask_collection(test):
        return model._test_metrics(test, centers, n_features, hp)
    parts = partitions(test)
    if parts.n_features != n_features:
        raise ValueError(f"test has {parts.n_features} features, but the training data has {n_features}.")
    return model._metrics(*_ssd_and_count(parts, centers, hp.n_threads))


def _store_minibatch(model: KMeans, result: _minibatch.Result, parts: Partitions, hp: Hyperparameters) -> None:
    model._set_streamed(result.trained, result.reduced, hp)
    if parts.names is not None:
        model.feature_names_in_ = parts.names
    model.sync_bytes_ = result.bytes_per_epoch


def _store_lloyd(model: KMeans, result: _lloyd.Result, parts: Partitions) -> None:
    model._state = None
    model.extra_center_factor_, model.local_lloyd_num_trials_ = 1, result.trials
    model.n_steps_, model.cluster_weights_ = 0, result.sizes.astype(np.float64)
    model.n_features_in_ = parts.n_features
    for stale in ("feature_names_in_", "labels_"):
        if hasattr(model, stale):
            delattr(model, stale)
    if parts.names is not None:
        model.feature_names_in_ = parts.names
    model.cluster_centers_ = result.centers
    model.inertia_, model.n_iter_ = float(result.inertia), int(result.n_iter)
    model.cluster_sizes_ = result.sizes
    model.train_metrics_ = model._metrics(float(result.inertia), result.n_rows)
    model.sync_bytes_ = result.bytes_per_iteration


def _block_index(block_info: Optional[Dict[Any, Any]]) -> int:
    return int(block_info[None]["chunk-location"][0]) if block_info else 0


def _assign_block(block: Any, centers: np.ndarray, n_threads: Optional[int],
                  block_info: Optional[Dict[Any, Any]] = None) -> np.ndarray:
    if block.shape[0] == 0:
        return np.zeros((0, 2))
    rows = as_float_rows(block, name=f"partition {_block_index(block_info)}")
    labels, dist2 = _core.assign(core_rows(rows), aligned(centers).astype(rows.dtype, copy=False), n_threads=n_threads)
    return np.column_stack([labels.astype(np.float64), dist2])


def _transform_block(block: Any, centers: np.ndarray, distances: Any,
                     block_info: Optional[Dict[Any, Any]] = None) -> np.ndarray:
    if block.shape[0] == 0:
        return np.zeros((0, centers.shape[0]))
    rows = as_float_rows(block, name=f"partition {_block_index(block_info)}")
    return np.asarray(distances(rows, aligned(centers)))


def _ssd_block(block: Any, index: int, dtype: np.dtype, centers: np.ndarray,
               n_threads: Optional[int]) -> Tuple[float, int]:
    rows = partition_rows(block, index, dtype)
    if rows is None:
        return 0.0, 0
    dist2 = _core.assign(core_rows(rows), aligned(centers).astype(dtype, copy=False), n_threads=n_threads)[1]
    return float(dist2.sum()), int(dist2.shape[0])
