"""One self-contained HTML page about a model on some data: metrics, tables and plots.

``write_report(model, source, path)`` is what ``fastkmeans report MODEL SOURCE -o report.html``
runs. The page has no external reference at all: the plots are PNGs embedded as ``data:`` URIs and
the style sheet is inline, so it opens offline, can be mailed, and renders the same anywhere. It
holds the model's hyperparameters, the metrics (ssd, msd, silhouette, Calinski–Harabasz,
Davies–Bouldin), a per-cluster table, the plots (cluster sizes, distance histograms, silhouette
by cluster, a 2-D PCA scatter; with ``k_values``, the elbow and silhouette-against-k curves of a
``select_k`` sweep) and the membership table sorted by cluster and distance, as the crime-data
workshop shows it. The page is built with the standard library (``html.escape``); plots need
matplotlib (``pip install fastkmeans[plot]``).
"""

from __future__ import annotations

import datetime
import html
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

import numpy as np

from fastkmeans import metrics, plots
from fastkmeans._atomic import write_atomically
from fastkmeans._validation import as_float_rows, is_sparse
from fastkmeans.io import as_source

__all__ = ["Report", "build_report", "write_report"]

#: Rows above which the silhouette is estimated from a sample rather than computed exactly.
SILHOUETTE_EXACT_MAX = 20_000


@dataclass
class Report:
    """The numbers of a report, and its HTML.

    Attributes
    ----------
    metrics : dict of str to float
        ssd, msd, silhouette (and silhouette_error when estimated), calinski_harabasz, davies_bouldin.
    clusters : list of dict
        Per cluster: size, share, mean / median / max distance to the centre, mean silhouette.
    html : str
        The page.
    images : int
        Embedded images.
    """

    metrics: Dict[str, float]
    clusters: List[Dict[str, float]]
    html: str
    images: int = 0
    selection: Optional[Any] = field(default=None, repr=False)


def _load_model(model: Any) -> Any:
    if isinstance(model, (str, os.PathLike)):
        from fastkmeans import load

        return load(model)
    if not hasattr(model, "cluster_centers_"):
        raise ValueError("model must be a fitted KMeans or the path of a saved model (fastkmeans.load).")
    return model


def _load_data(source: Any) -> Any:
    found = as_source(source)
    return as_float_rows(found.read() if found is not None else source, name="the report's data")


def build_report(model: Any, source: Any, *, title: Optional[str] = None, row_names: Optional[Sequence[str]] = None,
                 k_values: Optional[Iterable[int]] = None, selection: Optional[Any] = None, membership_rows: int = 200,
                 random_state: int = 0, n_threads: Optional[int] = None) -> Report:
    """Compute the report of ``model`` on ``source`` (see ``write_report``) and return it without writing."""
    model = _load_model(model)
    X = _load_data(source)
    if X.shape[1] != model.n_features_in_:
        raise ValueError(f"the data has {X.shape[1]} features, but the model was trained on {model.n_features_in_}.")
    if row_names is not None and len(row_names) != X.shape[0]:
        raise ValueError(f"row_names has {len(row_names)} names for {X.shape[0]} rows.")
    k = model.cluster_centers_.shape[0]
    labels, distances = model.assign(X)
    values = _metrics(X, labels, model, n_threads, random_state)
    silhouettes = values.pop("_samples")
    clusters = _clusters(labels, distances, silhouettes, k)
    figures = [("Cluster sizes", plots.cluster_sizes([int(c["size"]) for c in clusters])),
               ("Distance to the centre, per cluster", plots.distance_histograms(distances, labels, k))]
    if silhouettes is not None:
        figures.append(("Silhouette by cluster", plots.silhouette_diagram(silhouettes, labels)))
    figures.append(("Points and centres, 2-D PCA projection", plots.pca_scatter(X, labels, model.cluster_centers_)))
    if selection is None and k_values is not None:
        from fastkmeans.select import select_k

        selection = select_k(X, k_values, random_state=random_state, progress=False, n_threads=n_threads,
                             **_training_hyperparameters(model))
    if selection is not None:
        figures += [("Elbow curve", plots.elbow(selection)), ("Silhouette against k", plots.silhouette_vs_k(selection))]
    page = _page(title or "fastkmeans report", model, X, values, clusters, figures, selection,
                 _membership(labels, distances, row_names, membership_rows))
    return Report(values, clusters, page, len(figures), selection)


def write_report(model: Any, source: Any, path: Union[str, "os.PathLike[str]"], *, title: Optional[str] = None,
                 row_names: Optional[Sequence[str]] = None, k_values: Optional[Iterable[int]] = None,
                 selection: Optional[Any] = None, membership_rows: int = 200, random_state: int = 0,
                 n_threads: Optional[int] = None) -> Report:
    """Write one self-contained HTML report of ``model`` on ``source`` to ``path``, atomically.

    Parameters
    ----------
    model : KMeans, str or os.PathLike
        A fitted model, or the path of one saved with ``model.save`` (read with ``fastkmeans.load``).
    source : array-like, scipy.sparse matrix, path, list of paths or Source
        The data to describe (read into memory once), with the model's features.
    path : str or os.PathLike
        The HTML file to create or replace (a complete old file stays until the new one is complete).
    title : str or None, default=None
        The page's title.
    row_names : sequence of str or None, default=None
        A name per row for the membership table (e.g. the states of the crime data).
    k_values : iterable of int or None, default=None
        Also run ``select_k`` over these k (same hyperparameters as the model) and show its table
        and curves.
    selection : SelectKResult or None, default=None
        A ``select_k`` result to show instead of running one (``k_values`` is then ignored).
    membership_rows : int, default=200
        Rows shown in the membership table (sorted by cluster, then by distance to the centre).
    random_state : int, default=0
        Seed of the silhouette sample (above 20,000 rows) and of the ``select_k`` sweep.
    n_threads : int or None, default=None
        Threads for the core.

    Returns
    -------
    Report
        The numbers and the page that was written.
    """
    report = build_report(model, source, title=title, row_names=row_names, k_values=k_values, selection=selection,
                          membership_rows=membership_rows, random_state=random_state, n_threads=n_threads)
    write_atomically(path, [report.html.encode("utf-8")])
    return report


def _training_hyperparameters(model: Any) -> Dict[str, Any]:
    params = dict(model.get_params())
    for name in ("k", "random_state", "n_threads", "feature_dim", "initial_centers"):
        params.pop(name, None)
    return params


def _metrics(X: Any, labels: np.ndarray, model: Any, n_threads: Optional[int], seed: int) -> Dict[str, Any]:
    n = X.shape[0]
    values: Dict[str, Any] = {}
    values["ssd"] = metrics.ssd(X, model.cluster_centers_, n_threads=n_threads)
    values["msd"] = values["ssd"] / n
    values["_samples"] = None
    if not 1 < len(np.unique(labels)) < n:
        return values
    if n <= SILHOUETTE_EXACT_MAX:
        values["_samples"] = metrics.silhouette_samples(X, labels, n_threads=n_threads)
        values["silhouette"] = float(values["_samples"].mean())
    else:
        estimate = metrics.silhouette_estimate(X, labels, 5_000, random_state=seed, n_threads=n_threads)
        values["silhouette"], values["silhouette_error"] = estimate.score, estimate.standard_error
    if not is_sparse(X):
        values["calinski_harabasz"] = metrics.calinski_harabasz_score(X, labels, n_threads=n_threads)
        values["davies_bouldin"] = metrics.davies_bouldin_score(X, labels, n_threads=n_threads)
    return values


def _clusters(labels: np.ndarray, distances: np.ndarray, silhouettes: Optional[np.ndarray],
              k: int) -> List[Dict[str, float]]:
    rows = []
    for c in range(k):
        mask = labels == c
        d = distances[mask]
        row: Dict[str, float] = {"cluster": c, "size": int(mask.sum()), "share": float(mask.mean())}
        row.update(mean_distance=float(d.mean()) if d.size else float("nan"),
                   median_distance=float(np.median(d)) if d.size else float("nan"),
                   max_distance=float(d.max()) if d.size else float("nan"))
        if silhouettes is not None:
            row["silhouette"] = float(silhouettes[mask].mean()) if d.size else float("nan")
        rows.append(row)
    return rows


def _membership(labels: np.ndarray, distances: np.ndarray, names: Optional[Sequence[str]],
                limit: int) -> List[List[Any]]:
    order = np.lexsort((distances, labels))[:limit]
    return [[str(names[i]) if names is not None else int(i), int(labels[i]), float(distances[i])] for i in order]


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.6em 0; } td, th { border: 1px solid #ddd; padding: 0.25em 0.7em; }
th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { display: inline-block; margin: 0.6em; } figcaption { text-align: center; color: #555; }
img { max-width: 100%; } .note { color: #666; font-size: 0.9em; }
"""


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for value in row:
            text = f"{value:.6g}" if isinstance(value, float) else str(value)
            numeric = isinstance(value, (int, float, np.integer, np.floating))
            cells.append(f"<td class=\"num\">{html.escape(text)}</td>" if numeric else f"<td>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _page(title: str, model: Any, X: Any, values: Dict[str, Any], clusters: List[Dict[str, float]],
          figures: List[Any], selection: Any, membership: List[List[Any]]) -> str:
    from fastkmeans import __version__

    names = {"ssd": "ssd (sum of squared distances)", "msd": "msd (mean squared distance)",
             "silhouette": "silhouette score", "silhouette_error": "silhouette standard error (sampled estimate)",
             "calinski_harabasz": "Calinski–Harabasz index", "davies_bouldin": "Davies–Bouldin index"}
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>",
             f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>",
             f"<p class=\"note\">fastkmeans {html.escape(__version__)}, "
             f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}: k = {len(clusters)}, "
             f"{X.shape[0]} rows of {X.shape[1]} features{' (sparse)' if is_sparse(X) else ''}.</p>",
             "<h2>Metrics</h2>", _table(["metric", "value"], [[names[key], value] for key, value in values.items()]),
             "<h2>Clusters</h2>",
             _table(list(clusters[0].keys()), [list(c.values()) for c in clusters])]
    if selection is not None:
        parts += ["<h2>Choosing k</h2>",
                  f"<p>best k = {selection.best_k} by {html.escape(selection.rule)}: {html.escape(selection.reason)}. "
                  f"Every rule: {html.escape(', '.join(f'{r}: k = {k}' for r, k in selection.choices.items()))}.</p>",
                  _table(list(selection.table[0].keys()), [list(row.values()) for row in selection.table])]
    parts.append("<h2>Plots</h2>")
    for caption, figure in figures:
        parts.append(f"<figure><img alt=\"{html.escape(caption)}\" src=\"{plots.data_uri(figure)}\">"
                     f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    hyperparameters = model.get_hyperparameters() if hasattr(model, "get_hyperparameters") else {}
    parts += ["<h2>Model</h2>", _table(["hyperparameter", "value"], sorted(hyperparameters.items())),
              f"<h2>Membership (sorted by cluster, then distance; {len(membership)} rows)</h2>",
              _table(["row", "cluster", "distance to centre"], membership), "</body></html>"]
    return "\n".join(parts)
