"""fastkmeans.KMeans is a scikit-learn estimator and takes SageMaker's hyperparameter maps."""

import pickle

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

from fastkmeans import KMeans

X, y = make_blobs(n_samples=1500, n_features=4, centers=4, cluster_std=0.8, random_state=0)

NOTEBOOK = {"k": 5, "feature_dim": 10, "mini_batch_size": 500, "epochs": 10, "init_method": "random",
            "extra_center_factor": 2}


def test_check_estimator_passes():
    check_estimator(KMeans())


def test_hyperparameters_from_a_sagemaker_notebook_just_work():
    X10, _ = make_blobs(n_samples=2000, n_features=10, centers=5, random_state=1)
    model = KMeans(**NOTEBOOK).fit(X10)
    assert model.cluster_centers_.shape == (5, 10)
    assert model.get_params()["extra_center_factor"] == 2


def test_sagemaker_string_maps_round_trip():
    strings = {"k": "5", "feature_dim": "10", "mini_batch_size": "500", "epochs": "10", "init_method": "random",
               "extra_center_factor": "auto", "local_lloyd_tol": "0.0001", "eval_metrics": '["msd", "ssd"]',
               "force_dense": "True", "_kvstore": "auto", "_num_gpus": "auto"}
    model = KMeans.from_hyperparameters(strings)
    assert model.k == 5 and model.feature_dim == 10 and model.eval_metrics == ("msd", "ssd")
    again = KMeans.from_hyperparameters(model.get_hyperparameters())
    assert again.get_params() == model.get_params()
    spark = KMeans.from_hyperparameters({"k": "3", "feature_dim": "2", "eval_metrics": "[ssd, msd]"})
    assert spark.eval_metrics == ("ssd", "msd")


def test_sagemaker_requires_k_and_feature_dim_in_string_maps():
    with pytest.raises(ValueError, match="feature_dim"):
        KMeans.from_hyperparameters({"k": "3"})


def test_clone_keeps_parameters_and_drops_the_fit():
    model = KMeans(k=4, epochs=3, random_state=0).fit(X)
    copy = clone(model)
    assert copy.get_params() == model.get_params() and not hasattr(copy, "cluster_centers_")


def test_pipeline_and_grid_search_work():
    pipe = make_pipeline(StandardScaler(), KMeans(random_state=0))
    search = GridSearchCV(pipe, {"kmeans__k": [2, 4, 6]}, cv=3).fit(X)
    # score is -ssd, which always improves with more clusters.
    assert search.best_params_ == {"kmeans__k": 6}
    assert pipe.set_params(kmeans__k=4).fit(X).predict(X).shape == (len(X),)


@pytest.mark.parametrize("dump, load", [(pickle.dumps, pickle.loads),
                                        (lambda m: _joblib_bytes(m), lambda b: _joblib_load(b))])
def test_pickle_and_joblib_round_trip_and_keep_streaming(dump, load, tmp_path):
    model = KMeans(k=4, random_state=0).fit(X)
    restored = load(dump(model))
    np.testing.assert_array_equal(restored.cluster_centers_, model.cluster_centers_)
    np.testing.assert_array_equal(restored.predict(X), model.predict(X))
    restored.partial_fit(X[:100])
    model.partial_fit(X[:100])
    np.testing.assert_array_equal(restored.cluster_centers_, model.cluster_centers_)


def _joblib_bytes(model):
    import io
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    return buffer.getvalue()


def _joblib_load(data):
    import io
    return joblib.load(io.BytesIO(data))


def test_the_package_works_without_scikit_learn():
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent("""
        import sys
        sys.modules["sklearn"] = None  # any `import sklearn...` now raises ImportError
        import numpy as np
        from fastkmeans import KMeans, NotFittedError
        X = np.r_[np.zeros((50, 2)), np.full((50, 2), 10.0)]
        model = KMeans(k=2, random_state=0)
        try:
            model.predict(X)
        except NotFittedError as error:
            assert isinstance(error, ValueError)
        model.set_params(epochs=2)
        assert model.get_params()["epochs"] == 2 and "epochs=2" in repr(model)
        labels = model.fit_predict(X)
        assert len(set(labels[:50])) == 1 and len(set(labels[50:])) == 1 and labels[0] != labels[-1]
        assert model.fit_transform(X).shape == (100, 2)
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "ok", result.stderr
