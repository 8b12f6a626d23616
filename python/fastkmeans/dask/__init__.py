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
  sums them per cluster; the client adds the sums and moves the k centres. It starts from Lloyd
  on a sample of the first partition, or, with ``local_lloyd_init_method="kmeans||"``, from
  k-means|| over every partition (the same seeds on any partitioning).

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
from typing import Any, Dict, Optional, Sequence, Union

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


def read(paths: Any, *, content_type: Optional[str] = None, header: Optional[bool] = None,
         columns: Optional[Sequence[Union[int, str]]] = None, dtype: Any = None,
         storage_options: Optional[Dict[str, Any]] = None, rows_per_partition: Optional[int] = None) -> Any:
    """Open files as a Dask array with one partition per file (or block), read on the workers.

    The client lists the files and nothing more: each partition is a task that reads its file
    with ``fastkmeans.io`` on a worker and checks its rows there, so a bad file (a ragged line, a
    cell that is not a number, NaN) fails the computation with a ``fastkmeans.io.DataError``
    naming the file and the line, record or row. A task also reads the first block of the first
    file, for the number of features and the dtype. Sparse RecordIO files become dense partitions.

    Parameters
    ----------
    paths : str, os.PathLike, or list of them
        Files; directories (every file in them, sorted, skipping names that start with ``.`` or
        ``_``: a SageMaker channel); glob patterns; or fsspec URLs (``s3://bucket/train/``,
        ``gs://...``, ``https://...``, ``file://...``), which the workers copy to their temporary
        directory before reading (the URL is named in errors). Every worker must reach them.
    content_type, header, columns, dtype
        As for ``fastkmeans.io.open_source``: CSV, whitespace-separated text, RecordIO-protobuf,
        .npy and Parquet are told apart by extension or first bytes unless ``content_type`` says.
    storage_options : dict or None, default=None
        Passed to fsspec for URLs (credentials, endpoint, ...).
    rows_per_partition : int or None, default=None
        Split local .npy files into partitions of this many rows (their headers are read on the
        client for the row counts; each partition memory-maps its rows on a worker), so that one
        large file trains in parallel. None, and every other format: one partition per file.

    Returns
    -------
    dask.array.Array of shape (n_samples, n_features)
        One partition per file, their row counts unknown until computed.

    Raises
    ------
    FileNotFoundError
        For a path or pattern that names no file.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import numpy as np
    >>> from fastkmeans import KMeans
    >>> from fastkmeans.dask import read
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> rng = np.random.default_rng(0)
    >>> for i in range(3):
    ...     np.savetxt(folder / f"part-{i}.csv", rng.normal(10 * (i % 2), 1, (200, 2)), delimiter=",")
    >>> X = read(folder)
    >>> X.numblocks
    (3, 1)
    >>> model = KMeans(k=2, random_state=0).fit(X)
    >>> print(np.abs(np.sort(model.cluster_centers_[:, 0])).round(0))
    [ 0. 10.]
    >>> model.predict(X).compute().shape
    (600,)
    """
    from fastkmeans.dask._read import read_files

    return read_files(paths, content_type=content_type, header=header, columns=columns, dtype=dtype,
                      storage_options=storage_options, rows_per_partition=rows_per_partition)
