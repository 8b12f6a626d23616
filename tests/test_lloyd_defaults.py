"""Issue 15: algorithm="lloyd" stops by scikit-learn's centre-shift rule and seeds from a coreset
(greedy k-means++ over every row, scikit-learn's seeding, on data too small for one), while the
K -> k reduction keeps SageMaker's meanings."""

from __future__ import annotations

from typing import Optional

import numpy as np
import pytest

from fastkmeans import KMeans, _core
from fastkmeans._hyperparameters import (
    HyperparameterError,
    check_hyperparameters,
    format_hyperparameters,
    parse_hyperparameters,
)

sk_cluster = pytest.importorskip("sklearn.cluster")


def blobs(n: int, d: int, k: int, seed: int, spread: float = 1.5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    means = rng.uniform(-10, 10, size=(k, d))
    return means[rng.integers(0, k, n)] + rng.normal(0, spread, (n, d))


X = blobs(12_000, 5, 20, 0)
# Large enough for a coreset: at least 16 x 4,096 rows.
BIG = blobs(70_000, 5, 40, 2)


def test_lloyd_on_small_data_is_scikit_learns_seeding_and_stop_rule():
    model = KMeans(k=20, algorithm="lloyd", random_state=3).fit(X)
    core = _core.fit_lloyd(X, k=20, init_method="kmeans++", num_trials=1, max_iter=300, tol=1e-4, seed=3,
                           stop_rule="shift")
    np.testing.assert_array_equal(model.cluster_centers_, core["centers"])
    assert model.n_iter_ == core["n_iter"]


def test_lloyd_on_large_data_seeds_from_a_coreset_and_finds_a_rare_far_group():
    # 6 rows far from 70,000 others: a uniform sample of 4,096 rows misses them 70% of the time;
    # the coreset draws half its rows by distance to the mean, so the seeding always gives them
    # a centre (and Lloyd keeps it).
    rare = np.vstack([BIG, np.full((6, 5), 300.0) + np.random.default_rng(1).normal(0, 1, (6, 5))])
    for seed in range(4):
        model = KMeans(k=41, algorithm="lloyd", random_state=seed).fit(rare)
        assert (model.cluster_centers_ > 200).all(axis=1).sum() == 1, seed
        core = _core.fit_lloyd(rare, k=41, init_method="coreset", num_trials=1, max_iter=300, tol=1e-4, seed=seed,
                               stop_rule="shift")
        np.testing.assert_array_equal(model.cluster_centers_, core["centers"])
        greedy = KMeans(k=41, algorithm="lloyd", local_lloyd_init_method="kmeans++", random_state=seed).fit(rare)
        assert not np.array_equal(greedy.cluster_centers_, model.cluster_centers_)


def test_the_coreset_seeding_reaches_scikit_learns_loss_in_a_fraction_of_the_passes():
    # The best of 4 runs on 4,096 weighted rows against one greedy k-means++ over all 70,000:
    # no worse on average over seeds (one greedy run that merges two blobs costs a few percent).
    ours = [KMeans(k=40, algorithm="lloyd", random_state=s).fit(BIG).inertia_ for s in range(4)]
    theirs = [sk_cluster.KMeans(40, random_state=s).fit(BIG).inertia_ for s in range(4)]
    assert np.mean(ours) <= np.mean(theirs)


def test_kmeans_parallel_and_random_seed_lloyd_over_every_row():
    for init in ("kmeans||", "random"):
        model = KMeans(k=20, algorithm="lloyd", local_lloyd_init_method=init, random_state=1).fit(X)
        core = _core.fit_lloyd(X, k=20, init_method=init, num_trials=1, max_iter=300, tol=1e-4, seed=1,
                               stop_rule="shift")
        np.testing.assert_array_equal(model.cluster_centers_, core["centers"])


def test_lloyds_loss_matches_scikit_learns_over_seeds():
    # Same seeding algorithm (greedy k-means++) and the same stop rule: the mean loss over seeds
    # is scikit-learn's within the spread of its seeds (a seed that misses a blob costs about 15%
    # here), and far below seeding with random rows.
    ours = [KMeans(k=20, algorithm="lloyd", random_state=s).fit(X).inertia_ for s in range(6)]
    theirs = [sk_cluster.KMeans(20, random_state=s).fit(X).inertia_ for s in range(6)]
    rows = [KMeans(k=20, algorithm="lloyd", local_lloyd_init_method="random", random_state=s).fit(X).inertia_
            for s in range(6)]
    assert np.mean(ours) <= np.mean(theirs) * 1.05
    assert np.mean(ours) < np.mean(rows)


def test_the_shift_rule_runs_lloyd_to_scikit_learns_iteration_counts():
    # Overlapping blobs: Lloyd creeps for many iterations. SageMaker's loss rule stopped this run
    # after a few; the centre-shift rule runs on like scikit-learn (within a few iterations of it
    # from the same start) and ends no higher.
    Y = blobs(8000, 2, 40, 5, spread=3.0)
    start = Y[:25].copy()
    ours = KMeans(k=25, algorithm="lloyd", initial_centers=start).fit(Y)
    theirs = sk_cluster.KMeans(25, init=start, n_init=1, algorithm="lloyd").fit(Y)
    by_loss = _core.fit_lloyd(Y, k=25, init_method="random", num_trials=1, max_iter=300, tol=1e-4, seed=0,
                              init_centers=start)
    assert abs(ours.n_iter_ - theirs.n_iter_) <= 3
    assert by_loss["n_iter"] < ours.n_iter_
    assert ours.inertia_ <= by_loss["inertia"]
    assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=1e-3)


def test_the_reduction_keeps_sagemakers_loss_rule():
    # recipe="sagemaker" ends with the reduction, whose local_lloyd_tol still bounds the relative
    # loss change over the weighted K centres: the same n_iter as the core's reduce with it.
    model = KMeans(k=5, random_state=0, recipe="sagemaker", local_lloyd_tol=1e-2).fit(X)
    again = _core.reduce(model._state, k=5, init_method="kmeans++", num_trials=model.local_lloyd_num_trials_,
                         max_iter=300, tol=1e-2, seed=model._state["seed"])
    np.testing.assert_array_equal(model.cluster_centers_, again["centers"])
    assert model.n_iter_ == again["n_iter"]


def test_an_unknown_stop_rule_is_refused():
    with pytest.raises(ValueError, match="stop_rule must be 'loss' or 'shift', not \"steps\""):
        _core.fit_lloyd(X, k=2, init_method="random", num_trials=1, max_iter=5, tol=0.0, seed=0, stop_rule="steps")


def test_local_lloyd_init_method_auto_is_kmeans_pp_for_the_reduction_and_coreset_for_lloyd():
    assert check_hyperparameters().local_lloyd_init_method == "kmeans++"
    assert check_hyperparameters(algorithm="lloyd").local_lloyd_init_method == "coreset"
    assert check_hyperparameters(algorithm="lloyd", local_lloyd_init_method="kmeans++").local_lloyd_init_method == \
        "kmeans++"
    # "auto" stays "auto" in SageMaker's string map (saved models resolve it the same way), and
    # "coreset" is a valid string there.
    assert format_hyperparameters({"k": 3, "local_lloyd_init_method": "auto"})["local_lloyd_init_method"] == "auto"
    assert KMeans(k=3).get_hyperparameters()["local_lloyd_init_method"] == "auto"
    parsed = parse_hyperparameters({"k": "3", "feature_dim": "5", "local_lloyd_init_method": "coreset"})
    assert check_hyperparameters(**parsed).local_lloyd_init_method == "coreset"
    with pytest.raises(HyperparameterError, match="local_lloyd_init_method"):
        KMeans(k=3, algorithm="lloyd", local_lloyd_init_method="coresets").fit(X)


def test_the_coreset_seeds_sparse_and_weighted_rows():
    sparse = pytest.importorskip("scipy.sparse")
    Xs = BIG.copy()
    Xs[np.abs(Xs) < 3.0] = 0.0
    dense = KMeans(k=40, algorithm="lloyd", random_state=0).fit(Xs)
    csr = KMeans(k=40, algorithm="lloyd", random_state=0).fit(sparse.csr_matrix(Xs))
    assert np.isfinite(csr.cluster_centers_).all()
    assert csr.inertia_ == pytest.approx(dense.inertia_, rel=0.05)
    # Weight 2 on every row doubles the draw weights and every sum exactly: the unweighted fit's bits.
    def fit(weights: Optional[np.ndarray]) -> np.ndarray:
        return _core.fit_lloyd(BIG, k=40, init_method="coreset", num_trials=1, max_iter=300, tol=1e-4, seed=0,
                               weights=weights, stop_rule="shift")["centers"]
    np.testing.assert_array_equal(fit(np.full(len(BIG), 2.0)), fit(None))
