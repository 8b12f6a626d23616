"""`make demo`: SageMaker's k-means tutorial flow, locally, next to scikit-learn.

The data and hyperparameters are those of the tutorial (scikit-learn's make_blobs, five blobs in
ten dimensions); the same dict you would pass to SageMaker's estimator goes to fastkmeans.KMeans.
"""

import time

from sklearn.cluster import KMeans as SklearnKMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score, silhouette_score

import fastkmeans

HYPERPARAMETERS = {"k": 5, "feature_dim": 10, "mini_batch_size": 500, "epochs": 10, "init_method": "random",
                   "extra_center_factor": 2}


def best_time(fit, repeats=5):
    """Fastest of a few runs (the first also warms up thread pools and caches)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model = fit()
        times.append(time.perf_counter() - start)
    return model, min(times)


def main() -> None:
    X, truth = make_blobs(n_samples=5000, n_features=10, centers=5, cluster_std=1.5, random_state=42)
    print(f"fastkmeans {fastkmeans.__version__}: tutorial data {X.shape[0]} x {X.shape[1]}, 5 true blobs")
    print(f"hyperparameters: {HYPERPARAMETERS}")

    model, seconds = best_time(lambda: fastkmeans.KMeans(**HYPERPARAMETERS, random_state=42).fit(X))
    reference, sk_seconds = best_time(lambda: SklearnKMeans(n_clusters=5, n_init=1, random_state=42).fit(X))

    print(f"\nK = k * extra_center_factor = {5 * model.extra_center_factor_} streaming centres, "
          f"{model.n_steps_} mini-batches, shrunk to k = 5 by the best of {model.local_lloyd_num_trials_} "
          "weighted Lloyd runs")
    print(f"#quality_metric: train msd <loss>={model.train_metrics_['msd']:.6f}")
    print("cluster sizes:", model.cluster_sizes_.tolist())
    closest, distance = model.assign(X[:3])
    for row, (c, d) in enumerate(zip(closest, distance)):
        print(f"row {row}: closest_cluster={float(c)}, distance_to_cluster={d:.6f}")

    ours = silhouette_score(X, model.labels_)
    theirs = silhouette_score(X, reference.labels_)
    print(f"\n{'':24}{'fastkmeans':>12}{'scikit-learn':>14}")
    print(f"{'adjusted Rand index':24}{adjusted_rand_score(truth, model.labels_):12.4f}"
          f"{adjusted_rand_score(truth, reference.labels_):14.4f}")
    print(f"{'silhouette':24}{ours:12.4f}{theirs:14.4f}")
    print(f"{'fit time (ms)':24}{seconds * 1e3:12.2f}{sk_seconds * 1e3:14.2f}")
    recovered = adjusted_rand_score(truth, model.labels_) == 1.0 and abs(ours - theirs) <= 0.01
    print("\nthe five blobs were", "recovered" if recovered else "NOT recovered")


if __name__ == "__main__":
    main()
