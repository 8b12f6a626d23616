"""Anomaly scores from a fitted k-means model: how far a row is from its centre, for its cluster.

A row's score is its distance to the closest centre divided by that cluster's typical distance:
the median distance to the centre of the reference rows (by default the rows scored) assigned to
the same cluster. A score near 1 is an ordinary member; 3 or more is a row three times farther out
than the cluster's median member, the usual threshold for a candidate outlier. Dividing by the
cluster's own spread makes scores comparable across tight and loose clusters, which the raw
``distance_to_cluster`` is not.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

__all__ = ["outlier_scores", "typical_distances"]


def typical_distances(labels: np.ndarray, distances: np.ndarray, k: int) -> np.ndarray:
    """Return the median distance to the centre of each cluster's rows.

    A cluster with no rows gets the median over all rows; a cluster whose median is 0 (more than
    half of its rows on the centre) gets the mean of its distances instead, and 0 only when every
    row sits on the centre.

    Parameters
    ----------
    labels : ndarray of shape (n_samples,)
        Closest cluster of each row.
    distances : ndarray of shape (n_samples,)
        Euclidean distance of each row to that cluster's centre.
    k : int
        Number of clusters.

    Returns
    -------
    ndarray of shape (k,)
        The typical distance of each cluster.
    """
    overall = float(np.median(distances)) if distances.size else 0.0
    typical = np.full(k, overall)
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(k + 1))
    for c in range(k):
        members = distances[order[bounds[c]:bounds[c + 1]]]
        if members.size:
            median = float(np.median(members))
            typical[c] = median if median > 0 else float(members.mean())
    return typical


def outlier_scores(model: Any, X: Any, *, reference: Optional[Any] = None) -> np.ndarray:
    """Return every row's distance to its closest centre over that cluster's typical distance.

    Parameters
    ----------
    model : KMeans
        A fitted model.
    X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
        Rows to score.
    reference : array-like or scipy.sparse matrix of shape (n_reference, n_features) or None, default=None
        Rows that define each cluster's typical distance (e.g. the training data when scoring new
        rows); None uses ``X`` itself.

    Returns
    -------
    ndarray of shape (n_samples,)
        float64 scores: about 1 for ordinary rows, 3 or more for candidate outliers; 0 for a row on
        its centre, and infinity for a row off the centre of a cluster whose reference rows all sit
        on it.

    Examples
    --------
    >>> import numpy as np
    >>> from fastkmeans import KMeans
    >>> X = np.array([[0, 1], [0, -1], [1, 0], [-1, 0], [0, 8]], dtype=float)
    >>> model = KMeans(k=1, random_state=0).fit(X[:4])
    >>> print(model.outlier_scores(X).round(2))
    [1. 1. 1. 1. 8.]
    """
    labels, distances = model.assign(X)
    if reference is None:
        ref_labels, ref_distances = labels, distances
    else:
        ref_labels, ref_distances = model.assign(reference)
    k = model.cluster_centers_.shape[0]
    typical = typical_distances(np.asarray(ref_labels), np.asarray(ref_distances), k)[labels]
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.where(distances == 0, 0.0, distances / typical)
    return np.asarray(scores, dtype=np.float64)
