"""The estimator: SageMaker's hyperparameters, scikit-learn's protocol, the Rust core's speed."""

from __future__ import annotations

import warnings
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

import numpy as np

from fastkmeans import _core, _device, _streaming, _training
from fastkmeans._hyperparameters import (
    Hyperparameters,
    check_hyperparameters,
    check_hyperparameters_once,
    format_hyperparameters,
    parse_hyperparameters,
    resolve_local_lloyd_num_trials,
)
from fastkmeans._sklearn_compat import BaseEstimator, ClusterMixin, TransformerMixin
from fastkmeans._validation import (
    NotFittedError,
    as_float_rows,
    core_rows,
    feature_names,
    is_sparse,
)
from fastkmeans.dask import is_dask_collection
from fastkmeans.io import Batch, DataError, Source, as_source

# KMeans._get_param_names, per class.
_PARAM_NAMES: Dict[type, Tuple[str, ...]] = {}

# Constructor parameters that are not SageMaker hyperparameters (the estimator handles them).
_NOT_HYPERPARAMETERS = frozenset({"random_state", "initial_centers", "device"})


class KMeans(ClusterMixin, TransformerMixin, BaseEstimator):
    """SageMaker's web-scale k-means, as a scikit-learn estimator.

    The parameters are SageMaker's hyperparameters, with its names and defaults, so
    ``KMeans(**hyperparameters)`` takes the dict from a SageMaker notebook as it is, and
    ``from_hyperparameters`` takes SageMaker's string map.

    With ``algorithm="minibatch"`` (the default, SageMaker's algorithm) training seeds
    K = k * extra_center_factor centres from a random sample of ``mini_batch_size`` rows (on rows in
    memory that one batch holds, the rows themselves), streams ``epochs`` shuffled passes of
    mini-batches through them (per-centre counts, optionally decayed by
    ``half_life_time_size``), then shrinks the K centres to k by weighted Lloyd runs seeded with
    ``local_lloyd_init_method``, keeping the best of ``local_lloyd_num_trials``; on rows in memory
    the default ``recipe="fastkmeans"`` instead measures the three leading runs on the rows and runs
    Lloyd iterations on the data itself from the best (on tiny data from every distinct run, and
    from greedy k-means++ seedings of the rows where the runs are fewer than five, the lowest end
    winning; ``recipe="sagemaker"``: SageMaker's exact recipe, without them). With
    ``algorithm="lloyd"`` it runs full-batch Lloyd on the data instead (scikit-learn's KMeans),
    seeded with ``local_lloyd_init_method`` and stopped by the ``local_lloyd_*`` rules.

    Sparse data (any ``scipy.sparse`` matrix, e.g. TF-IDF document vectors) stays sparse: the core
    assigns and sums it sparse x dense, so only the centres are dense, and the same numbers give
    the same model sparse or dense, up to float rounding.

    Parameters
    ----------
    k : int, default=8
        Number of clusters in the final model.
    feature_dim : int or None, default=None
        Number of features; inferred from the data when None, checked against it otherwise.
    mini_batch_size : int, default=5000
        Rows per mini-batch (and in the sampled seeding batch).
    epochs : int, default=1
        Passes over the training data.
    init_method : {"auto", "random", "kmeans++", "kmeans||", "kmeans++-random"}, default="auto"
        How the K streaming centres are seeded from the sampled first batch: uniform rows
        (SageMaker's default), plain k-means++, k-means||, or "kmeans++-random" (plain k-means++
        for the first k centres, uniform rows for the other K - k). "auto" is "kmeans++-random"
        under ``recipe="fastkmeans"`` (small or far groups get a centre, at a tenth of k-means++'s
        cost) and "random" under ``recipe="sagemaker"``; see docs/seeding.md for when to pick which.
    extra_center_factor : int or "auto", default="auto"
        K = k * extra_center_factor centres are kept while streaming. "auto" is
        ``clamp(1000 // k, 2, 10)`` (10 for k <= 100, as SageMaker resolved it for k = 8 and 10);
        K never exceeds the rows of the seeding batch. Under ``recipe="fastkmeans"``, an in-memory
        fit with fewer than 50 rows per streaming centre halves it (to no less than 2): there the K
        centres cost most of the fit, and half as many lose nothing; with fewer than 20 rows per
        streaming centre even then, it is the largest factor that leaves 20, but at least 3; with
        fewer than four, it is 2. Small tables (under 1,000 rows, n * k * d at most
        2**18) keep it: their fit took a millisecond or less at k <= 10, and the finer summary
        lowers the loss.
    half_life_time_size : int, default=0
        A point's weight halves after this many later points; 0 disables decay.
    local_lloyd_max_iter : int, default=300
        Most Lloyd iterations per reduction trial (or per full-data run: ``algorithm="lloyd"``, and
        the default recipe's last step).
    local_lloyd_tol : float, default=1e-4
        A reduction trial stops once the loss falls by less than this fraction of its previous
        value (SageMaker's meaning). Full-data Lloyd (``algorithm="lloyd"``, and the default
        recipe's last step) stops by scikit-learn's rule with the same value as its ``tol``: once
        the centres' total squared move is at most ``local_lloyd_tol`` times the data's mean
        per-feature variance, or once no row changes its centre. The default recipe's last step,
        which starts near a local optimum, stops at a tenth of that move.
    local_lloyd_init_method : {"auto", "kmeans++", "random", "kmeans||", "coreset"}, default="auto"
        Seeding of each Lloyd run: greedy k-means++ (the best of 2 + ln k candidates per step, over
        all rows: scikit-learn's seeding); k-means|| (5 rounds of 2k rows drawn in parallel, reduced
        by weighted k-means++ and Lloyd); or "coreset": the best of 4 greedy k-means++ and Lloyd
        runs on a weighted sample of 32 rows per centre drawn half uniformly, half by squared
        distance to the mean (a lightweight coreset of max(32k, 4096) draws; data under 16 times
        that, 65,536 rows for k <= 128, is seeded by greedy k-means++ over all rows). "auto" is
        SageMaker's "kmeans++" for the reduction (``algorithm="minibatch"``) and "coreset" for
        ``algorithm="lloyd"``, which seeds a million rows in a tenth of greedy k-means++'s time at a
        lower loss (docs/seeding.md). On a Dask collection, "kmeans||" runs over every partition;
        the others seed from a sample of the first (docs/dask.md).
    local_lloyd_num_trials : int or "auto", default="auto"
        Lloyd runs whose lowest loss wins. Before the default recipe's refine, the runs after the
        first four run only if fewer than three of those agree, and the lowest loss over the rows
        after one more Lloyd step, among the three leading runs, wins (on tiny data, every distinct
        run is refined, with restarts seeded on the rows to make up five, and the lowest end wins;
        docs/algorithm.md). "auto" is
        ``clamp(round(1000 / k), 1, 10)`` for "minibatch" (10 for k <= 105, as SageMaker resolved it)
        and 1 for "lloyd"; under ``recipe="fastkmeans"``, an in-memory fit with at least 50 rows per
        streaming centre kept and K >= 3k runs at least 10 (there the passes over the rows cost far
        more than the trials).
    eval_metrics : sequence of {"msd", "ssd"}, default=("msd",)
        Metrics reported in ``train_metrics_`` (and by ``evaluate``).
    algorithm : {"minibatch", "lloyd"}, default="minibatch"
        SageMaker's web-scale algorithm, or full-batch Lloyd.
    random_state : int, numpy RandomState/Generator or None, default=None
        Seed. The same seed gives bit-identical results on any number of threads.
    n_threads : int or None, default=None
        Threads for the Rust core; None uses every core.
    device : {"cpu", "cuda", "cuda:N", "auto"}, default="cpu"
        Where ``fit`` and ``predict`` on rows in memory run their distance passes: the CPU, an
        NVIDIA GPU (a wheel built with the ``cuda`` feature; float32 rows; the CPU's labels,
        ranked by the CPU's own float32 scores), or the GPU when one is usable and else the CPU,
        saying so in a log line. A ``"+tf32"`` suffix lets the GPU use TF32 tensor cores
        (near-ties re-checked exactly: the exactly nearest centre, which differs from the CPU's
        label only where two centres' float32 scores are within their rounding).
        Not a SageMaker hyperparameter. See docs/gpu.md.
    initial_centers : array-like of shape (k, n_features) or (K, n_features), default=None
        Centres to start from instead of seeding (scikit-learn's ``init=ndarray``). With
        "lloyd", k rows: one Lloyd run starts from them (``local_lloyd_num_trials_`` is 1). With
        "minibatch", the K streaming centres: k rows (K = k, so the reduction keeps what streaming
        made of them) or k * extra_center_factor rows (any multiple of k when it is "auto").
        Not a SageMaker hyperparameter: left out of ``get_hyperparameters`` and of saved models.
    reseed_ratio : float in [0, 1] or "auto", default="auto"
        Starved streaming centres: after each mini-batch (but the last of a fit on rows in
        memory without ``initial_centers``), a centre whose (decayed) count is below this fraction of the mean count is
        starved, and one of them moves onto the batch row farthest from its centre when that
        lowers the batch's loss (deterministic; see docs/algorithm.md). 0 never moves one, as
        SageMaker documents nothing of the kind. "auto" is 0.25 under ``recipe="fastkmeans"``
        (in-memory, streamed, ``partial_fit`` and Dask fits alike) and 0 under
        ``recipe="sagemaker"``, SageMaker's exact recipe.
    recipe : {"fastkmeans", "sagemaker"}, default="fastkmeans"
        "fastkmeans": a ``fit`` on rows in memory with ``algorithm="minibatch"`` measures the
        reduction's three leading trials on the rows (their loss after one Lloyd step) and ends
        with full-data Lloyd iterations from the best (at most ``local_lloyd_max_iter``, stopping
        by scikit-learn's centre-shift rule at a tenth of ``local_lloyd_tol``), which brings the
        loss to scikit-learn's ``KMeans`` or below; on tiny data (n * k * d <= 8192) it refines every
        distinct trial (with Lloyd runs seeded by greedy k-means++ over the rows to make up five) and
        keeps the lowest end instead. Where one mini-batch holds every row of float64 data that
        float32 holds closely, the seeding, the streaming pass and the choice run over a float32
        copy of the rows, as SageMaker computes them; the reduction and the refine stay in
        float64, and so do the centres, labels and loss. "sagemaker": SageMaker's exact recipe (seed, stream,
        reduce), nothing after, with ``init_method="auto"`` and ``reseed_ratio="auto"`` resolved to
        SageMaker's uniform seeding and no reseeding. Streamed data (files, sources),
        ``partial_fit``, Dask fits and the training container have no refine step (they see the
        rows once per epoch), but under "fastkmeans" they seed and reseed as its "auto" values say.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (k, n_features)
        Final centres (float32 for float32 training data, else float64).
    labels_ : ndarray of shape (n_samples,)
        Closest cluster of every training row (int32).
    inertia_ : float
        Training ssd: sum of squared distances of the training rows to their closest centre.
    n_iter_ : int
        Lloyd iterations of the chosen reduction trial (or of the full-batch run); the
        refinement's full-data iterations (``recipe="fastkmeans"``) are not counted.
    n_steps_ : int
        Mini-batches merged (0 for "lloyd").
    cluster_sizes_ : ndarray of shape (k,)
        Training rows per cluster.
    cluster_weights_ : ndarray of shape (k,)
        Streaming weight (decayed counts) per cluster; equal to the sizes for "lloyd".
    train_metrics_ : dict
        The ``eval_metrics`` on the training data, e.g. ``{"msd": 0.41}``.
    extra_center_factor_, local_lloyd_num_trials_ : int
        What "auto" (or the given value) resolved to.
    n_features_in_ : int
        Features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when fitted on a DataFrame with string column names.

    Examples
    --------
    Two squares of four points each, around (1, 1) and (11, 11):

    >>> import numpy as np
    >>> from fastkmeans import KMeans
    >>> X = np.array([[0, 0], [0, 2], [2, 0], [2, 2],
    ...               [10, 10], [10, 12], [12, 10], [12, 12]], dtype=np.float64)
    >>> model = KMeans(k=2, random_state=0).fit(X)
    >>> print(model.cluster_centers_)
    [[ 1.  1.]
     [11. 11.]]
    >>> print(model.labels_)
    [0 0 0 0 1 1 1 1]
    >>> model.train_metrics_
    {'msd': 2.0}
    >>> model.extra_center_factor_, model.local_lloyd_num_trials_
    (4, 10)

    The hyperparameter dict of a SageMaker notebook works as it is:

    >>> hyperparameters = {"k": 2, "feature_dim": 2, "mini_batch_size": 500, "epochs": 10,
    ...                    "init_method": "kmeans++", "extra_center_factor": 2}
    >>> rng = np.random.default_rng(0)
    >>> blobs = np.concatenate([rng.normal(0, 1, (500, 2)), rng.normal(20, 1, (500, 2))])
    >>> model = KMeans(**hyperparameters, random_state=42).fit(blobs)
    >>> model.cluster_centers_.shape, model.n_steps_
    ((2, 2), 20)
    >>> print(model.cluster_sizes_)
    [500 500]
    """

    def __init__(
        self,
        k: int = 8,
        feature_dim: Optional[int] = None,
        mini_batch_size: int = 5000,
        epochs: int = 1,
        init_method: str = "auto",
        extra_center_factor: Any = "auto",
        half_life_time_size: int = 0,
        local_lloyd_max_iter: int = 300,
        local_lloyd_tol: float = 1e-4,
        local_lloyd_init_method: str = "auto",
        local_lloyd_num_trials: Any = "auto",
        eval_metrics: Any = ("msd",),
        algorithm: str = "minibatch",
        random_state: Any = None,
        n_threads: Optional[int] = None,
        initial_centers: Any = None,
        reseed_ratio: Union[float, str] = "auto",
        recipe: str = "fastkmeans",
        device: str = "cpu",
    ) -> None:
        self.k = k
        self.feature_dim = feature_dim
        self.mini_batch_size = mini_batch_size
        self.epochs = epochs
        self.init_method = init_method
        self.extra_center_factor = extra_center_factor
        self.half_life_time_size = half_life_time_size
        self.local_lloyd_max_iter = local_lloyd_max_iter
        self.local_lloyd_tol = local_lloyd_tol
        self.local_lloyd_init_method = local_lloyd_init_method
        self.local_lloyd_num_trials = local_lloyd_num_trials
        self.eval_metrics = eval_metrics
        self.algorithm = algorithm
        self.random_state = random_state
        self.n_threads = n_threads
        self.initial_centers = initial_centers
        self.reseed_ratio = reseed_ratio
        self.recipe = recipe
        self.device = device

    # SageMaker's string maps -------------------------------------------------------------------

    @classmethod
    def from_hyperparameters(cls, hyperparameters: Mapping[str, Any]) -> KMeans:
        """Build an estimator from SageMaker's hyperparameter map (values may be strings).

        ``k`` and ``feature_dim`` are required, as in SageMaker; the SDK's hidden keys
        (``force_dense``, ``_kvstore``, ...) are accepted and ignored; unknown names are refused.

        Parameters
        ----------
        hyperparameters : Mapping[str, Any]
            The contents of ``hyperparameters.json`` (strings), or Python-typed values. The string
            forms are those of ``fastkmeans._hyperparameters.parse_hyperparameters``.

        Returns
        -------
        KMeans
            An unfitted estimator with these hyperparameters.

        Raises
        ------
        HyperparameterError
            For an unknown name, a missing ``k`` or ``feature_dim``, or a bad value.

        Examples
        --------
        >>> from fastkmeans import KMeans
        >>> model = KMeans.from_hyperparameters({
        ...     "k": "5", "feature_dim": "10", "epochs": "3",
        ...     "eval_metrics": '["msd", "ssd"]', "force_dense": "True"})
        >>> model.k, model.feature_dim, model.epochs, model.eval_metrics
        (5, 10, 3, ('msd', 'ssd'))
        """
        return cls(**parse_hyperparameters(hyperparameters))

    def get_hyperparameters(self) -> Dict[str, str]:
        """Return SageMaker's string map of this estimator's hyperparameters.

        ``None`` values are left out, since SageMaker never sends one.

        Returns
        -------
        dict of str to str
            What ``hyperparameters.json`` would hold; ``from_hyperparameters`` reads it back.

        Examples
        --------
        >>> from fastkmeans import KMeans
        >>> hp = KMeans(k=5, feature_dim=10, eval_metrics=["msd", "ssd"]).get_hyperparameters()
        >>> hp["k"], hp["feature_dim"], hp["eval_metrics"], hp["local_lloyd_tol"]
        ('5', '10', '["msd", "ssd"]', '0.0001')
        >>> KMeans.from_hyperparameters(hp).get_hyperparameters() == hp
        True
        """
        return format_hyperparameters({k: v for k, v in self.get_params().items()
                                       if k not in ("initial_centers", "device")})

    # Training ------------------------------------------------------------------------------------

    def fit(self, X: Any, y: Any = None, *, test: Any = None) -> KMeans:
        """Train on ``X`` from scratch.

        ``X`` is an array in memory, or data that is streamed: a path, a list of paths, a directory
        (a SageMaker channel), an iterable of arrays, or a ``fastkmeans.io.Source`` (see
        ``fastkmeans.io.open_source``). Streamed training holds only the shuffle buffer, a few
        blocks of rows and the K centres: it seeds from a random sample of the first buffer fill,
        then makes ``epochs`` passes, each re-reading the source. After a streamed fit
        ``labels_`` and ``cluster_sizes_`` are absent (there is no training array to label:
        ``predict(X)`` labels it in one more pass), and ``inertia_`` and ``train_metrics_`` are
        SageMaker's train metrics, those of the reduction: the weighted ssd / msd of the K
        streaming centres to the final k, smaller than the ssd of the data itself, which
        ``evaluate(X)`` computes. With ``algorithm="lloyd"`` (full-batch) a source is read into
        memory first.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features), path, list of paths, Source or iterable
            Training data (arrays are converted once to C-contiguous float32/float64 if needed).
        y : None
            Ignored; present for scikit-learn's API.
        test : array-like, path, Source, ... or None, default=None
            SageMaker's test channel: when given, the ``eval_metrics`` of the final model on it
            are stored in ``test_metrics_`` (SageMaker's ``test:msd`` / ``test:ssd``).

        Returns
        -------
        self : KMeans
            The fitted estimator.

        Raises
        ------
        ValueError
            For invalid data (NaN, wrong shape, fewer rows than ``k``, ...) or hyperparameters; for
            files, a ``fastkmeans.io.DataError`` naming the file and the line or record. A failed
            fit leaves the estimator as it was.
        FileNotFoundError
            For a path that does not exist.

        Examples
        --------
        >>> import numpy as np
        >>> from fastkmeans import KMeans
        >>> X = np.random.default_rng(0).normal(size=(1000, 3))
        >>> model = KMeans(k=4, mini_batch_size=100, epochs=2, random_state=0).fit(X)
        >>> model.cluster_centers_.shape, model.labels_.shape, model.n_steps_
        ((4, 3), (1000,), 20)
        >>> int(model.cluster_sizes_.sum())
        1000
        """
        if is_dask_collection(X):  # trained on the workers: fastkmeans.dask
            from fastkmeans.dask import _estimator

            self._no_initial_centers("a Dask collection")
            return _estimator.fit(self, X, test)
        hp = self._checked()
        source = as_source(X)
        if source is not None and hp.algorithm == "minibatch":
            return self._fit_source(source, hp, test)
        if source is not None:  # full-batch Lloyd needs every row in memory
            X = source.read()
        X, names = self._validate_new(X)
        with _device.using(_device.resolve(self.device)):
            trained = _training.fit_arrays(X, hp, self.random_state, self.initial_centers)
        test_metrics = self._test_metrics(test, trained.centers, X.shape[1], hp)
        # Nothing is stored until training has succeeded: a failed or interrupted fit leaves the
        # estimator as it was.
        self._set_trained(X, names, trained, hp)
        self._set_test_metrics(test_metrics)
        return self

    def _fit_source(self, source: Source, hp: Hyperparameters, test: Any) -> KMeans:
        """Streamed training (see ``fit``); stores nothing until the last pass and the test channel succeed."""
        seed = _training.seed_of(self.random_state)
        trained = _streaming.train(source, hp, seed=seed, epochs=hp.epochs, check_first=self._feature_dim_check(),
                                   resolve=lambda rows: _training.resolve_minibatch(hp, first_batch_rows=rows),
                                   previous=self._seeded(hp, seed))
        reduced = _training.reduce_state(trained.state, hp, trained.trials)
        test_metrics = self._test_metrics(test, reduced["centers"], trained.n_features, hp)
        self._set_streamed(trained, reduced, hp)
        self._set_test_metrics(test_metrics)
        return self

    def partial_fit(self, X: Any, y: Any = None) -> KMeans:
        """Merge ``X`` into the streaming state, then refresh the k final centres.

        The first call seeds the K streaming centres from (a random sample of up to
        ``mini_batch_size`` rows of) ``X``; every call merges ``X`` in mini-batches of
        ``mini_batch_size`` rows, in the order given, and reduces K to k so that the estimator can
        predict at once. ``labels_`` and ``inertia_`` describe ``X``. A ``fit`` with
        ``algorithm="minibatch"`` leaves a state that ``partial_fit`` continues.

        ``X`` may also be streamed data (a path, a list of paths, a directory, an iterable of
        arrays or a ``fastkmeans.io.Source``): it is read once, in random mini-batches from the
        source's shuffle buffer (the first call seeds from the first buffer fill, as ``fit`` does,
        so it equals ``fit`` with ``epochs=1``). ``labels_`` and ``cluster_sizes_`` are then absent
        and ``inertia_`` / ``train_metrics_`` are the reduction's, as after a streamed ``fit``.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features), path, list of paths, Source or iterable
            One chunk of the stream.
        y : None
            Ignored; present for scikit-learn's API.

        Returns
        -------
        self : KMeans
            The estimator, fitted on everything merged so far.

        Raises
        ------
        ValueError
            With ``algorithm="lloyd"``, or for invalid data or hyperparameters.

        Examples
        --------
        >>> import numpy as np
        >>> from fastkmeans import KMeans
        >>> X = np.array([[0, 0], [0, 2], [2, 0], [2, 2],
        ...               [10, 10], [10, 12], [12, 10], [12, 12]], dtype=np.float64)
        >>> model = KMeans(k=2, mini_batch_size=4, random_state=0)
        >>> for chunk in (X[[0, 4, 1, 5]], X[[2, 6, 3, 7]]):
        ...     model = model.partial_fit(chunk)
        >>> model.n_steps_, model.extra_center_factor_
        (2, 2)
        >>> print(np.sort(model.cluster_centers_, axis=0))
        [[ 1.  1.]
         [11. 11.]]
        """
        hp = self._checked()
        if hp.algorithm != "minibatch":
            raise ValueError(f"partial_fit streams mini-batches: it needs algorithm='minibatch', not {hp.algorithm!r}.")
        if is_dask_collection(X):
            from fastkmeans.dask import _estimator

            self._no_initial_centers("a Dask collection")
            return _estimator.partial_fit(self, X, hp)
        previous: Optional[Dict[str, Any]] = getattr(self, "_state", None)
        source = as_source(X)
        if source is not None:
            return self._partial_fit_source(source, hp, previous)
        if previous is None:
            X, names = self._validate_new(X)
            start = None
        else:
            X, names = self._validate_known(X), getattr(self, "feature_names_in_", None)
            start = self._stream(previous)
        self._set_trained(X, names, _training.merge_arrays(X, hp, start, self.random_state, self.initial_centers), hp)
        return self

    def _partial_fit_source(self, source: Source, hp: Hyperparameters, previous: Optional[Dict[str, Any]]) -> KMeans:
        if previous is None:
            seed = _training.seed_of(self.random_state)
            trained = _streaming.train(source, hp, seed=seed, epochs=1, check_first=self._feature_dim_check(),
                                       resolve=lambda rows: _training.resolve_minibatch(hp, first_batch_rows=rows),
                                       previous=self._seeded(hp, seed))
        else:
            start = self._stream(previous)
            trained = _streaming.train(source, hp, seed=previous["seed"], epochs=1, check_first=self._width_check(),
                                       resolve=lambda rows: (start.factor, start.trials), previous=start)
        reduced = _training.reduce_state(trained.state, hp, trained.trials)
        self._set_streamed(trained, reduced, hp)
        return self

    # Inference -----------------------------------------------------------------------------------

    def predict(self, X: Any) -> np.ndarray:
        """Return the closest cluster of every row.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
            New data, with the features seen during fit.

        Returns
        -------
        ndarray of shape (n_samples,)
            int32 cluster indices (ties go to the lowest index).

        Raises
        ------
        NotFittedError
            Before ``fit`` or ``partial_fit``.

        Examples
        --------
        >>> import numpy as np
        >>> from fastkmeans import KMeans
        >>> X = np.array([[0, 0], [0, 2], [2, 0], [2, 2],
        ...               [10, 10], [10, 12], [12, 10], [12, 12]], dtype=np.float64)
        >>> model = KMeans(k=2, random_state=0).fit(X)
        >>> print(model.predict([[1, 1], [11, 12], [3, 0]]))
        [0 1 0]
        """
        return self._assign(X)[0]

    def assign(self, X: Any) -> Tuple[np.ndarray, np.ndarray]:
        """Return SageMaker's inference result: ``(closest_cluster, distance_to_cluster)``.

        What a SageMaker k-means endpoint answers for each record, as arrays.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
            New data, with the features seen during fit.

        Returns
        -------
        closest_cluster : ndarray of shape (n_samples,)
            int32 index of the nearest centre.
        distance_to_cluster : ndarray of shape (n_samples,)
            Euclidean (not squared) distance to it, float64.

        Raises
        ------
        NotFittedError
            Before ``fit`` or ``partial_fit``.

        Examples
        --------
        >>> import numpy as np
        >>> from fastkmeans import KMeans
        >>> X = np.array([[0, 0], [0, 2], [2, 0], [2, 2],
        ...               [10, 10], [10, 12], [12, 10], [12, 12]], dtype=np.float64)
        >>> model = KMeans(k=2, random_state=0).fit(X)
        >>> closest_cluster, distance_to_cluster = model.assign([[1, 1], [14, 15]])
        >>> print(closest_cluster, distance_to_cluster)
        [0 1] [0. 5.]
        """
        labels, dist2 = self._assign(X)
        return labels, np.sqrt(dist2)

    def transform(self, X: Any) -> np.ndarray:
        """Return the Euclidean distance from every row to every centre.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
            New data, with the features seen during fit.

        Returns
        -------
        ndarray of shape (n_samples, k)
            Column ``j`` holds the distances to ``cluster_centers_[j]``, in the data's float type.

        Raises
        ------
        NotFittedError
            Before ``fit`` or ``partial_fit``.

        Examples
        --------
        >>> import numpy as np
        >>> from fastkmeans import KMeans
        >>> X = np.array([[0, 0], [0, 2], [2, 0], [2, 2],
        ...               [10, 10], [10, 12], [12, 10], [12, 12]], dtype=np.float64)
        >>> model = KMeans(k=2, random_state=0).fit(X)
        >>> print(model.transform([[1, 1], [14, 15]]).round(3))
        [[ 0.    14.142]
         [19.105  5.   ]]
        """
        self._require_fitted()
        if is_dask_collection(X):
            from fastkmeans.dask import _estimator

            distances: np.ndarray = _estimator.transform(self, X)  # a Dask array, in fact
            return distances
        source = as_source(X)
        if source is None:
            X = self._validate_known(X)
            device = _device.resolve(self.device)
            if device is not None and not is_sparse(X) and X.dtype == np.float32:  # on the GPU (docs/gpu.md)
                return _core.transform(core_rows(X), self.cluster_centers_.astype(np.float32, copy=False),
                                       n_threads=self.n_threads, device=device)
            return _distances(X, self.cluster_centers_)
        check = self._width_check()
        parts = []
        for batch in source.batches():
            check(batch)
            parts.append(_distances(batch.rows, self.cluster_centers_))
            check = _no_check
        return np.concatenate(parts)

    def outlier_scores(self, X: Any, *, reference: Any = None) -> np.ndarray:
        """Return anomaly scores: each row's distance to its closest centre over that cluster's median distance.

        About 1 for ordinary rows, 3 or more for candidate outliers; see ``fastkmeans.outliers``.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
            Rows to score.
        reference : array-like or scipy.sparse matrix of shape (n_reference, n_features) or None, default=None
            Rows that define each cluster's typical distance (e.g. the training data); None uses ``X``.

        Returns
        -------
        ndarray of shape (n_samples,)
            float64 scores.
        """
        from fastkmeans import outliers

        return outliers.outlier_scores(self, X, reference=reference)

    def score(self, X: Any, y: Any = None) -> float:
        """Return the opposite of the sum of squared distances of ``X`` to its closest centres (−ssd).

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
            New data, with the features seen during fit.
        y : None
            Ignored; present for scikit-learn's API.

        Returns
        -------
        float
            ``-ssd``: higher is better, as scikit-learn's model selection expects.

        Examples
        --------
        >>> import numpy as np
        >>> from fastkmeans import KMeans
        >>> X = np.array([[0, 0], [0, 2], [2, 0], [2, 2],
        ...               [10, 10], [10, 12], [12, 10], [12, 12]], dtype=np.float64)
        >>> KMeans(k=2, random_state=0).fit(X).score(X)
        -16.0
        """
        return -self._ssd_and_count(X)[0]

    def evaluate(self, X: Any) -> Dict[str, float]:
        """Compute the ``eval_metrics`` on ``X``, as SageMaker does for its test channel.

        ``msd`` is the mean and ``ssd`` the sum of the squared distances of the rows of ``X`` to
        their closest centres: SageMaker's ``test:msd`` and ``test:ssd``.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
            Test data, with the features seen during fit.

        Returns
        -------
        dict of str to float
            One entry per name in ``eval_metrics``, in its order.

        Examples
        --------
        >>> import numpy as np
        >>> from fastkmeans import KMeans
        >>> X = np.array([[0, 0], [0, 2], [2, 0], [2, 2],
        ...               [10, 10], [10, 12], [12, 10], [12, 12]], dtype=np.float64)
        >>> model = KMeans(k=2, eval_metrics=["msd", "ssd"], random_state=0).fit(X)
        >>> model.evaluate([[1, 1], [1, 3], [14, 15]])
        {'msd': 9.666666666666666, 'ssd': 29.0}
        """
        self._require_fitted()
        return self._metrics(*self._ssd_and_count(X))

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit, then return ``labels_``: the closest cluster of every training row.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
            Training data.
        y : None
            Ignored; present for scikit-learn's API.

        Returns
        -------
        ndarray of shape (n_samples,)
            int32 cluster indices.
        """
        source = as_source(X)
        if source is not None or is_dask_collection(X):  # no labels kept: one more pass assigns the rows
            data = X if source is None else source
            return self.fit(data).predict(data)
        return self.fit(X).labels_

    # Models out (the formats live in _persist, _onnx and fastkmeans.sagemaker) ------------------

    def save(self, path: Any) -> None:
        """Write the fitted model to one file, atomically; ``fastkmeans.load`` reads it back.

        The file holds the centres, the per-centre weights, the streaming state that ``partial_fit``
        continues, the hyperparameters, the training metrics and the versions, with a SHA-256
        checksum; it is raw arrays and JSON, never pickle. ``labels_`` is not stored.

        Parameters
        ----------
        path : str or os.PathLike
            The file to create or replace (a complete old file stays until the new one is complete).

        Examples
        --------
        >>> import os, tempfile
        >>> import numpy as np
        >>> import fastkmeans
        >>> X = np.array([[0, 0], [0, 2], [10, 10], [10, 12]], dtype=np.float64)
        >>> model = fastkmeans.KMeans(k=2, random_state=0).fit(X)
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     model.save(os.path.join(folder, "model.fkm"))
        ...     loaded = fastkmeans.load(os.path.join(folder, "model.fkm"))
        >>> bool((loaded.predict(X) == model.predict(X)).all()), loaded.train_metrics_ == model.train_metrics_
        (True, True)
        """
        from fastkmeans import _persist

        _persist.save(self, path)

    def to_onnx(self, path: Any = None) -> Any:
        """Return (and write, given ``path``) an ONNX graph of ``predict``, ``transform`` and ``assign``.

        Needs the ``onnx`` package (``pip install "fastkmeans-sagemaker[onnx]"``). The graph maps a float32
        batch ``X`` (n, d) to ``label`` (int64, [n]) and ``scores`` (float32 Euclidean distances,
        [n, k]), as skl2onnx's KMeans converter names them, and ``distance_to_cluster`` (float32, [n]).

        Parameters
        ----------
        path : str, os.PathLike or None, default=None
            Where to write the model (atomically); None only returns it.

        Returns
        -------
        onnx.ModelProto
            The graph.

        Examples
        --------
        >>> import numpy as np
        >>> from fastkmeans import KMeans
        >>> X = np.array([[0, 0], [0, 2], [10, 10], [10, 12]], dtype=np.float32)
        >>> graph = KMeans(k=2, random_state=0).fit(X).to_onnx()
        >>> [output.name for output in graph.graph.output]
        ['label', 'scores', 'distance_to_cluster']
        """
        from fastkmeans import _onnx

        return _onnx.to_onnx(self, path)

    def __sklearn_tags__(self) -> Any:
        """scikit-learn's tags: sparse input is accepted."""
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # Helpers -------------------------------------------------------------------------------------

    @classmethod
    def _get_param_names(cls) -> List[str]:
        """Return the constructor's parameter names (for ``get_params``), read once per class.

        scikit-learn inspects the signature on every call: about 35 µs, a fifth of the Python side
        of a whole fit, which on a few thousand rows takes a millisecond or two.
        """
        names = _PARAM_NAMES.get(cls)
        if names is None:
            names = _PARAM_NAMES[cls] = tuple(super()._get_param_names())
        return list(names)

    def _checked(self) -> Hyperparameters:
        return check_hyperparameters_once({name: getattr(self, name) for name in self._get_param_names()
                                           if name not in _NOT_HYPERPARAMETERS})

    def _seeded(self, hp: Hyperparameters, seed: int) -> Optional[_streaming.Trained]:
        """Return a streamed fit's starting state from ``initial_centers`` (None when not given)."""
        if self.initial_centers is None:
            return None
        width = np.shape(self.initial_centers)[-1] if np.ndim(self.initial_centers) == 2 else 0
        n_features = self.feature_dim if self.feature_dim is not None else width
        dtype = np.float32 if np.asarray(self.initial_centers).dtype == np.float32 else np.float64
        state, factor = _training.seeded_state(self.initial_centers, hp, n_features, dtype, seed)
        trials = resolve_local_lloyd_num_trials(hp.local_lloyd_num_trials, hp.k, "minibatch")
        return _streaming.Trained(state, 0, factor, trials, n_features)

    def _no_initial_centers(self, what: str) -> None:
        if self.initial_centers is not None:
            raise ValueError(f"initial_centers is not supported for {what}: seed from the data instead, "
                             "or fit an array.")

    def _validate_new(self, X: Any) -> Tuple[Any, Optional[np.ndarray]]:
        """Training data (an array, or CSR when sparse) and its column names; checks feature_dim, stores nothing."""
        names = feature_names(X)
        array = as_float_rows(X)
        if self.feature_dim is not None and array.shape[1] != self.feature_dim:
            raise ValueError(f"X has {array.shape[1]} features, but feature_dim={self.feature_dim}.")
        return array, names

    def _validate_known(self, X: Any) -> Any:
        """Check data for a fitted model: the same number of features, and names as scikit-learn checks them."""
        names = feature_names(X)
        array = as_float_rows(X)
        if array.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {array.shape[1]} features, but {type(self).__name__} is expecting "
                             f"{self.n_features_in_} features as input.")
        fitted_names = getattr(self, "feature_names_in_", None)
        if fitted_names is not None and names is None:
            warnings.warn(f"X does not have valid feature names, but {type(self).__name__} was fitted with "
                          "feature names", UserWarning, stacklevel=3)
        elif names is not None and fitted_names is None:
            warnings.warn(f"X has feature names, but {type(self).__name__} was fitted without feature names",
                          UserWarning, stacklevel=3)
        elif names is not None and fitted_names is not None and not np.array_equal(names, fitted_names):
            raise ValueError("The feature names should match those that were passed during fit.\n"
                             f"Fitted with: {list(fitted_names)}\nGot: {list(names)}")
        return array

    def _stream(self, state: Dict[str, Any]) -> _streaming.Trained:
        """Return the streaming state to continue, with what was resolved when it was seeded."""
        return _streaming.Trained(dict(state), self.n_steps_, self.extra_center_factor_, self.local_lloyd_num_trials_,
                                  self.n_features_in_)

    def _set_trained(self, X: Any, names: Optional[np.ndarray], trained: _training.Fitted,
                     hp: Hyperparameters) -> None:
        """Store an in-memory fit or merge of ``X``."""
        self._state, self.extra_center_factor_, self.local_lloyd_num_trials_ = (trained.state, trained.factor,
                                                                                trained.trials)
        self.n_steps_, self.cluster_weights_ = trained.n_steps, trained.weights
        self.n_features_in_ = X.shape[1]
        if names is not None:
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.cluster_centers_ = trained.centers
        self.labels_ = trained.labels
        self.inertia_ = float(trained.inertia)
        self.n_iter_ = int(trained.n_iter)
        self.cluster_sizes_ = np.bincount(trained.labels, minlength=hp.k)
        self.train_metrics_ = self._metrics(self.inertia_, trained.labels.shape[0], metrics=hp.eval_metrics)

    def _metrics(self, ssd: float, n: int, msd: Optional[float] = None,
                 metrics: Optional[Tuple[str, ...]] = None) -> Dict[str, float]:
        """``eval_metrics`` (checked here unless given, already checked) from the ssd of ``n`` rows."""
        values = {"msd": msd if msd is not None else ssd / n if n else 0.0, "ssd": ssd}
        if metrics is None:
            metrics = check_hyperparameters(eval_metrics=self.eval_metrics).eval_metrics
        return {name: values[name] for name in metrics}

    def _require_fitted(self) -> None:
        if not hasattr(self, "cluster_centers_"):
            raise NotFittedError(f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                                 "appropriate arguments before using this estimator.")

    def _assign(self, X: Any) -> Tuple[np.ndarray, np.ndarray]:
        self._require_fitted()
        if is_dask_collection(X):  # lazy Dask arrays, computed on the workers
            from fastkmeans.dask import _estimator

            return _estimator.assign(self, X)
        source = as_source(X)
        if source is None:
            X = self._validate_known(X)
            return _core.assign(core_rows(X), self.cluster_centers_.astype(X.dtype, copy=False),
                                n_threads=self.n_threads, device=_device.resolve(self.device))
        labels, dist2 = [], []
        for _, batch_labels, batch_dist2 in _streaming.assign_batches(source, self.cluster_centers_,
                                                                       self._width_check(), self.n_threads):
            labels.append(batch_labels)
            dist2.append(batch_dist2)
        return np.concatenate(labels), np.concatenate(dist2)

    def _ssd_and_count(self, X: Any) -> Tuple[float, int]:
        """Sum of squared distances to the closest centres, and rows, of data for a fitted model."""
        self._require_fitted()
        if is_dask_collection(X):
            from fastkmeans.dask import _estimator

            return _estimator.ssd_and_count(self, X)
        source = as_source(X)
        if source is None:
            dist2 = self._assign(X)[1]
            return float(dist2.sum()), dist2.shape[0]
        return _streamed_ssd(source, self.cluster_centers_, self._width_check(), self.n_threads)

    def _test_metrics(self, test: Any, centers: np.ndarray, n_features: int,
                      hp: Hyperparameters) -> Optional[Dict[str, float]]:
        """Return the eval_metrics of new centres on the test channel, or None without one."""
        if test is None:
            return None
        source = as_source(test)
        if source is None:
            X = as_float_rows(test, name="test")
            if X.shape[1] != n_features:
                raise ValueError(f"test has {X.shape[1]} features, but the training data has {n_features}.")
            dist2 = _core.assign(core_rows(X), centers.astype(X.dtype, copy=False), n_threads=hp.n_threads)[1]
            return self._metrics(float(dist2.sum()), dist2.shape[0])
        return self._metrics(*_streamed_ssd(source, centers, _width_check(n_features, "the training data has"),
                                            hp.n_threads))

    def _set_test_metrics(self, metrics: Optional[Dict[str, float]]) -> None:
        if metrics is not None:
            self.test_metrics_ = metrics
        elif hasattr(self, "test_metrics_"):
            del self.test_metrics_

    def _set_streamed(self, trained: _streaming.Trained, reduced: Dict[str, Any], hp: Hyperparameters) -> None:
        """Store a streamed training's result: no labels; the reduction's ssd / msd as train metrics."""
        weights = _training.streaming_weights(trained.state, reduced["centers"])
        self._state, self.extra_center_factor_, self.local_lloyd_num_trials_ = (trained.state, trained.factor,
                                                                                trained.trials)
        self.n_steps_, self.cluster_weights_ = trained.n_steps, weights
        self.n_features_in_ = trained.n_features
        for stale in ("feature_names_in_", "labels_", "cluster_sizes_"):
            if hasattr(self, stale):
                delattr(self, stale)
        self.cluster_centers_ = reduced["centers"]
        self.inertia_ = float(reduced["ssd"])
        self.n_iter_ = int(reduced["n_iter"])
        self.train_metrics_ = self._metrics(float(reduced["ssd"]), 0, msd=float(reduced["msd"]))

    def _feature_dim_check(self) -> Callable[[Batch], None]:
        """Check of a training source's first block against feature_dim."""
        feature_dim = self.feature_dim

        def check(batch: Batch) -> None:
            width = batch.rows.shape[1]
            if feature_dim is not None and width != feature_dim:
                raise DataError(f"{batch.where()}: the data has {width} features, but feature_dim={feature_dim}.")

        return check

    def _width_check(self) -> Callable[[Batch], None]:
        """Check of a source's first block against the features seen during fit."""
        return _width_check(self.n_features_in_, f"{type(self).__name__} is expecting")


def _distances(X: Any, centers: np.ndarray) -> np.ndarray:
    """Euclidean distances of every row of ``X`` (dense, or sparse CSR) to every centre, in the dtype of ``X``."""
    centers = centers.astype(X.dtype, copy=False)
    # ||x - c||² = ||x||² - 2 x·c + ||c||², clamped at zero where roundoff makes it negative.
    if is_sparse(X):  # sparse x dense products: the n x k result is the only dense part
        row_norms = np.asarray(X.multiply(X).sum(axis=1), dtype=X.dtype).reshape(-1, 1)
        products = np.asarray(X @ centers.T)
    else:
        row_norms, products = np.einsum("ij,ij->i", X, X)[:, None], X @ centers.T
    squared = row_norms - 2.0 * products + np.einsum("ij,ij->i", centers, centers)
    distances: np.ndarray = np.sqrt(np.maximum(squared, 0.0))
    return distances


def _width_check(n_features: int, expecting: str) -> Callable[[Batch], None]:
    def check(batch: Batch) -> None:
        width = batch.rows.shape[1]
        if width != n_features:
            raise DataError(f"{batch.where()}: X has {width} features, but {expecting} {n_features} features "
                            "as input.")

    return check


def _no_check(batch: Batch) -> None:
    """Blocks after the first: the source has checked that they are as wide as the first."""


def _streamed_ssd(source: Source, centers: np.ndarray, check: Callable[[Batch], None],
                  n_threads: Optional[int]) -> Tuple[float, int]:
    ssd, n = 0.0, 0
    for _, _, dist2 in _streaming.assign_batches(source, centers, check, n_threads):
        ssd += float(dist2.sum())
        n += dist2.shape[0]
    return ssd, n

