"""Training and inference on Dask: SageMaker's multi-instance recipe on a Dask cluster.

``KMeans.fit``, ``partial_fit``, ``predict``, ``assign``, ``transform``, ``score`` and ``evaluate``
take Dask arrays and Dask DataFrames (``pip install "fastkmeans[dask]"``) and run on the workers of
the active scheduler (a ``distributed.Client``, or Dask's local threads without one):

* ``algorithm="minibatch"``: every partition streams its rows through the web-scale pass with its
  own K = k * extra_center_factor centres and returns them with their counts, as each SageMaker
  instance does with its shard of the train channel; the weighted centres of all partitions are
  then reduced to k by the estimator's own weighted local-Lloyd reduction
  (``fastkmeans.reduce_centers``). With ``epochs > 1`` the partitions synchronise between
  epochs: their centres are merged into K and every partition starts the next pass from them.
* ``algorithm="lloyd"``: distributed Lloyd. Every iteration each partition assigns its rows and
  sums them per cluster; the client adds the sums and moves the k centres.

Only centres, counts and sums cross the network, O(partitions x K x d) bytes per epoch or
iteration, never the rows. ``predict``, ``assign`` and ``transform`` return Dask collections
computed block by block on the workers (``map_blocks``); ``score`` and ``evaluate`` add up
per-partition sums.

``read`` opens files (CSV, RecordIO-protobuf, Parquet, .npy; local paths or any fsspec URL) as a
Dask array of one partition per file, read on the workers, so the data never passes through the
client.

Every partition's random stream derives from ``random_state`` and the partition's index, so a
task that Dask retries (say, after a worker died) computes the same result, and a fit is
reproducible for a fixed partitioning.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["is_dask_collection", "read"]


def is_dask_collection(X: Any) -> bool:
    """Whether ``X`` is a Dask collection (array, DataFrame, Series, ...).

    Never imports Dask: an object can only be a Dask collection once Dask has been imported.

    Parameters
    ----------
    X : Any
        What was passed to ``fit``, ``predict``, ...

    Returns
    -------
    bool
        True for a Dask collection.

    Examples
    --------
    >>> import numpy as np
    >>> from fastkmeans.dask import is_dask_collection
    >>> is_dask_collection(np.zeros((2, 2)))
    False
    """
    if "dask" not in sys.modules:
        return False
    import dask

    return bool(dask.is_dask_collection(X))


def read(paths: Any, **options: Any) -> Any:
    """Open files as a Dask array with one partition per file, read on the workers.

    See ``fastkmeans.dask._read.read`` for the parameters.

    Parameters
    ----------
    paths : str, os.PathLike, or list of them
        Files, directories (every data file in them) or glob patterns; local paths or fsspec URLs.
    **options
        ``content_type``, ``header``, ``columns``, ``dtype`` and ``storage_options``.

    Returns
    -------
    dask.array.Array of shape (n_samples, n_features)
        One partition per file, with unknown row counts.
    """
    from fastkmeans.dask._read import read as _read

    return _read(paths, **options)
