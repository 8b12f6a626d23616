"""SageMaker k-means hyperparameters: defaults, checks and the string map.

SageMaker hands an algorithm every hyperparameter as a string (``hyperparameters.json``).
``parse_hyperparameters`` turns that map into Python values, ``format_hyperparameters``
does the reverse, and ``check_hyperparameters`` turns Python values into the frozen
``Hyperparameters``, the only thing the training code accepts. Error messages follow the
SageMaker Python SDK: ``Invalid hyperparameter value {value!r} for {name}. Expecting: {rule}``.

This module imports only the standard library and numpy, so it works without the compiled core.
"""

from __future__ import annotations

import functools
import json
import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Optional, Tuple, Union

import numpy as np

__all__ = [
    "HYPERPARAMETER_DEFAULTS", "HyperparameterError", "Hyperparameters", "check_hyperparameters",
    "check_hyperparameters_once",
    "format_hyperparameters", "parse_hyperparameters", "resolve_extra_center_factor",
    "resolve_local_lloyd_num_trials",
]


class HyperparameterError(ValueError):
    """A hyperparameter is unknown, missing, or has a wrong type or value; the message names it.

    A ``ValueError``, worded as the SageMaker Python SDK words it.

    Examples
    --------
    >>> from fastkmeans import HyperparameterError, KMeans
    >>> try:
    ...     KMeans(k=0).fit([[0.0], [1.0]])
    ... except HyperparameterError as error:
    ...     print(error)
    Invalid hyperparameter value 0 for k. Expecting: an integer >= 1
    """


# SageMaker's documented defaults, then fastkmeans' own keys (algorithm, random_state, n_threads, reseed_ratio,
# recipe).
HYPERPARAMETER_DEFAULTS: Dict[str, Any] = {
    "k": 8, "feature_dim": None, "mini_batch_size": 5000, "epochs": 1, "init_method": "auto",
    "extra_center_factor": "auto", "half_life_time_size": 0, "local_lloyd_max_iter": 300,
    "local_lloyd_tol": 1e-4, "local_lloyd_init_method": "auto",
    "local_lloyd_num_trials": "auto", "eval_metrics": ("msd",), "algorithm": "minibatch",
    "random_state": None, "n_threads": None, "reseed_ratio": "auto", "recipe": "fastkmeans",
}

# What reseed_ratio="auto" means under each recipe: SageMaker documents no reseeding, so its exact
# recipe has none; fastkmeans' own recipe reseeds starved centres (docs/algorithm.md).
AUTO_RESEED_RATIO: Dict[str, float] = {"fastkmeans": 0.25, "sagemaker": 0.0}

# What init_method="auto" means under each recipe: SageMaker's documented default (uniform rows) for
# its exact recipe; fastkmeans' own recipe seeds the first k of the K streaming centres by plain
# k-means++, so that small or far groups get a centre, and the rest uniformly (docs/seeding.md).
AUTO_INIT_METHOD: Dict[str, str] = {"fastkmeans": "kmeans++-random", "sagemaker": "random"}

# What local_lloyd_init_method="auto" means for each algorithm: SageMaker's documented default
# (greedy k-means++) for the K -> k reduction; full-data Lloyd seeds from a lightweight coreset, the
# best of 4 greedy k-means++ runs on a weighted sample at a tenth of one run over all rows
# (docs/seeding.md).
AUTO_LOCAL_LLOYD_INIT_METHOD: Dict[str, str] = {"minibatch": "kmeans++", "lloyd": "coreset"}

# The hidden keys of SageMaker's default-input.json; parse_hyperparameters accepts and drops them.
_HIDDEN_KEYS = frozenset({
    "force_dense", "_disable_wait_to_read", "_enable_profiler", "_kvstore", "_log_level",
    "_num_gpus", "_num_kv_servers", "_num_slices", "_tuning_objective_metric",
})
_HIDDEN_PREFIXES = ("_", "sagemaker_")
_REQUIRED = ("k", "feature_dim")
_INIT_METHODS = ("random", "kmeans++", "kmeans||")
_SEEDING_METHODS = ("auto", *_INIT_METHODS, "kmeans++-random")
_LLOYD_SEEDING_METHODS = ("auto", *_INIT_METHODS, "coreset")
_ALGORITHMS = ("minibatch", "lloyd")
_RECIPES = ("fastkmeans", "sagemaker")
_EVAL_METRICS = ("msd", "ssd")
_INT_STRING = re.compile(r"[+-]?[0-9]+")


@dataclass(frozen=True)
class Hyperparameters:
    """Checked hyperparameters; build them with ``check_hyperparameters``, not directly.

    Field meanings are SageMaker's (see ``SAGEMAKER_KMEANS.md`` section 1); ``algorithm``,
    ``n_threads``, ``reseed_ratio`` and ``recipe`` are fastkmeans' own. ``reseed_ratio``,
    ``init_method`` and ``local_lloyd_init_method`` are already resolved here (``"auto"``:
    ``AUTO_RESEED_RATIO`` and ``AUTO_INIT_METHOD`` of the ``recipe``,
    ``AUTO_LOCAL_LLOYD_INIT_METHOD`` of the ``algorithm``); other ``"auto"`` values are
    resolved later, once the data is known, by ``resolve_extra_center_factor`` and ``resolve_local_lloyd_num_trials``.
    """

    k: int
    feature_dim: Optional[int]
    mini_batch_size: int
    epochs: int
    init_method: str
    extra_center_factor: Union[int, str]
    half_life_time_size: int
    local_lloyd_max_iter: int
    local_lloyd_tol: float
    local_lloyd_init_method: str
    local_lloyd_num_trials: Union[int, str]
    eval_metrics: Tuple[str, ...]
    algorithm: str
    n_threads: Optional[int]
    reseed_ratio: float
    recipe: str


def _invalid(name: str, value: Any, expectation: str) -> HyperparameterError:
    return HyperparameterError(
        f"Invalid hyperparameter value {value!r} for {name}. Expecting: {expectation}"
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_auto(value: Any) -> bool:
    return isinstance(value, str) and value == "auto"


# Each check is (rule, convert): convert returns the checked value or raises ValueError, and the
# caller turns that into the SDK-style message, quoting the value as the user wrote it.
_Check = Tuple[str, Callable[[Any], Any]]


def _integer(minimum: int, allow_none: bool = False, allow_auto: bool = False) -> _Check:
    rule = ("None or " if allow_none else "") + ("'auto' or " if allow_auto else "")

    def convert(value: Any) -> Any:
        if (allow_none and value is None) or (allow_auto and _is_auto(value)):
            return value
        if not _is_int(value) or value < minimum:
            raise ValueError
        return int(value)

    return f"{rule}an integer >= {minimum}", convert


def _choice(*options: str) -> _Check:
    def convert(value: Any) -> str:
        if not isinstance(value, str) or value not in options:
            raise ValueError
        return str(value)

    return " or ".join(f'"{option}"' for option in options), convert


def _tol(value: Any) -> float:
    real = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not (real and math.isfinite(value) and 0 <= value <= 1):
        raise ValueError
    return float(value)


def _reseed_ratio(value: Any) -> Union[float, str]:
    return value if _is_auto(value) else _tol(value)


def _random_state(value: Any) -> Optional[int]:
    if value is not None and not _is_int(value):
        raise ValueError
    return None if value is None else int(value)


def _split_metrics(text: str) -> Any:
    """Read ``'["msd", "ssd"]'`` (SDK, JSON), ``'[ssd, msd]'`` (Spark) or ``'msd'`` into a list."""
    text = text.strip()
    try:
        loaded = json.loads(text)
    except ValueError:
        loaded = None
    if isinstance(loaded, list):
        return loaded
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return [part.strip().strip("\"'") for part in text.split(",") if part.strip()]


def _eval_metrics(value: Any) -> Tuple[str, ...]:
    metrics = _split_metrics(value) if isinstance(value, str) else value
    if not isinstance(metrics, (list, tuple)) or not metrics or any(
        not isinstance(m, str) or m not in _EVAL_METRICS for m in metrics
    ) or len(set(metrics)) != len(metrics):
        raise ValueError
    return tuple(str(m) for m in metrics)


_CHECKS: Dict[str, _Check] = {
    "k": _integer(1),
    "feature_dim": _integer(1, allow_none=True),
    "mini_batch_size": _integer(1),
    "epochs": _integer(1),
    "init_method": _choice(*_SEEDING_METHODS),
    "extra_center_factor": _integer(1, allow_auto=True),
    "half_life_time_size": _integer(0),
    "local_lloyd_max_iter": _integer(1),
    "local_lloyd_tol": ("a float in [0, 1]", _tol),
    "local_lloyd_init_method": _choice(*_LLOYD_SEEDING_METHODS),
    "local_lloyd_num_trials": _integer(1, allow_auto=True),
    "eval_metrics": ('a non-empty list of distinct names from "msd", "ssd"', _eval_metrics),
    "algorithm": _choice(*_ALGORITHMS),
    "random_state": ("None or an integer", _random_state),
    "n_threads": _integer(1, allow_none=True),
    "reseed_ratio": ("'auto' or a float in [0, 1]", _reseed_ratio),
    "recipe": _choice(*_RECIPES),
}


def _check(name: str, value: Any) -> Any:
    rule, convert = _CHECKS[name]
    try:
        return convert(value)
    except ValueError:
        raise _invalid(name, value, rule) from None


def _reject_unknown(names: Any) -> None:
    unknown = sorted(set(names) - set(HYPERPARAMETER_DEFAULTS))
    if unknown:
        listed = ", ".join(repr(name) for name in unknown)
        valid = ", ".join(sorted(HYPERPARAMETER_DEFAULTS))
        raise HyperparameterError(f"Unknown hyperparameter names: {listed}. Valid names: {valid}")


def check_hyperparameters(**params: Any) -> Hyperparameters:
    """Check constructor values and return them as ``Hyperparameters``.

    Parameters
    ----------
    **params
        Python-typed values named as in ``HYPERPARAMETER_DEFAULTS``; missing ones take the
        defaults. ``random_state`` is accepted and ignored (the estimator handles it). Integers
        may be Python or numpy integers, never bools or floats (even integral ones).
        ``eval_metrics`` may also be a single name or a list written as a string.

    Returns
    -------
    Hyperparameters
        The checked values, frozen.

    Raises
    ------
    HyperparameterError
        For unknown names (all of them listed) or a value of the wrong type or range.

    Examples
    --------
    >>> from fastkmeans._hyperparameters import HyperparameterError, check_hyperparameters
    >>> hp = check_hyperparameters(k=5, eval_metrics="[ssd, msd]")
    >>> hp.k, hp.extra_center_factor, hp.mini_batch_size, hp.eval_metrics
    (5, 'auto', 5000, ('ssd', 'msd'))
    >>> try:
    ...     check_hyperparameters(k=5, epochs=2.0)
    ... except HyperparameterError as error:
    ...     print(error)
    Invalid hyperparameter value 2.0 for epochs. Expecting: an integer >= 1
    """
    _reject_unknown(params)
    values = {**HYPERPARAMETER_DEFAULTS, **params}
    values.pop("random_state")
    checked = {name: _check(name, value) for name, value in values.items()}
    if _is_auto(checked["reseed_ratio"]):
        checked["reseed_ratio"] = AUTO_RESEED_RATIO[checked["recipe"]]
    if checked["init_method"] == "auto":
        checked["init_method"] = AUTO_INIT_METHOD[checked["recipe"]]
    if checked["local_lloyd_init_method"] == "auto":
        checked["local_lloyd_init_method"] = AUTO_LOCAL_LLOYD_INIT_METHOD[checked["algorithm"]]
    return Hyperparameters(**checked)


def check_hyperparameters_once(params: Mapping[str, Any]) -> Hyperparameters:
    """``check_hyperparameters(**params)``, remembered for values that can be hashed.

    An estimator checks its parameters at every ``fit``, and a loop over seeds or k builds and
    fits estimators with the same values again and again: on a table of a few thousand rows the
    check was a tenth of the whole fit (20 µs of 0.5 ms, and 115 µs of 1.4 ms on the first fit
    after an idle pause). The key holds each value's type, so that ``1``, ``1.0``, ``True`` and
    ``numpy.int64(1)`` are told apart; an unhashable value (a list of metrics) is checked afresh.
    Errors are never remembered: an invalid value raises every time.
    """
    key = tuple((name, type(value), value) for name, value in params.items())
    try:
        hash(key)
    except TypeError:
        return check_hyperparameters(**params)
    return _check_remembered(key)


@functools.lru_cache(maxsize=64)
def _check_remembered(key: Tuple[Tuple[str, type, Any], ...]) -> Hyperparameters:
    return check_hyperparameters(**{name: value for name, _, value in key})


def _parse_value(name: str, value: Any) -> Any:
    """Turn one string into the Python type ``name`` takes; raise ValueError if it has none."""
    text = value.strip()
    if name in ("init_method", "local_lloyd_init_method", "algorithm", "eval_metrics", "recipe"):
        return text
    if text == "auto" and name in ("extra_center_factor", "local_lloyd_num_trials", "reseed_ratio"):
        return text
    if text == "None" and name in ("feature_dim", "random_state", "n_threads"):
        return None  # a required feature_dim is then reported as missing
    if name in ("local_lloyd_tol", "reseed_ratio"):
        return float(text)
    # Only plain integers: "5.0" is rejected like "5.5", so a value never changes on the way in.
    if not _INT_STRING.fullmatch(text):
        raise ValueError
    return int(text)


def parse_hyperparameters(mapping: Mapping[str, Any]) -> Dict[str, Any]:
    """Read SageMaker's string map (``hyperparameters.json``) into constructor values.

    ``k`` and ``feature_dim`` are required, as in SageMaker. Integer strings must be plain
    integers (``"5"``; ``"5.0"`` is rejected). ``eval_metrics`` may be JSON (``'["msd", "ssd"]'``,
    as the Python SDK sends it), Spark's unquoted ``'[ssd, msd]'``, or a bare ``'msd'``; it comes
    back as a tuple. Values that are already Python-typed are accepted as they are.
    fastkmeans' own keys ``algorithm``, ``random_state`` (``"None"`` or an integer; the estimator
    checks its range), ``n_threads`` (``"None"`` or an integer), ``reseed_ratio`` (``"auto"`` or a float) and
    ``recipe`` (``"fastkmeans"`` or ``"sagemaker"``) are accepted too.

    SageMaker's hidden keys (``force_dense``, ``_kvstore``, ``_num_gpus``, ``_log_level`` and the
    rest of ``default-input.json``) and every other key starting with ``_`` or ``sagemaker_``
    (the SDK's bookkeeping, e.g. ``sagemaker_program``) are accepted and dropped: they tune
    SageMaker's own MXNet runtime and have no meaning here.

    Parameters
    ----------
    mapping : Mapping[str, Any]
        Hyperparameter names to values, usually strings.

    Returns
    -------
    dict of str to Any
        Python-typed constructor values for the keys given, in the order of
        ``HYPERPARAMETER_DEFAULTS``, checked with ``check_hyperparameters``.

    Raises
    ------
    HyperparameterError
        For unknown names (all listed, sorted), a missing ``k`` or ``feature_dim``, or a value
        that does not parse or is out of range.

    Examples
    --------
    >>> from fastkmeans._hyperparameters import HyperparameterError, parse_hyperparameters
    >>> parse_hyperparameters({"k": "5", "feature_dim": "10", "local_lloyd_tol": "0.001",
    ...                        "eval_metrics": "[ssd, msd]", "force_dense": "True"})
    {'k': 5, 'feature_dim': 10, 'local_lloyd_tol': 0.001, 'eval_metrics': ('ssd', 'msd')}
    >>> try:
    ...     parse_hyperparameters({"k": "5", "kvstore": "auto"})
    ... except HyperparameterError as error:
    ...     print(error)  # doctest: +ELLIPSIS
    Unknown hyperparameter names: 'kvstore'. Valid names: algorithm, epochs, ...
    """
    kept = {
        name: value for name, value in mapping.items()
        if name not in _HIDDEN_KEYS and not name.startswith(_HIDDEN_PREFIXES)
    }
    _reject_unknown(kept)
    parsed = {}
    for name in HYPERPARAMETER_DEFAULTS:
        if name not in kept or (name in _REQUIRED and kept[name] is None):
            continue
        raw = kept[name]
        rule = "an integer >= 1" if name in _REQUIRED else None  # no "None or" when required
        try:
            value = _parse_value(name, raw) if isinstance(raw, str) else raw
            parsed[name] = _CHECKS[name][1](value)
        except ValueError:
            raise _invalid(name, raw, rule or _CHECKS[name][0]) from None
    missing = [name for name in _REQUIRED if parsed.get(name) is None]
    if missing:
        raise HyperparameterError(f"Missing required hyperparameters: {', '.join(missing)}")
    check_hyperparameters(**parsed)
    return parsed


def format_hyperparameters(params: Mapping[str, Any]) -> Dict[str, str]:
    """Write constructor values as SageMaker's string map (the reverse of parse_hyperparameters).

    Values are checked first. Integers become ``str(int)``, ``local_lloyd_tol`` becomes
    ``repr(float)`` (which reads back exactly, e.g. ``"0.0001"``), ``"auto"`` stays ``"auto"`` and
    ``eval_metrics`` becomes a JSON list (``'["msd", "ssd"]'``). ``None`` values are omitted, since
    SageMaker never sends one; so is a ``random_state`` that is not an integer (a NumPy
    ``Generator`` has no string form).

    Parameters
    ----------
    params : Mapping[str, Any]
        Constructor values named as in ``HYPERPARAMETER_DEFAULTS``; only these keys are written.

    Returns
    -------
    dict of str to str
        The keys of ``params`` whose values are not ``None``, as strings.

    Raises
    ------
    HyperparameterError
        If a name is unknown or a value is invalid.

    Examples
    --------
    >>> from fastkmeans._hyperparameters import format_hyperparameters
    >>> format_hyperparameters({"k": 5, "feature_dim": 10, "local_lloyd_tol": 1e-3,
    ...                         "eval_metrics": ("msd", "ssd"), "n_threads": None})
    {'k': '5', 'feature_dim': '10', 'local_lloyd_tol': '0.001', 'eval_metrics': '["msd", "ssd"]'}
    """
    checked = check_hyperparameters(**params)
    out: Dict[str, str] = {}
    for name, value in params.items():
        if name == "random_state":
            if _is_int(value):
                out[name] = str(int(value))
            continue
        keep_auto = name in ("reseed_ratio", "init_method", "local_lloyd_init_method") and _is_auto(params[name])
        value = params[name] if keep_auto else getattr(checked, name)
        if value is None:
            continue
        if name == "eval_metrics":
            out[name] = json.dumps(list(value))
        elif name == "local_lloyd_tol" or (name == "reseed_ratio" and not _is_auto(value)):
            out[name] = repr(value)
        else:
            out[name] = str(value)
    return out


def resolve_extra_center_factor(value: Union[int, str], k: int, first_batch_rows: int) -> int:
    """Return the extra centre factor f actually used, so the job keeps K = k * f centres.

    ``"auto"`` means f = clamp(floor(1000 / k), 2, 10): 10 for k <= 100 (SageMaker logged 10 for
    k=8 and k=10), falling to 2 for k >= 334, so K stays <= max(1000, 2k). Then, for ``"auto"``
    and explicit values alike, f = max(1, min(f, first_batch_rows // k)), because the K centres
    are seeded from the first batch and cannot outnumber its rows.

    Parameters
    ----------
    value : int or "auto"
        The ``extra_center_factor`` hyperparameter.
    k : int
        Number of clusters in the final model.
    first_batch_rows : int
        Rows in the first (seeding) mini-batch.

    Returns
    -------
    int
        The factor f >= 1.

    Examples
    --------
    >>> from fastkmeans._hyperparameters import resolve_extra_center_factor
    >>> [resolve_extra_center_factor("auto", k, 5000) for k in (8, 100, 200, 500)]
    [10, 10, 5, 2]
    >>> resolve_extra_center_factor(4, k=10, first_batch_rows=30)
    3
    """
    checked = _check("extra_center_factor", value)
    k = _check("k", k)
    factor: int = min(max(1000 // k, 2), 10) if _is_auto(checked) else checked
    return max(1, min(factor, first_batch_rows // k))


def resolve_local_lloyd_num_trials(value: Union[int, str], k: int, algorithm: str) -> int:
    """Return how many times the final weighted Lloyd run is repeated.

    ``"auto"`` with ``algorithm="minibatch"`` means clamp(round(1000 / k), 1, 10), rounding halves
    up: 10 for k <= 105 (SageMaker logged 10 trials for k=8 and k=10), falling to 1 for k >= 667,
    where one weighted Lloyd run over K centres is already expensive. With ``algorithm="lloyd"``
    it means 1, like scikit-learn's ``n_init="auto"`` with k-means++. An integer is returned
    unchanged.

    Parameters
    ----------
    value : int or "auto"
        The ``local_lloyd_num_trials`` hyperparameter.
    k : int
        Number of clusters in the final model.
    algorithm : {"minibatch", "lloyd"}
        The estimator's ``algorithm``.

    Returns
    -------
    int
        The number of trials, >= 1.

    Examples
    --------
    >>> from fastkmeans._hyperparameters import resolve_local_lloyd_num_trials
    >>> [resolve_local_lloyd_num_trials("auto", k, "minibatch") for k in (8, 105, 106, 200, 1000)]
    [10, 10, 9, 5, 1]
    >>> resolve_local_lloyd_num_trials("auto", 8, "lloyd"), resolve_local_lloyd_num_trials(3, 8, "lloyd")
    (1, 3)
    """
    checked = _check("local_lloyd_num_trials", value)
    k = _check("k", k)
    algorithm = _check("algorithm", algorithm)
    if not _is_auto(checked):
        return int(checked)
    if algorithm == "lloyd":
        return 1
    return min(max((2000 + k) // (2 * k), 1), 10)  # floor(1000 / k + 1/2) in exact integers
