"""Hyperparameter defaults, checks, SageMaker's string map, and the rules behind "auto"."""

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastkmeans._hyperparameters import (
    HYPERPARAMETER_DEFAULTS,
    HyperparameterError,
    Hyperparameters,
    check_hyperparameters,
    check_hyperparameters_once,
    format_hyperparameters,
    parse_hyperparameters,
    resolve_extra_center_factor,
    resolve_local_lloyd_num_trials,
)


def test_defaults_are_sagemakers_plus_our_own_keys_in_constructor_order():
    assert list(HYPERPARAMETER_DEFAULTS) == [
        "k", "feature_dim", "mini_batch_size", "epochs", "init_method", "extra_center_factor",
        "half_life_time_size", "local_lloyd_max_iter", "local_lloyd_tol",
        "local_lloyd_init_method", "local_lloyd_num_trials", "eval_metrics", "algorithm",
        "random_state", "n_threads", "reseed_ratio", "recipe",
    ]
    assert check_hyperparameters() == Hyperparameters(
        k=8, feature_dim=None, mini_batch_size=5000, epochs=1, init_method="kmeans++-random",
        extra_center_factor="auto", half_life_time_size=0, local_lloyd_max_iter=300,
        local_lloyd_tol=1e-4, local_lloyd_init_method="kmeans++", local_lloyd_num_trials="auto",
        eval_metrics=("msd",), algorithm="minibatch", n_threads=None, reseed_ratio=0.25, recipe="fastkmeans",
    )


def test_checked_hyperparameters_are_frozen():
    checked = check_hyperparameters(k=3)
    with pytest.raises(AttributeError):
        checked.k = 4  # type: ignore[misc]


def test_remembered_checks_tell_equal_values_of_other_types_apart_and_never_remember_errors():
    assert check_hyperparameters_once({"k": 1, "epochs": 2}) == check_hyperparameters(k=1, epochs=2)
    # 1 == 1.0 == True, with one hash: a remembered k=1 must not let these through.
    for k in (1.0, True):
        with pytest.raises(HyperparameterError, match="for k"):
            check_hyperparameters_once({"k": k})
    assert check_hyperparameters_once({"k": np.int64(1)}).k == 1
    for _ in range(2):  # an error is raised again, not remembered
        with pytest.raises(HyperparameterError, match="for epochs"):
            check_hyperparameters_once({"k": 1, "epochs": 0})
    # Unhashable values are checked afresh.
    listed = check_hyperparameters_once({"k": 3, "eval_metrics": ["ssd", "msd"]})
    assert listed == check_hyperparameters(k=3, eval_metrics=["ssd", "msd"])
    with pytest.raises(HyperparameterError, match="Unknown hyperparameter names: 'kk'"):
        check_hyperparameters_once({"kk": [1]})


def test_random_state_is_accepted_and_left_to_the_estimator():
    assert check_hyperparameters(random_state=7) == check_hyperparameters()


BOUNDARIES = [  # (name, smallest valid value, just outside)
    ("k", 1, 0),
    ("feature_dim", 1, 0),
    ("mini_batch_size", 1, 0),
    ("epochs", 1, 0),
    ("half_life_time_size", 0, -1),
    ("local_lloyd_max_iter", 1, 0),
    ("extra_center_factor", 1, 0),
    ("local_lloyd_num_trials", 1, 0),
    ("n_threads", 1, 0),
    ("local_lloyd_tol", 0.0, -1e-12),
    ("local_lloyd_tol", 1.0, 1.0 + 1e-12),
]


@pytest.mark.parametrize(("name", "valid", "invalid"), BOUNDARIES)
def test_each_range_boundary_is_accepted_and_just_outside_is_rejected_by_name(name, valid, invalid):
    assert getattr(check_hyperparameters(**{name: valid}), name) == valid
    with pytest.raises(HyperparameterError, match=rf"Invalid hyperparameter value .* for {name}\."):
        check_hyperparameters(**{name: invalid})


def test_error_message_matches_the_sagemaker_sdk_format():
    with pytest.raises(HyperparameterError) as raised:
        check_hyperparameters(k=0)
    assert str(raised.value) == "Invalid hyperparameter value 0 for k. Expecting: an integer >= 1"


def test_hyperparameter_error_is_a_value_error():
    assert issubclass(HyperparameterError, ValueError)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("k", "5"), ("k", 5.0), ("k", True), ("k", None), ("feature_dim", 2.0),
        ("epochs", np.float64(1.0)), ("mini_batch_size", [5000]),
        ("extra_center_factor", "AUTO"), ("extra_center_factor", 2.5),
        ("local_lloyd_num_trials", "10"), ("n_threads", False),
        ("local_lloyd_tol", "0.0001"), ("local_lloyd_tol", True), ("local_lloyd_tol", float("nan")),
        ("local_lloyd_tol", float("inf")), ("local_lloyd_tol", None),
        ("init_method", "kmeans"), ("init_method", None), ("local_lloyd_init_method", "k-means++"),
        ("algorithm", "elkan"), ("algorithm", 1),
        ("eval_metrics", ()), ("eval_metrics", ["msd", "msd"]), ("eval_metrics", ["mse"]),
        ("eval_metrics", 0), ("eval_metrics", [1]), ("eval_metrics", ""),
    ],
)
def test_wrong_types_and_values_are_rejected_by_name(name, value):
    with pytest.raises(HyperparameterError, match=rf"for {name}\. Expecting: "):
        check_hyperparameters(**{name: value})


def test_a_string_for_an_integer_is_rejected_with_the_sdk_message():
    with pytest.raises(HyperparameterError) as raised:
        check_hyperparameters(k="5")
    assert str(raised.value) == "Invalid hyperparameter value '5' for k. Expecting: an integer >= 1"


def test_numpy_integers_and_floats_are_accepted_and_converted():
    checked = check_hyperparameters(
        k=np.int64(5), local_lloyd_tol=np.float32(0.5), local_lloyd_max_iter=np.uint8(3)
    )
    assert (checked.k, checked.local_lloyd_tol, checked.local_lloyd_max_iter) == (5, 0.5, 3)
    assert type(checked.k) is int and type(checked.local_lloyd_tol) is float


def test_an_integer_tolerance_becomes_a_float():
    assert check_hyperparameters(local_lloyd_tol=1).local_lloyd_tol == 1.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["ssd", "msd"], ("ssd", "msd")),
        (("msd",), ("msd",)),
        ("msd", ("msd",)),
        ('["msd", "ssd"]', ("msd", "ssd")),
        ("[ssd, msd]", ("ssd", "msd")),
    ],
)
def test_eval_metrics_are_normalised_to_a_tuple_in_the_given_order(value, expected):
    assert check_hyperparameters(eval_metrics=value).eval_metrics == expected


def test_unknown_names_are_all_listed():
    with pytest.raises(HyperparameterError) as raised:
        check_hyperparameters(k=3, n_clusters=3, max_iter=10)
    message = str(raised.value)
    assert "'max_iter', 'n_clusters'" in message
    assert "Valid names: " in message and "local_lloyd_tol" in message


def test_parsing_reads_the_documented_example():
    mapping = {"k": "5", "feature_dim": "10", "extra_center_factor": "auto",
               "eval_metrics": '["msd", "ssd"]'}
    assert parse_hyperparameters(mapping) == {
        "k": 5, "feature_dim": 10, "extra_center_factor": "auto", "eval_metrics": ("msd", "ssd"),
    }


def test_parsing_reads_sagemakers_full_default_input_with_hidden_keys_ignored():
    mapping = {
        "k": "8", "feature_dim": "7", "epochs": "1", "eval_metrics": '["msd"]',
        "extra_center_factor": "auto", "half_life_time_size": "0", "init_method": "random",
        "local_lloyd_init_method": "kmeans++", "local_lloyd_max_iter": "300",
        "local_lloyd_num_trials": "auto", "local_lloyd_tol": "0.0001", "mini_batch_size": "5000",
        "force_dense": "true", "_disable_wait_to_read": "false", "_enable_profiler": "false",
        "_kvstore": "auto", "_log_level": "info", "_num_gpus": "auto", "_num_kv_servers": "1",
        "_num_slices": "1", "_tuning_objective_metric": "", "_some_future_key": "x",
        "sagemaker_program": "train.py", "sagemaker_submit_directory": "s3://bucket/src.tar.gz",
    }
    parsed = parse_hyperparameters(mapping)
    assert parsed == {
        "k": 8, "feature_dim": 7, "mini_batch_size": 5000, "epochs": 1, "init_method": "random",
        "extra_center_factor": "auto", "half_life_time_size": 0, "local_lloyd_max_iter": 300,
        "local_lloyd_tol": 0.0001, "local_lloyd_init_method": "kmeans++",
        "local_lloyd_num_trials": "auto", "eval_metrics": ("msd",),
    }
    assert list(parsed) == [name for name in HYPERPARAMETER_DEFAULTS if name in parsed]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[ssd, msd]", ("ssd", "msd")),
        ("[msd]", ("msd",)),
        ('["ssd"]', ("ssd",)),
        ('["msd","ssd"]', ("msd", "ssd")),
        ("msd", ("msd",)),
        (" ssd ", ("ssd",)),
    ],
)
def test_parsing_reads_eval_metrics_from_the_sdk_and_spark_forms(text, expected):
    parsed = parse_hyperparameters({"k": "2", "feature_dim": "3", "eval_metrics": text})
    assert parsed["eval_metrics"] == expected


@pytest.mark.parametrize("text", ["[]", "[msd, msd]", "[mse]", '["msd", 1]', "msd ssd"])
def test_parsing_rejects_bad_eval_metrics_by_name(text):
    with pytest.raises(HyperparameterError, match=r"for eval_metrics\."):
        parse_hyperparameters({"k": "2", "feature_dim": "3", "eval_metrics": text})


def test_parsing_accepts_our_own_keys():
    parsed = parse_hyperparameters({
        "k": "2", "feature_dim": "3", "algorithm": "lloyd", "random_state": "42", "n_threads": "4",
    })
    assert parsed == {"k": 2, "feature_dim": 3, "algorithm": "lloyd", "random_state": 42,
                      "n_threads": 4}


def test_parsing_reads_the_string_none_for_optional_keys():
    parsed = parse_hyperparameters({"k": "2", "feature_dim": "3", "random_state": "None",
                                    "n_threads": "None"})
    assert parsed == {"k": 2, "feature_dim": 3, "random_state": None, "n_threads": None}


def test_parsing_accepts_values_that_are_already_python_typed():
    parsed = parse_hyperparameters({"k": 5, "feature_dim": np.int32(10), "local_lloyd_tol": 0.5,
                                    "eval_metrics": ["ssd"], "random_state": 3})
    assert parsed == {"k": 5, "feature_dim": 10, "local_lloyd_tol": 0.5, "eval_metrics": ("ssd",),
                      "random_state": 3}


@pytest.mark.parametrize(
    ("mapping", "missing"),
    [
        ({"feature_dim": "3"}, "k"),
        ({"k": "3"}, "feature_dim"),
        ({}, "k, feature_dim"),
        ({"k": "3", "feature_dim": "None"}, "feature_dim"),
        ({"k": "3", "feature_dim": None}, "feature_dim"),
    ],
)
def test_parsing_requires_k_and_feature_dim(mapping, missing):
    with pytest.raises(HyperparameterError, match=f"Missing required hyperparameters: {missing}$"):
        parse_hyperparameters(mapping)


def test_parsing_lists_every_unknown_name_sorted_with_the_valid_names():
    with pytest.raises(HyperparameterError) as raised:
        parse_hyperparameters({"k": "2", "feature_dim": "3", "tol": "0.1", "center_factor": "4"})
    message = str(raised.value)
    assert "Unknown hyperparameter names: 'center_factor', 'tol'." in message
    assert "Valid names: algorithm, epochs, eval_metrics, extra_center_factor," in message


@pytest.mark.parametrize(
    ("name", "text", "expectation"),
    [
        ("k", "5.5", "an integer >= 1"),
        ("k", "abc", "an integer >= 1"),
        ("k", "5.0", "an integer >= 1"),
        ("k", "0", "an integer >= 1"),
        ("feature_dim", "", "an integer >= 1"),
        ("epochs", "1e3", "an integer >= 1"),
        ("half_life_time_size", "-1", "an integer >= 0"),
        ("extra_center_factor", "Auto", "'auto' or an integer >= 1"),
        ("local_lloyd_num_trials", "0", "'auto' or an integer >= 1"),
        ("local_lloyd_tol", "tiny", "a float in [0, 1]"),
        ("local_lloyd_tol", "nan", "a float in [0, 1]"),
        ("local_lloyd_tol", "2", "a float in [0, 1]"),
        ("init_method", "kmeans|", '"auto" or "random" or "kmeans++" or "kmeans||" or "kmeans++-random"'),
        ("algorithm", "full", '"minibatch" or "lloyd"'),
        ("n_threads", "all", "None or an integer >= 1"),
        ("random_state", "seed", "None or an integer"),
    ],
)
def test_parsing_rejects_bad_strings_naming_the_hyperparameter(name, text, expectation):
    mapping = {"k": "2", "feature_dim": "3", name: text}
    with pytest.raises(HyperparameterError) as raised:
        parse_hyperparameters(mapping)
    message = str(raised.value)
    assert message.startswith(f"Invalid hyperparameter value {text!r} for {name}. Expecting: ")
    assert message.endswith(f"Expecting: {expectation}")


def test_formatting_writes_sagemakers_strings():
    formatted = format_hyperparameters({
        "k": 5, "feature_dim": 10, "local_lloyd_tol": 0.0001, "extra_center_factor": "auto",
        "eval_metrics": ("msd", "ssd"), "algorithm": "lloyd", "random_state": np.int64(3),
        "n_threads": None,
    })
    assert formatted == {
        "k": "5", "feature_dim": "10", "local_lloyd_tol": "0.0001", "extra_center_factor": "auto",
        "eval_metrics": '["msd", "ssd"]', "algorithm": "lloyd", "random_state": "3",
    }


def test_formatting_omits_none_and_a_random_state_that_is_not_an_integer():
    formatted = format_hyperparameters({"k": 3, "feature_dim": None, "n_threads": None,
                                        "random_state": np.random.default_rng(0)})
    assert formatted == {"k": "3"}


def test_formatting_checks_values_first():
    with pytest.raises(HyperparameterError, match="for epochs"):
        format_hyperparameters({"epochs": 0})


def test_formatted_eval_metrics_are_what_the_python_sdk_sends():
    formatted = format_hyperparameters({"eval_metrics": ["ssd", "msd"]})
    assert json.loads(formatted["eval_metrics"]) == ["ssd", "msd"]


def _maybe_auto(strategy):
    return st.one_of(st.just("auto"), strategy)


VALID_PARAMS = st.fixed_dictionaries(
    {"k": st.integers(1, 10**6), "feature_dim": st.integers(1, 10**6)},
    optional={
        "mini_batch_size": st.integers(1, 10**9),
        "epochs": st.integers(1, 1000),
        "init_method": st.sampled_from(["random", "kmeans++"]),
        "extra_center_factor": _maybe_auto(st.integers(1, 100)),
        "half_life_time_size": st.integers(0, 10**12),
        "local_lloyd_max_iter": st.integers(1, 10**6),
        "local_lloyd_tol": st.one_of(st.floats(0.0, 1.0), st.sampled_from([0, 1])),
        "local_lloyd_init_method": st.sampled_from(["auto", "random", "kmeans++", "kmeans||", "coreset"]),
        "local_lloyd_num_trials": _maybe_auto(st.integers(1, 100)),
        "eval_metrics": st.sampled_from([("msd",), ("ssd",), ("msd", "ssd"), ("ssd", "msd")]),
        "algorithm": st.sampled_from(["minibatch", "lloyd"]),
        "random_state": st.one_of(st.none(), st.integers(-(2**70), 2**70)),
        "n_threads": st.one_of(st.none(), st.integers(1, 512)),
    },
)


@given(VALID_PARAMS)
def test_formatting_then_parsing_gives_back_every_valid_value(params):
    formatted = format_hyperparameters(params)
    assert all(isinstance(value, str) for value in formatted.values())
    assert parse_hyperparameters(formatted) == {
        name: value for name, value in params.items() if value is not None
    }


@given(VALID_PARAMS)
def test_a_json_round_trip_of_the_formatted_map_parses_the_same(params):
    formatted = format_hyperparameters(params)
    through_json = json.loads(json.dumps(formatted))
    assert parse_hyperparameters(through_json) == parse_hyperparameters(formatted)


@pytest.mark.parametrize(
    ("k", "factor"),
    [(1, 10), (8, 10), (10, 10), (100, 10), (101, 9), (112, 8), (250, 4), (333, 3), (334, 2),
     (500, 2), (1000, 2), (100_000, 2)],
)
def test_auto_extra_center_factor_is_ten_for_small_k_and_two_for_large_k(k, factor):
    assert resolve_extra_center_factor("auto", k, first_batch_rows=10**9) == factor


def test_a_small_first_batch_caps_the_extra_center_factor():
    # SageMaker's 2019 log: k=8, 3218 rows in the first batch, "auto" -> 10 (80 centres fit).
    assert resolve_extra_center_factor("auto", 8, first_batch_rows=3218) == 10
    assert resolve_extra_center_factor("auto", 8, first_batch_rows=50) == 6
    assert resolve_extra_center_factor(4, 8, first_batch_rows=20) == 2
    assert resolve_extra_center_factor(4, 8, first_batch_rows=5) == 1


def test_an_explicit_extra_center_factor_is_kept_when_the_batch_is_large_enough():
    assert resolve_extra_center_factor(25, 8, first_batch_rows=5000) == 25
    assert resolve_extra_center_factor(np.int64(3), 1000, first_batch_rows=5000) == 3


@given(st.integers(1, 10**6), st.integers(1, 10**7), _maybe_auto(st.integers(1, 100)))
def test_the_extra_centres_never_outnumber_the_first_batch_unless_k_does(k, rows, value):
    factor = resolve_extra_center_factor(value, k, rows)
    assert factor >= 1
    assert k * factor <= max(rows, k)
    if value == "auto":
        assert k * factor <= max(1000, 2 * k)


@pytest.mark.parametrize("value", [0, "Auto", 2.0, None])
def test_resolving_a_bad_extra_center_factor_is_rejected_by_name(value):
    with pytest.raises(HyperparameterError, match="for extra_center_factor"):
        resolve_extra_center_factor(value, 8, 5000)


@pytest.mark.parametrize(
    ("k", "trials"),
    [(1, 10), (8, 10), (10, 10), (100, 10), (105, 10), (106, 9), (400, 3), (1000, 1), (2000, 1),
     (5000, 1)],
)
def test_auto_local_lloyd_num_trials_for_minibatch_falls_from_ten_to_one(k, trials):
    assert resolve_local_lloyd_num_trials("auto", k, "minibatch") == trials


def test_auto_local_lloyd_num_trials_for_lloyd_is_one():
    assert resolve_local_lloyd_num_trials("auto", 8, "lloyd") == 1


def test_an_explicit_local_lloyd_num_trials_is_returned_unchanged():
    assert resolve_local_lloyd_num_trials(7, 5000, "minibatch") == 7
    assert resolve_local_lloyd_num_trials(3, 8, "lloyd") == 3


@pytest.mark.parametrize(
    ("value", "k", "algorithm", "name"),
    [(0, 8, "minibatch", "local_lloyd_num_trials"), ("auto", 0, "minibatch", "k"),
     ("auto", 8, "elkan", "algorithm")],
)
def test_resolving_trials_rejects_bad_inputs_by_name(value, k, algorithm, name):
    with pytest.raises(HyperparameterError, match=f"for {name}"):
        resolve_local_lloyd_num_trials(value, k, algorithm)
