"""Bad input gets a ValueError (or subclass) whose message names the problem."""

import numpy as np
import pytest

from fastkmeans import HyperparameterError, KMeans, NotFittedError

X = np.arange(40, dtype=np.float64).reshape(20, 2)


@pytest.mark.parametrize("value, row", [(np.nan, 7), (np.inf, 3), (-np.inf, 19)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_or_infinity_is_refused_naming_the_row(value, row, dtype):
    bad = X.astype(dtype)
    bad[row, 1] = value
    with pytest.raises(ValueError, match=rf"NaN or infinity \(first in row {row}\)"):
        KMeans(k=2).fit(bad)
    model = KMeans(k=2, random_state=0).fit(X)
    with pytest.raises(ValueError, match=rf"row {row}"):
        model.predict(bad)


@pytest.mark.parametrize("data, message", [
    (np.arange(5.0), "Expected 2D array, got 1D array"),
    (np.zeros((2, 3, 4)), "Expected 2D array, got 3D array"),
    (np.zeros((0, 3)), r"0 sample\(s\)"),
    (np.zeros((5, 0)), r"0 feature\(s\)"),
    ([["1", "a"], ["2", "3"]], "non-numeric values"),
    (np.array([[1 + 2j, 0]]), "Complex data not supported"),
    ([[1.0, 2.0], [3.0]], "cannot be read as a 2-D numeric array"),
])
def test_malformed_data_is_refused_with_a_message_naming_the_problem(data, message):
    with pytest.raises(ValueError, match=message):
        KMeans(k=1).fit(data)


def test_non_numeric_objects_raise_an_error_that_is_both_value_and_type_error():
    with pytest.raises(ValueError) as info:
        KMeans(k=1).fit(np.array([[{"a": 1}, 2.0]], dtype=object))
    assert isinstance(info.value, TypeError)


def test_fewer_rows_than_k_names_both_numbers():
    with pytest.raises(ValueError, match=r"n_samples=20 should be >= k=21"):
        KMeans(k=21).fit(X)
    with pytest.raises(ValueError, match=r"n_samples=20 should be >= k=21"):
        KMeans(k=21, algorithm="lloyd").fit(X)


def test_feature_dim_must_match_the_data():
    with pytest.raises(ValueError, match=r"X has 2 features, but feature_dim=3"):
        KMeans(k=2, feature_dim=3).fit(X)
    model = KMeans(k=2, random_state=0).fit(X)
    with pytest.raises(ValueError, match=r"X has 3 features, but KMeans is expecting 2 features"):
        model.predict(np.zeros((4, 3)))


@pytest.mark.parametrize("params, name", [
    ({"k": 0}, "k"), ({"k": -3}, "k"), ({"k": 2.5}, "k"), ({"k": "5"}, "k"), ({"k": True}, "k"),
    ({"mini_batch_size": 0}, "mini_batch_size"), ({"epochs": 0}, "epochs"),
    ({"init_method": "kmeans+"}, "init_method"), ({"extra_center_factor": 0}, "extra_center_factor"),
    ({"extra_center_factor": "big"}, "extra_center_factor"), ({"half_life_time_size": -1}, "half_life_time_size"),
    ({"local_lloyd_max_iter": 0}, "local_lloyd_max_iter"), ({"local_lloyd_tol": 1.5}, "local_lloyd_tol"),
    ({"local_lloyd_tol": float("nan")}, "local_lloyd_tol"),
    ({"local_lloyd_init_method": "x"}, "local_lloyd_init_method"),
    ({"local_lloyd_num_trials": 0}, "local_lloyd_num_trials"), ({"eval_metrics": ["mse"]}, "eval_metrics"),
    ({"algorithm": "elkan"}, "algorithm"), ({"n_threads": 0}, "n_threads"), ({"feature_dim": 0}, "feature_dim"),
])
def test_out_of_range_or_mistyped_hyperparameters_are_named(params, name):
    with pytest.raises(HyperparameterError, match=rf"Invalid hyperparameter value .* for {name}\. Expecting"):
        KMeans(**params).fit(X)


def test_bad_random_state_is_refused():
    with pytest.raises(ValueError, match="random_state"):
        KMeans(k=2, random_state=-1).fit(X)
    with pytest.raises(ValueError, match="random_state"):
        KMeans(k=2, random_state="seed").fit(X)


def test_unknown_hyperparameter_names_are_listed():
    with pytest.raises(HyperparameterError, match=r"'clusters', 'iterations'"):
        KMeans.from_hyperparameters({"k": "2", "feature_dim": "2", "clusters": "3", "iterations": "9"})
    with pytest.raises(TypeError):
        KMeans(clusters=3)


def test_predict_before_fit_raises_not_fitted_error():
    for method in ("predict", "transform", "assign", "score", "evaluate"):
        with pytest.raises(NotFittedError):
            getattr(KMeans(), method)(X)
    from sklearn.exceptions import NotFittedError as SklearnNotFittedError
    assert issubclass(NotFittedError, SklearnNotFittedError) and issubclass(NotFittedError, ValueError)


def test_partial_fit_needs_the_minibatch_algorithm():
    with pytest.raises(ValueError, match="algorithm='minibatch'"):
        KMeans(k=2, algorithm="lloyd").partial_fit(X)


def test_a_failed_fit_leaves_a_fitted_model_unchanged():
    model = KMeans(k=2, random_state=0).fit(X)
    centers = model.cluster_centers_.copy()
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError):
        model.fit(bad)
    np.testing.assert_array_equal(model.cluster_centers_, centers)
    np.testing.assert_array_equal(model.predict(X), KMeans(k=2, random_state=0).fit(X).predict(X))


def test_a_failed_refit_on_other_data_keeps_the_old_model_consistent():
    model = KMeans(k=2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="n_samples=1 should be >= k=2"):
        model.fit(np.zeros((1, 5)))
    assert model.n_features_in_ == 2 and model.cluster_centers_.shape == (2, 2)
    assert model.predict(X).shape == (20,)
