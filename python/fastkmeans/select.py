"""Choosing k: train one model per k, score each, and say which k wins by which rule.

``select_k`` reads the data once (a file or any source is read into memory a single time, since
the silhouette needs every row anyway), trains one ``KMeans`` per k on it and tabulates, for each
k: the inertia (training ssd), msd, silhouette (exact up to ``silhouette_exact_max`` rows, else
estimated from a sample with its standard error), Calinski–Harabasz, Davies–Bouldin and, on
request, the gap statistic. Every rule's choice is computed; ``rule`` says which one is
``best_k``:

* ``"silhouette"`` (default): the k of the highest silhouette score.
* ``"elbow"``: Kneedle (Satopää et al., 2011) on the inertia curve, offline form: k and inertia
  are scaled to [0, 1], and the knee is the k whose point lies farthest below the straight line
  from the first point to the last. Needs three k values or more.
* ``"calinski_harabasz"``: the highest Calinski–Harabasz index.
* ``"davies_bouldin"``: the lowest Davies–Bouldin index.
* ``"gap"`` (with ``gap=True``): Tibshirani, Walther & Hastie (2001): the smallest k with
  ``gap(k) >= gap(k+1) - s(k+1)``, where ``gap(k)`` is the mean log inertia of
  ``gap_references`` uniform data sets in the data's bounding box minus the data's log inertia,
  and ``s`` its standard deviation times ``sqrt(1 + 1/B)``.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence

import numpy as np

from fastkmeans import metrics
from fastkmeans._kmeans import KMeans
from fastkmeans._validation import as_float_rows, is_sparse
from fastkmeans.io import as_source

__all__ = ["RULES", "SelectKResult", "kneedle", "select_k"]

RULES = ("silhouette", "elbow", "calinski_harabasz", "davies_bouldin", "gap")
"""The rules ``select_k`` can choose k by."""

COLUMNS = ("k", "inertia", "msd", "silhouette", "silhouette_error", "calinski_harabasz", "davies_bouldin", "gap",
           "gap_error")
"""The columns of ``SelectKResult.table``, in order (the gap columns only with ``gap=True``)."""


@dataclass
class SelectKResult:
    """What ``select_k`` found.

    Attributes
    ----------
    table : list of dict
        One row per k, in the order given, with the keys of ``COLUMNS`` (``silhouette_error`` is
        0 for an exact silhouette; the gap columns are present with ``gap=True``).
    best_k : int
        The k chosen by ``rule``.
    rule : str
        The rule that chose it (one of ``RULES``).
    reason : str
        One sentence: why ``best_k`` won.
    choices : dict of str to int
        The k every rule chooses (those that apply).
    models : dict of int to KMeans
        The fitted model of every k.
    silhouette_exact : bool
        Whether the silhouette column is exact (else a sampled estimate).
    """

    table: List[Dict[str, float]]
    best_k: int
    rule: str
    reason: str
    choices: Dict[str, int]
    models: Dict[int, KMeans] = field(repr=False)
    silhouette_exact: bool = True

    @property
    def k_values(self) -> List[int]:
        """The k values tried, in order."""
        return [int(row["k"]) for row in self.table]

    @property
    def best_model(self) -> KMeans:
        """The fitted model of ``best_k``."""
        return self.models[self.best_k]

    def column(self, name: str) -> np.ndarray:
        """Return one column of the table as an array (e.g. ``"inertia"``)."""
        return np.array([row[name] for row in self.table], dtype=np.float64)

    def to_dict(self) -> Dict[str, Any]:
        """Return everything but the models, JSON-serialisable."""
        return {"best_k": self.best_k, "rule": self.rule, "reason": self.reason, "choices": dict(self.choices),
                "silhouette_exact": self.silhouette_exact, "table": [dict(row) for row in self.table]}

    def to_frame(self) -> Any:
        """Return the table as a pandas DataFrame indexed by k (needs pandas)."""
        import pandas as pd  # type: ignore[import-untyped]

        return pd.DataFrame(self.table).set_index("k")

    def format_table(self) -> str:
        """Return the table as aligned text, the chosen k marked with ``*``."""
        names = [c for c in COLUMNS[1:] if c in self.table[0] and c != "silhouette_error" and c != "gap_error"]
        header = f"{'k':>5} " + " ".join(f"{name:>17}" for name in names)
        lines = [header]
        for row in self.table:
            cells = []
            for name in names:
                value = f"{row[name]:.6g}"
                error = {"silhouette": "silhouette_error", "gap": "gap_error"}.get(name)
                if error and row.get(error):
                    value = f"{row[name]:.4f}±{row[error]:.4f}"
                cells.append(f"{value:>17}")
            mark = "*" if int(row["k"]) == self.best_k else " "
            lines.append(f"{int(row['k']):>4}{mark} " + " ".join(cells))
        lines.append(f"best k = {self.best_k} ({self.rule}): {self.reason}")
        return "\n".join(lines)

    def __str__(self) -> str:
        """Return the formatted table."""
        return self.format_table()


def kneedle(x: Sequence[float], y: Sequence[float]) -> int:
    """Return the index of the knee of a decreasing, convex curve (Kneedle, offline form).

    Both axes are scaled to [0, 1]; the knee is the point farthest below the chord from the first
    point to the last (the maximum of Kneedle's difference curve).

    Parameters
    ----------
    x : sequence of float
        Increasing abscissae (the k values), three or more.
    y : sequence of float
        The curve (the inertia).

    Returns
    -------
    int
        Index into ``x`` of the knee.

    Examples
    --------
    >>> from fastkmeans.select import kneedle
    >>> kneedle([1, 2, 3, 4, 5, 6], [100, 40, 12, 10, 9, 8])
    2
    """
    xs, ys = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if xs.size < 3:
        raise ValueError(f"the elbow needs three k values or more, not {xs.size}.")
    x_span, y_span = xs[-1] - xs[0], ys.max() - ys.min()
    xn = (xs - xs[0]) / x_span if x_span else np.zeros_like(xs)
    yn = (ys - ys.min()) / y_span if y_span else np.zeros_like(ys)
    chord = yn[0] + (yn[-1] - yn[0]) * xn
    return int(np.argmax(chord - yn))


def _progress(total: int, enabled: bool) -> Any:
    """Return a tqdm progress bar on stderr (silent when disabled)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="select_k", unit="fit", disable=not enabled, file=sys.stderr, leave=False)


def select_k(X: Any, k_values: Iterable[int] = range(2, 11), *, random_state: Any = None, rule: str = "silhouette",
             gap: bool = False, gap_references: int = 5, silhouette_exact_max: int = 20_000,
             silhouette_sample_size: int = 5_000, progress: bool = True, n_threads: Optional[int] = None,
             **hyperparameters: Any) -> SelectKResult:
    """Train one model per k and choose k.

    Parameters
    ----------
    X : array-like, scipy.sparse matrix, path, list of paths or Source
        The data (a source is read into memory once).
    k_values : iterable of int, default=range(2, 11)
        The k values to try, each 2 or more and below the number of rows.
    random_state : int or None, default=None
        Seed of every model (and of the silhouette sample and the gap references).
    rule : {"silhouette", "elbow", "calinski_harabasz", "davies_bouldin", "gap"}, default="silhouette"
        Which rule chooses ``best_k`` (see the module's docs).
    gap : bool, default=False
        Also compute the gap statistic (``gap_references`` more fits per k). Dense data only.
    gap_references : int, default=5
        Uniform reference data sets per k for the gap statistic.
    silhouette_exact_max : int, default=20000
        Up to this many rows the silhouette is exact; above, it is estimated from
        ``silhouette_sample_size`` rows (``fastkmeans.metrics.silhouette_estimate``).
    silhouette_sample_size : int, default=5000
        Rows sampled for the estimate.
    progress : bool, default=True
        Show a progress bar (tqdm) on stderr.
    n_threads : int or None, default=None
        Threads for training and metrics.
    **hyperparameters
        Any other ``KMeans`` hyperparameter (``mini_batch_size``, ``epochs``, ``init_method``, ...).

    Returns
    -------
    SelectKResult
        The table, ``best_k``, the rule and every rule's choice, and the models.

    Examples
    --------
    >>> import numpy as np
    >>> from fastkmeans import select_k
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(c, 0.5, (100, 2)) for c in (0, 10, 20)])
    >>> result = select_k(X, range(2, 6), random_state=0, progress=False)
    >>> result.best_k, result.rule, result.choices["elbow"]
    (3, 'silhouette', 3)
    """
    ks = _check_k_values(k_values)
    if rule not in RULES:
        raise ValueError(f"rule must be one of {', '.join(RULES)}, not {rule!r}.")
    if rule == "gap" and not gap:
        raise ValueError("rule='gap' needs gap=True.")
    if rule == "elbow" and len(ks) < 3:
        raise ValueError(f"rule='elbow' needs three k values or more, got {ks}.")
    source = as_source(X)
    rows = as_float_rows(source.read() if source is not None else X)
    n = rows.shape[0]
    if ks[-1] >= n:
        raise ValueError(f"k_values go up to {ks[-1]}, but the data has {n} rows: every k must be below n_samples.")
    if gap and is_sparse(rows):
        raise ValueError("the gap statistic draws uniform dense references: it needs dense X.")
    exact = n <= silhouette_exact_max
    models: Dict[int, KMeans] = {}
    table: List[Dict[str, float]] = []
    steps = len(ks) * (1 + (gap_references if gap else 0))
    with _progress(steps, progress) as bar:
        for k in ks:
            bar.set_postfix(k=k)
            model = KMeans(k=k, random_state=random_state, n_threads=n_threads, **hyperparameters).fit(rows)
            models[k] = model
            table.append(_score(rows, model, exact, silhouette_sample_size, random_state, n_threads))
            bar.update(1)
            if gap:
                table[-1].update(_gap(rows, model, gap_references, random_state, n_threads, hyperparameters, bar))
    choices = _choices(table, gap)
    if rule not in choices:
        raise ValueError(f"rule={rule!r} does not apply here (sparse data has no Calinski-Harabasz or "
                         f"Davies-Bouldin index, every model put all rows in one cluster...); the rules that do: "
                         f"{', '.join(choices) or 'none'}.")
    reason = _reason(rule, choices[rule], table)
    return SelectKResult(table, choices[rule], rule, reason, choices, models, exact)


def _check_k_values(k_values: Iterable[int]) -> List[int]:
    ks = []
    for k in k_values:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
            raise ValueError(f"every k must be an integer of at least 2, not {k!r}.")
        ks.append(int(k))
    if not ks:
        raise ValueError("k_values is empty: give at least one k.")
    if len(set(ks)) != len(ks):
        raise ValueError(f"k_values repeat a value: {ks}.")
    return sorted(ks)


def _score(rows: Any, model: KMeans, exact: bool, sample_size: int, seed: Any,
           n_threads: Optional[int]) -> Dict[str, float]:
    labels = model.labels_
    n = rows.shape[0]
    row: Dict[str, float] = {"k": model.k, "inertia": model.inertia_, "msd": model.inertia_ / n}
    if len(np.unique(labels)) < 2:  # every row in one cluster: no silhouette, no indices
        row.update(silhouette=float("nan"), silhouette_error=0.0, calinski_harabasz=float("nan"),
                   davies_bouldin=float("nan"))
        return row
    # The metrics run where the model ran (device=... among the hyperparameters).
    if exact:
        score = metrics.silhouette_score(rows, labels, n_threads=n_threads, device=model.device)
        row["silhouette"], row["silhouette_error"] = score, 0.0
    else:
        estimate = metrics.silhouette_estimate(rows, labels, sample_size, random_state=_int_seed(seed),
                                               n_threads=n_threads, device=model.device)
        row["silhouette"], row["silhouette_error"] = estimate.score, estimate.standard_error
    if is_sparse(rows):  # scikit-learn's indices take dense data; not densified here
        row["calinski_harabasz"] = row["davies_bouldin"] = float("nan")
    else:
        # Both indices from one pass of the statistics behind them.
        dispersion = metrics._dispersion(rows, labels, "select_k", n_threads, model.device)
        row["calinski_harabasz"] = float(dispersion["calinski_harabasz"])
        row["davies_bouldin"] = float(dispersion["davies_bouldin"])
    return row


def _int_seed(seed: Any) -> Optional[int]:
    return int(seed) if isinstance(seed, (int, np.integer)) else None


def _gap(rows: np.ndarray, model: KMeans, references: int, seed: Any, n_threads: Optional[int],
         hyperparameters: Dict[str, Any], bar: Any) -> Dict[str, float]:
    """Gap(k) and its standard error s(k) (Tibshirani et al., 2001)."""
    rng = np.random.default_rng(_int_seed(seed))
    low, high = rows.min(axis=0), rows.max(axis=0)
    logs = []
    for _ in range(references):
        uniform = rng.uniform(low, high, size=rows.shape).astype(rows.dtype)
        fitted = KMeans(k=model.k, random_state=_int_seed(seed), n_threads=n_threads, **hyperparameters).fit(uniform)
        logs.append(math.log(max(fitted.inertia_, np.finfo(float).tiny)))
        bar.update(1)
    log_w = math.log(max(model.inertia_, np.finfo(float).tiny))
    spread = float(np.std(logs)) * math.sqrt(1 + 1 / references)
    return {"gap": float(np.mean(logs)) - log_w, "gap_error": spread}


def _choices(table: List[Dict[str, float]], gap: bool) -> Dict[str, int]:
    ks = [int(row["k"]) for row in table]
    column = {name: np.array([row[name] for row in table], dtype=np.float64)
              for name in ("inertia", "silhouette", "calinski_harabasz", "davies_bouldin")}
    choices: Dict[str, int] = {}
    if not np.all(np.isnan(column["silhouette"])):
        choices["silhouette"] = ks[int(np.nanargmax(column["silhouette"]))]
    if len(ks) >= 3:
        choices["elbow"] = ks[kneedle(ks, column["inertia"].tolist())]
    if not np.all(np.isnan(column["calinski_harabasz"])):
        choices["calinski_harabasz"] = ks[int(np.nanargmax(column["calinski_harabasz"]))]
        choices["davies_bouldin"] = ks[int(np.nanargmin(column["davies_bouldin"]))]
    if gap:
        gaps = [row["gap"] for row in table]
        errors = [row["gap_error"] for row in table]
        chosen = next((ks[i] for i in range(len(ks) - 1) if gaps[i] >= gaps[i + 1] - errors[i + 1]), ks[-1])
        choices["gap"] = chosen
    return choices


def _reason(rule: str, k: int, table: List[Dict[str, float]]) -> str:
    row = next(r for r in table if int(r["k"]) == k)
    return {
        "silhouette": f"the highest silhouette score, {row['silhouette']:.4f}",
        "elbow": "the knee of the inertia curve (Kneedle: farthest below the chord from the first k to the last)",
        "calinski_harabasz": f"the highest Calinski-Harabasz index, {row['calinski_harabasz']:.6g}",
        "davies_bouldin": f"the lowest Davies-Bouldin index, {row['davies_bouldin']:.4f}",
        "gap": "the smallest k with gap(k) >= gap(k+1) - s(k+1) (Tibshirani et al. 2001)",
    }[rule]
