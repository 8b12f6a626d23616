"""select_k: one model per k, every rule's choice, the table, and its errors."""

import json

import numpy as np
import pytest
import scipy.sparse
from sklearn import metrics as sk
from sklearn.datasets import make_blobs

import fastkmeans
from fastkmeans.select import kneedle

HYPERPARAMETERS = {"mini_batch_size": 500, "epochs": 3, "init_method": "random", "extra_center_factor": 2}


@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs(n_samples=2000, n_features=6, centers=4, cluster_std=1.0, random_state=7)
    return X


def test_four_blobs_are_found_by_every_rule(blobs):
    result = fastkmeans.select_k(blobs, range(2, 8), random_state=0, gap=True, gap_references=3, progress=False,
                                 **HYPERPARAMETERS)
    assert result.best_k == 4 and result.rule == "silhouette"
    assert result.choices == {"silhouette": 4, "elbow": 4, "calinski_harabasz": 4, "davies_bouldin": 4, "gap": 4}
    assert result.k_values == [2, 3, 4, 5, 6, 7]
    row = result.table[2]
    model = result.models[4]
    assert row["inertia"] == model.inertia_ and row["msd"] == pytest.approx(model.inertia_ / 2000)
    assert row["silhouette"] == pytest.approx(sk.silhouette_score(blobs, model.labels_), rel=1e-6)
    assert row["calinski_harabasz"] == pytest.approx(sk.calinski_harabasz_score(blobs, model.labels_), rel=1e-6)
    assert row["davies_bouldin"] == pytest.approx(sk.davies_bouldin_score(blobs, model.labels_), rel=1e-6)
    assert result.best_model is model and result.silhouette_exact
    text = result.format_table()
    assert "   4* " in text and "best k = 4 (silhouette)" in text
    assert json.loads(json.dumps(result.to_dict()))["best_k"] == 4
    assert list(result.to_frame().index) == [2, 3, 4, 5, 6, 7]


def test_models_equal_single_fits_with_the_same_seed(blobs):
    result = fastkmeans.select_k(blobs, [3, 5], random_state=11, progress=False, **HYPERPARAMETERS)
    alone = fastkmeans.KMeans(k=5, random_state=11, **HYPERPARAMETERS).fit(blobs)
    assert np.array_equal(result.models[5].cluster_centers_, alone.cluster_centers_)


def test_the_rule_chooses_best_k(blobs):
    result = fastkmeans.select_k(blobs, range(2, 7), random_state=0, rule="elbow", progress=False, **HYPERPARAMETERS)
    assert result.rule == "elbow" and result.best_k == result.choices["elbow"] == 4
    assert "Kneedle" in result.reason


def test_a_file_source_is_read_once_and_gives_the_same_table(blobs, tmp_path):
    path = tmp_path / "blobs.npy"
    np.save(path, blobs)
    from_file = fastkmeans.select_k(str(path), [3, 4], random_state=0, progress=False, **HYPERPARAMETERS)
    in_memory = fastkmeans.select_k(blobs, [3, 4], random_state=0, progress=False, **HYPERPARAMETERS)
    assert from_file.table == in_memory.table


def test_large_data_gets_a_sampled_silhouette_with_an_error_bar(blobs):
    result = fastkmeans.select_k(blobs, [3, 4], random_state=0, silhouette_exact_max=1000,
                                 silhouette_sample_size=300, progress=False, **HYPERPARAMETERS)
    assert not result.silhouette_exact
    row = result.table[1]
    exact = sk.silhouette_score(blobs, result.models[4].labels_)
    assert 0 < row["silhouette_error"] and abs(row["silhouette"] - exact) < 5 * row["silhouette_error"]


def test_sparse_data_is_scored_by_silhouette_only():
    X = scipy.sparse.random(400, 30, density=0.2, format="csr", random_state=0)
    result = fastkmeans.select_k(X, [2, 3, 4], random_state=0, progress=False)
    assert set(result.choices) == {"silhouette", "elbow"}
    with pytest.raises(ValueError, match="does not apply"):
        fastkmeans.select_k(X, [2, 3], random_state=0, rule="davies_bouldin", progress=False)


def test_the_progress_bar_goes_to_stderr(blobs, capsys):
    fastkmeans.select_k(blobs[:300], [2, 3], random_state=0, progress=True)
    captured = capsys.readouterr()
    assert captured.out == "" and "select_k" in captured.err


def test_kneedle_finds_the_knee_of_a_convex_curve():
    assert kneedle([1, 2, 3, 4, 5, 6], [100, 40, 12, 10, 9, 8]) == 2
    assert kneedle([1, 2, 3, 4, 5], [100, 30, 10, 8, 7]) == 1
    assert kneedle([2, 3, 4], [5.0, 5.0, 5.0]) == 0


@pytest.mark.parametrize("kwargs, message", [
    ({"k_values": [1, 2]}, "at least 2"),
    ({"k_values": []}, "empty"),
    ({"k_values": [2, 2]}, "repeat"),
    ({"k_values": [2, 500]}, "below n_samples"),
    ({"k_values": [2, 3], "rule": "best"}, "rule must be one of"),
    ({"k_values": [2, 3], "rule": "gap"}, "gap=True"),
    ({"k_values": [2, 3], "rule": "elbow"}, "three k values"),
])
def test_bad_arguments_name_the_problem(kwargs, message):
    X = np.random.default_rng(0).normal(size=(100, 2))
    with pytest.raises(ValueError, match=message):
        fastkmeans.select_k(X, progress=False, **kwargs)
