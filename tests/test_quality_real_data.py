"""Clustering quality on real data: the sipu benchmarks, kddcup99 and the SageMaker tutorial flow.

Losses (training sum of squared distances) are compared with the published optima and with
scikit-learn on the same seeds. The thresholds come from ``benches/quality.py`` and from seeds 0..9
measured one by one, with a margin; every fit is seeded, so each assertion is deterministic, and
none of them rests on one lucky seed. Nothing here is timed: timing lives in benches/.
"""

from __future__ import annotations

import functools
import statistics
from pathlib import Path

import numpy as np
import pytest
from sklearn.cluster import KMeans as SklearnKMeans
from sklearn.cluster import MiniBatchKMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score, pairwise_distances_argmin_min, silhouette_score

from fastkmeans import KMeans

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SEEDS = range(5)
S_SETS = ["s1", "s2", "s3", "s4"]
TUTORIAL = {"k": 5, "feature_dim": 10, "mini_batch_size": 500, "epochs": 10,
            "init_method": "random", "extra_center_factor": 2}


@functools.lru_cache(maxsize=None)
def sipu(name: str) -> tuple[np.ndarray, float]:
    """X of shape (n_samples, 2) and the SSE of the published centroids (the optimum for birch)."""
    centroids = {"birch1": "b1-gt", "birch2": "b2-gt"}.get(name, f"{name}-cb")
    X = np.loadtxt(DATA / "sipu" / f"{name}.txt")
    _, distance = pairwise_distances_argmin_min(X, np.loadtxt(DATA / "sipu" / f"{centroids}.txt"))
    return X, float(np.sum(distance**2))


@functools.lru_cache(maxsize=None)
def kddcup99() -> np.ndarray:
    """The 38 numeric columns, log1p, standardised (constant columns stay 0): (494021, 38)."""
    path = DATA / "kddcup99" / "kddcup.data_10_percent.gz"
    X = np.log1p(np.loadtxt(path, delimiter=",", usecols=[0] + list(range(4, 41))))
    std = X.std(axis=0)
    return (X - X.mean(axis=0)) / np.where(std > 0, std, 1.0)


def make(method: str, k: int, seed: int):
    if method == "fastkmeans":
        return KMeans(k=k, init_method="kmeans++", random_state=seed)
    if method == "lloyd":
        return KMeans(k=k, init_method="kmeans++", algorithm="lloyd", random_state=seed)
    if method == "sklearn":
        return SklearnKMeans(k, init="k-means++", n_init=1, random_state=seed)
    return MiniBatchKMeans(k, n_init=1, random_state=seed)


@functools.lru_cache(maxsize=None)
def sipu_losses(name: str, method: str) -> list[float]:
    """Loss / published optimum of ``method`` on a sipu set, for each of SEEDS."""
    X, optimum = sipu(name)
    k = 100 if name.startswith("birch") else 15
    return [make(method, k, seed).fit(X).inertia_ / optimum for seed in SEEDS]


# s1-s4, k = 15 ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", S_SETS)
def test_every_seed_lands_within_one_percent_of_the_published_optimum_on_the_s_sets(name):
    # Measured over seeds 0..9: at most 1.0039 (s4), at least 0.9916; the published centroids are
    # not a Lloyd fixed point, so a little below 1 is possible.
    assert max(sipu_losses(name, "fastkmeans")) <= 1.01


@pytest.mark.parametrize("name", S_SETS)
def test_mean_loss_on_the_s_sets_is_no_worse_than_sklearn_kmeans_with_one_init(name):
    # scikit-learn with n_init=1 either reaches the best solution or sticks in a local minimum
    # 10-40% worse (s2 seed 0: 1.408); fastkmeans lands within 0.5% of the optimum every time.
    # Averaged over the seeds fastkmeans is as good or better. The tolerance covers s1, where
    # sklearn finds the same 0.9967 solution on every seed and fastkmeans averages 0.9972.
    fast, sklearn = sipu_losses(name, "fastkmeans"), sipu_losses(name, "sklearn")
    assert statistics.mean(fast) <= statistics.mean(sklearn) * 1.002


@pytest.mark.parametrize("name", S_SETS)
def test_median_loss_on_the_s_sets_is_within_two_percent_of_sklearn_kmeans_median(name):
    # Not "no worse": on seeds 0..4 sklearn reaches its best solution 3 times out of 5 on s3 and
    # s4, and that solution is 1.1% (s3) and 1.5% (s4) below fastkmeans' median, which ends on the
    # K -> k reduction of the streamed centres, without a final Lloyd pass over the data.
    fast, sklearn = sipu_losses(name, "fastkmeans"), sipu_losses(name, "sklearn")
    assert statistics.median(fast) <= statistics.median(sklearn) * 1.02


# birch1, birch2, k = 100 -----------------------------------------------------------------------

@pytest.mark.parametrize(("name", "median_bound"), [("birch1", 1.08), ("birch2", 1.01)])
def test_birch_loss_stays_near_the_published_optimum(name, median_bound):
    # Measured over seeds 0..9. birch1: median 1.064, worst 1.090. birch2: 0.999 on 7 seeds, 1.091
    # on 3 (one centre left between two blobs).
    losses = sipu_losses(name, "fastkmeans")
    assert statistics.median(losses) <= median_bound
    assert max(losses) <= 1.12


@pytest.mark.parametrize("name", ["birch1", "birch2"])
def test_birch_median_loss_beats_minibatchkmeans_and_sklearn_kmeans(name):
    # Medians over seeds 0..4: birch1 1.065 vs sklearn 1.079 vs MiniBatchKMeans 1.140;
    # birch2 0.999 vs 1.100 vs 1.130.
    fast = statistics.median(sipu_losses(name, "fastkmeans"))
    assert fast < statistics.median(sipu_losses(name, "minibatch"))
    assert fast <= statistics.median(sipu_losses(name, "sklearn"))


# kddcup99, k = 23 ------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def kddcup99_losses(method: str) -> list[float]:
    """Loss of ``method`` on kddcup99 (k = 23) for each of SEEDS, over sklearn KMeans' median."""
    X = kddcup99()
    losses = [make(method, 23, seed).fit(X).inertia_ for seed in SEEDS]
    if method == "sklearn":
        return losses
    reference = statistics.median(kddcup99_losses("sklearn"))
    return [loss / reference for loss in losses]


def test_kddcup99_default_fit_median_loss_is_no_worse_than_sklearn_kmeans_and_far_below_minibatchkmeans():
    # The requirement. Rare far groups carry most of this loss; the streaming state's far
    # points give them centres. Measured medians over seeds 0..4 before far points: 1.32 of
    # sklearn's; with them: 0.97-0.99. MiniBatchKMeans: 3.98.
    fast = statistics.median(kddcup99_losses("fastkmeans"))
    assert fast <= 1.0
    assert fast <= statistics.median(kddcup99_losses("minibatch")) / 3


@pytest.mark.slow
def test_kddcup99_full_batch_lloyd_median_loss_is_no_worse_than_sklearn_kmeans():
    # algorithm="lloyd" runs what sklearn runs: measured median 0.97 of sklearn's over seeds 0..4.
    assert statistics.median(kddcup99_losses("lloyd")) <= 1.01


# The SageMaker tutorial flow -------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def blobs() -> tuple[np.ndarray, np.ndarray]:
    """The tutorial's data: X of shape (5000, 10) and the true blob of each row."""
    return make_blobs(n_samples=5000, n_features=10, centers=5, cluster_std=1.5, random_state=42)


@functools.lru_cache(maxsize=None)
def sklearn_silhouette(seed: int) -> float:
    X, _ = blobs()
    return silhouette_score(X, SklearnKMeans(5, n_init=1, random_state=seed).fit(X).labels_)


def test_tutorial_flow_with_kmeans_plus_plus_recovers_the_five_blobs_for_every_seed():
    X, truth = blobs()
    for seed in SEEDS:
        labels = KMeans(**{**TUTORIAL, "init_method": "kmeans++"}, random_state=seed).fit(X).labels_
        assert adjusted_rand_score(truth, labels) == 1.0, seed
        assert abs(silhouette_score(X, labels) - sklearn_silhouette(seed)) <= 0.01, seed


def test_tutorial_flow_with_random_init_matches_sklearn_silhouette_in_the_median():
    # With the tutorial's exact hyperparameters (random seeding of only K = 2k = 10 centres) two
    # blobs sometimes share a centre: measured on seeds 0..39, 38 recover the blobs (ARI 1.0,
    # silhouette 0.6487) and seeds 0 and 1 merge two (ARI 0.72, silhouette 0.49). sklearn KMeans
    # with n_init=1 misses on 1 seed in 40 (seed 18). So the assertion is on the median over
    # seeds 0..9, of which 8 recover.
    X, truth = blobs()
    fits = [KMeans(**TUTORIAL, random_state=seed).fit(X).labels_ for seed in range(10)]
    silhouettes = [silhouette_score(X, labels) for labels in fits]
    sklearn = [sklearn_silhouette(seed) for seed in range(10)]
    assert abs(statistics.median(silhouettes) - statistics.median(sklearn)) <= 0.01
    assert sum(adjusted_rand_score(truth, labels) == 1.0 for labels in fits) >= 7


def test_the_default_seeding_finds_unbalances_small_groups_for_every_seed():
    # unbalance: three groups of 2,000 rows and five far groups of 100. Uniform seeding of the K
    # streaming centres leaves a small group without one for some seeds (seed 5: 3.5 times the
    # loss); init_method="auto" seeds the first k of them by k-means++ and finds all eight.
    X = np.loadtxt(DATA / "sipu" / "unbalance.txt")
    _, distance = pairwise_distances_argmin_min(X, np.loadtxt(DATA / "sipu" / "unbalance-gt.txt"))
    truth = float(np.sum(distance**2))
    default = [-KMeans(k=8, random_state=seed).fit(X).score(X) / truth for seed in range(10)]
    uniform = [-KMeans(k=8, random_state=seed, init_method="random").fit(X).score(X) / truth for seed in range(10)]
    assert max(default) <= 1.01, default
    assert max(uniform) > 1.5, uniform


# The default recipe against scikit-learn's default KMeans -----------------------------------------

def test_the_default_fit_beats_sklearn_on_a3_with_half_the_streaming_centres():
    # a3: 7,500 rows, k = 50, so 15 rows per streaming centre at K = 10k: the default recipe halves
    # the factor. Measured over seeds 0..9: 0.908 of scikit-learn's mean loss (0.935 at K = 10k).
    X = np.loadtxt(DATA / "sipu" / "a3.txt")
    ours = [KMeans(k=50, random_state=seed).fit(X) for seed in range(10)]
    assert {model.extra_center_factor_ for model in ours} == {5}
    sklearn = [SklearnKMeans(50, random_state=seed).fit(X).inertia_ for seed in range(10)]
    assert statistics.mean(m.inertia_ for m in ours) <= 0.95 * statistics.mean(sklearn)


def test_the_default_fit_keeps_the_auto_factor_on_a_small_table_at_sklearns_loss():
    # Breast cancer, standardised: 569 rows, k = 8, so 7 rows per streaming centre at K = 10k, but a
    # small table keeps the factor. Measured over seeds 0..11: 0.9970 of scikit-learn's mean loss at
    # K = 80, 1.0018 at K = 40 (seeds 0..4 alone: 1.0009 at K = 80, the local minima are many).
    from sklearn.datasets import load_breast_cancer

    X = load_breast_cancer().data
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    ours = [KMeans(k=8, random_state=seed).fit(X) for seed in range(12)]
    assert {model.extra_center_factor_ for model in ours} == {10}
    sklearn = [SklearnKMeans(8, random_state=seed).fit(X).inertia_ for seed in range(12)]
    assert statistics.mean(m.inertia_ for m in ours) <= 1.001 * statistics.mean(sklearn)


@pytest.mark.slow
def test_the_default_fit_quantises_flower_jpg_no_worse_than_sklearn():
    # Colour quantisation, k = 64 on 273,280 pixels: low-dimensional with many clusters. With the
    # refine stopping at local_lloyd_tol itself the mean was 1.0012 of scikit-learn's over seeds
    # 0..3; at a tenth of it, 0.9976.
    from sklearn.datasets import load_sample_image

    X = load_sample_image("flower.jpg").reshape(-1, 3).astype(np.float64) / 255
    ours = [KMeans(k=64, random_state=seed).fit(X).inertia_ for seed in range(4)]
    sklearn = [SklearnKMeans(64, random_state=seed).fit(X).inertia_ for seed in range(4)]
    assert statistics.mean(ours) <= statistics.mean(sklearn)
