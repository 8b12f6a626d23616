"""reduce_centers: weighted centres from any number of shards reduced to k, as the estimator does."""

import numpy as np
import pytest

from fastkmeans import KMeans, Reduction, reduce_centers


def _blobs(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=8.0, size=(6, 4))
    return means[rng.integers(0, 6, n)] + rng.normal(size=(n, 4))


def test_the_estimators_own_reduction_is_reduce_centers_over_its_state() -> None:
    model = KMeans(k=6, mini_batch_size=400, random_state=3)
    for chunk in np.array_split(_blobs(4000, 1), 4):
        model.partial_fit(chunk)
    state = model._state
    result = reduce_centers([state["centers"], state["far_points"]], [state["counts"], state["far_weights"]], k=6,
                            random_state=state["seed"], local_lloyd_num_trials=model.local_lloyd_num_trials_)
    assert isinstance(result, Reduction)
    np.testing.assert_array_equal(result.centers, model.cluster_centers_)


def test_shards_reduce_as_their_concatenation_and_float32_stays_float32() -> None:
    rng = np.random.default_rng(5)
    centers = _blobs(300, 2).astype(np.float32)
    weights = rng.integers(1, 20, 300).astype(np.float64)
    whole = reduce_centers(centers, weights, k=6, random_state=9)
    split = reduce_centers([centers[:100], centers[100:250], centers[250:]],
                           [weights[:100], weights[100:250], weights[250:]], k=6, random_state=9)
    assert whole.centers.dtype == np.float32
    np.testing.assert_array_equal(whole.centers, split.centers)
    assert (whole.ssd, whole.n_iter) == (split.ssd, split.n_iter)
    # The weighted loss is what it says: Σ weight · squared distance to the nearest final centre.
    d2 = ((centers[:, None, :].astype(np.float64) - whole.centers[None].astype(np.float64)) ** 2).sum(-1).min(1)
    assert whole.ssd == pytest.approx(float((weights * d2).sum()), rel=1e-5)
    assert whole.msd == pytest.approx(whole.ssd / weights.sum())


def test_nested_lists_are_one_array_and_mixed_dtypes_become_float64() -> None:
    result = reduce_centers([[0.0, 0.0], [0.0, 2.0], [9.0, 9.0]], [1.0, 1.0, 1.0], k=2, random_state=0)
    np.testing.assert_array_equal(np.sort(result.centers, axis=0), [[0.0, 1.0], [9.0, 9.0]])
    mixed = reduce_centers([np.zeros((2, 2), np.float32), np.ones((2, 2))], [np.ones(2), np.ones(2)], k=2)
    assert mixed.centers.dtype == np.float64


@pytest.mark.parametrize(("centers", "weights", "message"), [
    ([np.zeros((3, 2)), np.zeros((3, 3))], [np.ones(3), np.ones(3)], "shard 1 has 3 features, but shard 0 has 2"),
    ([np.zeros((3, 2))], [np.ones(3), np.ones(3)], "1 centre shards but 2 weight arrays"),
    ([np.zeros((3, 2)), np.zeros((2, 2))], [np.ones(3), np.ones(3)], "shard 1 has 2 centres but 3 weights"),
    (np.zeros((3, 2)), np.array([1.0, np.nan, 1.0]), "shard 0: weight NaN of row 1"),
    ([np.zeros((3, 2)), np.zeros((2, 2))], [np.ones(3), np.array([1.0, -1.0])], "shard 1: weight -1 of row 1"),
    (np.zeros((2, 2)), np.ones(2), "2 centres cannot be reduced to k=3"),
    (np.zeros(3), np.ones(3), "centers shard 0 must be a 2-D array of real numbers"),
    (np.zeros((4, 2)), np.ones((2, 2)), "weights shard 0 must be a 1-D array"),
    (np.zeros((3, 2), complex), np.ones(3), "centers shard 0 must be a 2-D array of real numbers"),
    ([np.zeros((3, 2)), np.array([[0.0, np.inf]])], [np.ones(3), np.ones(1)], r"centers shard 1 contains NaN .*row 0"),
])
def test_bad_shards_are_named(centers: object, weights: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        reduce_centers(centers, weights, k=3)  # type: ignore[arg-type]


def test_models_fitted_apart_merge_through_their_centres_and_weights() -> None:
    X = _blobs(6000, 3)
    parts = [KMeans(k=6, random_state=s).fit(part) for s, part in enumerate(np.array_split(X, 3))]
    merged = reduce_centers([m.cluster_centers_ for m in parts], [m.cluster_weights_ for m in parts], k=6,
                            random_state=0)
    whole = KMeans(k=6, random_state=0).fit(X)
    assert -whole.score(X) <= 1.05 * float(((X[:, None] - merged.centers[None]) ** 2).sum(-1).min(1).sum())
    assert float(((X[:, None] - merged.centers[None]) ** 2).sum(-1).min(1).sum()) <= 1.05 * -whole.score(X)


def test_bad_hyperparameters_are_named() -> None:
    with pytest.raises(ValueError, match="local_lloyd_max_iter"):
        reduce_centers(np.zeros((4, 2)), np.ones(4), k=2, local_lloyd_max_iter=0)
