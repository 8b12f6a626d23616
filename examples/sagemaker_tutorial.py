"""Example (a): the SageMaker k-means notebook, locally.

The notebook's flow, step by step: scikit-learn's make_blobs (5,000 rows, 10 features, 5 centres,
cluster_std 1.5, random_state 42), SageMaker's hyperparameters as they are, training, assignments
through the endpoint protocol (a CSV request in, the JSON `{"predictions": [{"closest_cluster",
"distance_to_cluster"}]}` answer out, read back as the notebook reads it), the silhouette and the
inertia, the plots, and the elbow over k = 2..10. Plots and an HTML report go to the output folder.

    python examples/sagemaker_tutorial.py [OUTPUT_FOLDER]
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import make_blobs

import fastkmeans
from fastkmeans import metrics, plots, report
from fastkmeans.server import codecs

HYPERPARAMETERS = {"k": 5, "feature_dim": 10, "mini_batch_size": 500, "epochs": 10, "init_method": "random",
                   "extra_center_factor": 2}


def invoke_endpoint(model, csv_body: bytes) -> bytes:
    """What the endpoint answers to a text/csv request with Accept: application/json.

    The same decoder and encoder `fastkmeans serve` runs (and the bytes a SageMaker k-means endpoint
    sends), called in process instead of over HTTP.
    """
    decode, params = codecs.decoder("text/csv")
    encode, _ = codecs.encoder("application/json", default="application/json")
    centers = model.cluster_centers_
    rows = decode(csv_body, params, codecs.Model(n_features=centers.shape[1], dtype=centers.dtype))
    return encode(*model.assign(rows))


def main(output: Path) -> dict:
    output.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    X, truth = make_blobs(n_samples=5000, n_features=10, centers=5, cluster_std=1.5, random_state=42)

    model = fastkmeans.KMeans(**HYPERPARAMETERS, random_state=42).fit(X)

    # Assignments through the endpoint protocol, as the notebook reads them.
    body = "\n".join(",".join(f"{v:.17g}" for v in row) for row in X).encode()
    answer = json.loads(invoke_endpoint(model, body))
    assigned = np.array([p["closest_cluster"] for p in answer["predictions"]], dtype=int)
    assert (assigned == model.labels_).all(), "the endpoint's answer differs from the model's labels"

    silhouette = metrics.silhouette_score(X, model.labels_)
    sweep = fastkmeans.select_k(X, range(2, 11), random_state=42, progress=False,
                                **{k: v for k, v in HYPERPARAMETERS.items() if k != "k"})
    labels, distances = model.assign(X)
    figures = {
        "elbow.png": plots.elbow(sweep),
        "silhouette_vs_k.png": plots.silhouette_vs_k(sweep),
        "silhouette_by_cluster.png": plots.silhouette_diagram(metrics.silhouette_samples(X, labels), labels),
        "cluster_sizes.png": plots.cluster_sizes(model.cluster_sizes_),
        "distances.png": plots.distance_histograms(distances, labels, 5),
        "pca.png": plots.pca_scatter(X, labels, model.cluster_centers_),
    }
    for name, figure in figures.items():
        plots.save(figure, output / name)
    report.write_report(model, X, output / "report.html", title="SageMaker k-means tutorial, locally",
                        selection=sweep)
    seconds = time.perf_counter() - started

    from sklearn.metrics import adjusted_rand_score

    print(f"fastkmeans {fastkmeans.__version__}: the SageMaker tutorial's blobs, {X.shape[0]} x {X.shape[1]}")
    print(f"  trained k=5 ({model.n_steps_} mini-batches of 500, K = {5 * model.extra_center_factor_} reduced to 5)")
    print(f"  endpoint protocol: {len(answer['predictions'])} predictions, first "
          f"{json.dumps(answer['predictions'][0])}")
    print(f"  inertia {model.inertia_:.1f}, msd {model.train_metrics_['msd']:.4f}, silhouette {silhouette:.4f}, "
          f"adjusted Rand index against the true blobs {adjusted_rand_score(truth, model.labels_):.4f}")
    print(f"  cluster sizes {model.cluster_sizes_.tolist()}")
    print(f"  elbow over k = 2..10: best k = {sweep.best_k} by {sweep.rule}; every rule: {sweep.choices}")
    print(f"  plots: {output}/ ({', '.join(figures)})")
    print(f"  report: {output / 'report.html'}")
    print(f"  done in {seconds:.1f} s")
    return {"model": model, "silhouette": silhouette, "sweep": sweep}


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "output" / "sagemaker_tutorial")
