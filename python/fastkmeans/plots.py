"""The tutorials' plots, with matplotlib (``pip install fastkmeans[plot]``).

Every function returns a ``matplotlib.figure.Figure`` built without pyplot, so nothing here
selects a backend or touches pyplot's global state: figures render with Agg, also on a machine
without a display. ``save(figure, path)`` writes one; ``png_bytes`` and ``data_uri`` give the PNG
for embedding (the HTML report does that).
"""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING, Any, Optional, Sequence, Tuple

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from fastkmeans.select import SelectKResult

__all__ = ["cluster_sizes", "data_uri", "distance_histograms", "elbow", "pca_projection", "pca_scatter", "png_bytes",
           "save", "silhouette_diagram", "silhouette_vs_k"]

#: Rows drawn at most in a scatter plot (a random sample beyond).
SCATTER_ROWS = 5_000


def _figure(width: float = 6.4, height: float = 4.0) -> Figure:
    try:
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - exercised without the extra
        raise ImportError("plots need matplotlib: pip install 'fastkmeans[plot]'") from None
    return Figure(figsize=(width, height), layout="constrained")


def png_bytes(figure: Figure, *, dpi: int = 100) -> bytes:
    """Return the figure as PNG bytes (rendered with Agg)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def data_uri(figure: Figure, *, dpi: int = 100) -> str:
    """Return the figure as a ``data:image/png;base64,...`` URI, for an ``<img src>``."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(figure, dpi=dpi)).decode("ascii")


def save(figure: Figure, path: Any, *, dpi: int = 100) -> None:
    """Write the figure to ``path`` (the format from its extension: .png, .svg, .pdf)."""
    figure.savefig(path, dpi=dpi)


def elbow(result: SelectKResult) -> Figure:
    """Inertia against k, the elbow (Kneedle) and the chosen k marked.

    Parameters
    ----------
    result : SelectKResult
        What ``fastkmeans.select_k`` returned.
    """
    figure = _figure()
    axes = figure.add_subplot()
    ks, inertia = result.k_values, result.column("inertia")
    axes.plot(ks, inertia, "o-", color="C0")
    knee = result.choices.get("elbow")
    if knee is not None:
        axes.plot([knee], [inertia[ks.index(knee)]], "s", color="C3", markersize=12, fillstyle="none",
                  label=f"elbow (Kneedle): k = {knee}")
    axes.axvline(result.best_k, color="C2", linestyle="--", label=f"chosen ({result.rule}): k = {result.best_k}")
    axes.set(xlabel="k", ylabel="inertia (sum of squared distances)", title="Elbow curve", xticks=ks)
    axes.legend()
    return figure


def silhouette_vs_k(result: SelectKResult) -> Figure:
    """Silhouette score against k (with its error bar where it was estimated)."""
    figure = _figure()
    axes = figure.add_subplot()
    ks = result.k_values
    axes.errorbar(ks, result.column("silhouette"), yerr=1.96 * result.column("silhouette_error"), fmt="o-",
                  color="C1", capsize=3)
    axes.axvline(result.best_k, color="C2", linestyle="--", label=f"chosen ({result.rule}): k = {result.best_k}")
    kind = "exact" if result.silhouette_exact else "estimated, 95% error bars"
    axes.set(xlabel="k", ylabel="silhouette score", title=f"Silhouette against k ({kind})", xticks=ks)
    axes.legend()
    return figure


def silhouette_diagram(samples: np.ndarray, labels: np.ndarray, *, score: Optional[float] = None) -> Figure:
    """Per-cluster silhouette diagram: each cluster's values, sorted, as horizontal bands.

    Parameters
    ----------
    samples : ndarray of shape (n_samples,)
        Silhouette values (``fastkmeans.metrics.silhouette_samples``).
    labels : ndarray of shape (n_samples,)
        Cluster of each row (0..k-1).
    score : float or None, default=None
        The mean to mark; the mean of ``samples`` when None.
    """
    figure = _figure(6.4, 4.8)
    axes = figure.add_subplot()
    samples, labels = np.asarray(samples), np.asarray(labels)
    bottom = 0
    gap = max(len(samples) // 100, 2)
    for c in np.unique(labels):
        values = np.sort(samples[labels == c])
        axes.fill_betweenx(np.arange(bottom, bottom + len(values)), 0, values, color=f"C{int(c) % 10}", alpha=0.8)
        axes.text(-0.05, bottom + len(values) / 2, str(int(c)), ha="right", va="center")
        bottom += len(values) + gap
    mean = float(samples.mean()) if score is None else score
    axes.axvline(mean, color="red", linestyle="--", label=f"mean {mean:.3f}")
    axes.set(xlabel="silhouette value", ylabel="rows, by cluster", title="Silhouette by cluster", yticks=[])
    axes.set_xlim(min(-0.1, float(samples.min()) - 0.05), 1.0)
    axes.legend(loc="lower right")
    return figure


def cluster_sizes(sizes: Sequence[int]) -> Figure:
    """Bar chart of the rows in each cluster."""
    figure = _figure()
    axes = figure.add_subplot()
    counts = np.asarray(sizes)
    bars = axes.bar(np.arange(len(counts)), counts, color=[f"C{c % 10}" for c in range(len(counts))])
    axes.bar_label(bars)
    axes.set(xlabel="cluster", ylabel="rows", title="Cluster sizes", xticks=np.arange(len(counts)))
    return figure


def distance_histograms(distances: np.ndarray, labels: np.ndarray, k: int, *, bins: int = 30) -> Figure:
    """One histogram per cluster of the rows' distances to their centre.

    Parameters
    ----------
    distances : ndarray of shape (n_samples,)
        Euclidean distance of each row to its closest centre (``model.assign(X)[1]``).
    labels : ndarray of shape (n_samples,)
        The closest cluster of each row.
    k : int
        Number of clusters.
    bins : int, default=30
        Bins per histogram.
    """
    columns = min(k, 4)
    rows = -(-k // columns)
    figure = _figure(3.0 * columns, 2.4 * rows)
    grid = figure.subplots(rows, columns, squeeze=False, sharex=True)
    distances, labels = np.asarray(distances), np.asarray(labels)
    for c in range(rows * columns):
        axes = grid[c // columns][c % columns]
        if c >= k:
            axes.set_visible(False)
            continue
        members = distances[labels == c]
        axes.hist(members, bins=bins, color=f"C{c % 10}")
        axes.set_title(f"cluster {c} ({members.size} rows)", fontsize="medium")
    figure.supxlabel("distance to the cluster's centre")
    return figure


def pca_projection(X: Any, centers: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the rows and the centres projected on the data's first two principal components.

    The components come from an SVD of the centred rows (at most ``SCATTER_ROWS`` of them, taken
    at random with a fixed seed; a sparse matrix is densified only for those rows).

    Returns
    -------
    points : ndarray of shape (m, 2)
    centres : ndarray of shape (k, 2)
    rows : ndarray of shape (m,)
        Which rows of ``X`` the points are.
    """
    n = X.shape[0]
    rows = np.arange(n) if n <= SCATTER_ROWS else np.sort(np.random.default_rng(0).choice(n, SCATTER_ROWS, False))
    sample = X[rows]
    sample = np.asarray(sample.toarray() if hasattr(sample, "toarray") else sample, dtype=np.float64)
    mean = sample.mean(axis=0)
    _, _, vt = np.linalg.svd(sample - mean, full_matrices=False)
    components = vt[:2].T
    if components.shape[1] < 2:  # one feature: the second axis is 0
        components = np.hstack([components, np.zeros((components.shape[0], 1))])
    return (sample - mean) @ components, (np.asarray(centers, dtype=np.float64) - mean) @ components, rows


def pca_scatter(X: Any, labels: np.ndarray, centers: np.ndarray) -> Figure:
    """2-D PCA scatter of the rows, coloured by cluster, with the centres marked.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix of shape (n_samples, n_features)
        The rows.
    labels : ndarray of shape (n_samples,)
        Cluster of each row.
    centers : ndarray of shape (k, n_features)
        The centres.
    """
    points, centres, rows = pca_projection(X, centers)
    labels = np.asarray(labels)[rows]
    figure = _figure(6.4, 5.0)
    axes = figure.add_subplot()
    axes.scatter(points[:, 0], points[:, 1], c=[f"C{int(c) % 10}" for c in labels], s=6, alpha=0.6)
    axes.scatter(centres[:, 0], centres[:, 1], marker="X", s=160, c="black", edgecolors="white", label="centres")
    for c, (u, v) in enumerate(centres):
        axes.annotate(str(c), (u, v), textcoords="offset points", xytext=(6, 6), fontweight="bold")
    shown = f" ({len(rows)} of {X.shape[0]} rows)" if len(rows) < X.shape[0] else ""
    axes.set(xlabel="principal component 1", ylabel="principal component 2", title=f"PCA projection{shown}")
    axes.legend(loc="best")
    return figure
