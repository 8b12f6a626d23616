"""SageMaker's training container contract: ``fastkmeans sagemaker train [--root /opt/ml]``.

Reads ``input/config/hyperparameters.json`` (strings), ``inputdataconfig.json`` (per channel:
``ContentType``, ``TrainingInputMode``) and ``resourceconfig.json`` (``current_host``), trains on
the ``train`` channel (and scores the optional ``test`` channel) under ``input/data/``: File mode
reads the channel's folder, Pipe mode its FIFOs ``train_0``, ``train_1``, ... . Writes
``model/model.tar.gz`` (SageMaker's artifact, so SageMaker hosting could serve it) and prints
SageMaker's log lines, so existing metric regexes work. On failure the reason goes to
``output/failure`` (SageMaker's ``FailureReason``) and the exit status is non-zero.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Callable, Dict, Optional

import numpy as np

from fastkmeans._atomic import write_atomically
from fastkmeans._kmeans import KMeans
from fastkmeans._ndarray import save_ndarray_list
from fastkmeans.io import RECORDIO, open_source
from fastkmeans.io._pipe import PipeModeSource
from fastkmeans.sagemaker import MODEL_MEMBER, save_model

__all__ = ["DEFAULT_ROOT", "ContainerError", "train", "write_failure"]

DEFAULT_ROOT = "/opt/ml"
# SageMaker's default-input.json as its logs show it: merged under the job's hyperparameters.
_DEFAULT_INPUT = {"epochs": "1", "eval_metrics": '["msd"]', "extra_center_factor": "auto",
                  "half_life_time_size": "0", "init_method": "random", "local_lloyd_init_method": "kmeans++",
                  "local_lloyd_max_iter": "300", "local_lloyd_num_trials": "auto", "local_lloyd_tol": "0.0001",
                  "mini_batch_size": "5000", "force_dense": "true"}


class ContainerError(ValueError):
    """A training job that cannot run: a missing or unreadable file, a missing channel, a bad setting."""


def _read_json(path: str, default: Optional[Any] = None) -> Any:
    if not os.path.exists(path):
        if default is not None:
            return default
        raise ContainerError(f"{path}: missing (SageMaker writes it before starting the container)")
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except ValueError as error:
        raise ContainerError(f"{path}: not valid JSON: {error}") from None


def _channel(root: str, name: str, config: Dict[str, Any]) -> Any:
    settings = config.get(name) or {}
    content_type = settings.get("ContentType") or RECORDIO  # SageMaker's default for k-means
    mode = settings.get("TrainingInputMode", "File")
    data = os.path.join(root, "input", "data")
    if mode == "Pipe":
        return PipeModeSource(data, name, content_type)
    if mode not in ("File", "FastFile"):
        raise ContainerError(f"channel {name!r}: TrainingInputMode {mode!r} is not File, FastFile or Pipe")
    folder = os.path.join(data, name)
    if not os.path.isdir(folder):
        raise ContainerError(f"{folder}: the {name} channel's data folder is missing")
    return open_source(folder, content_type=content_type)


def train(root: str = DEFAULT_ROOT, log: Callable[[str], None] = print) -> KMeans:
    """Run a SageMaker training job laid out under ``root``; return the trained model.

    Parameters
    ----------
    root : str, default="/opt/ml"
        The container's root.
    log : callable, default=print
        Where SageMaker's log lines go (stdout in a container).

    Returns
    -------
    KMeans
        The trained model, also written to ``root/model/model.tar.gz``.

    Raises
    ------
    ContainerError, HyperparameterError, DataError, OSError
        With the file, channel, line or hyperparameter at fault.
    """
    config = os.path.join(root, "input", "config")
    hyperparameters = _read_json(os.path.join(config, "hyperparameters.json"))
    if not isinstance(hyperparameters, dict):
        raise ContainerError(f"{os.path.join(config, 'hyperparameters.json')}: must hold a JSON object")
    channels = _read_json(os.path.join(config, "inputdataconfig.json"), {"train": {}})
    resources = _read_json(os.path.join(config, "resourceconfig.json"), {"current_host": "algo-1"})
    host = resources.get("current_host", "algo-1")
    if "train" not in channels:
        raise ContainerError(f"{os.path.join(config, 'inputdataconfig.json')}: no train channel (channels: "
                             f"{', '.join(sorted(channels)) or 'none'})")
    final = {**_DEFAULT_INPUT, **hyperparameters}
    log(f"Reading default configuration from /opt/amazon/lib/python3.8/site-packages/algorithm/resources/"
        f"default-input.json with values: {_DEFAULT_INPUT}")
    log(f"Reading provided configuration from {os.path.join(config, 'hyperparameters.json')} with values: "
        f"{hyperparameters}")
    log(f"Final configuration: {final}")
    model = KMeans.from_hyperparameters(final)
    train_source = _channel(root, "train", channels)
    test_source = _channel(root, "test", channels) if "test" in channels else None
    if test_source is None:
        log("Test data is not provided.")
    start = time.perf_counter()
    model.fit(train_source, test=test_source)
    seconds = time.perf_counter() - start
    state = getattr(model, "_state", None) or {}
    n_rows = int(state.get("points_seen", 0))
    log(f"#progress_metric: host={host}, completed 100 % of epochs")
    log(f"shrinking {model.k * model.extra_center_factor_} centers into {model.k}")
    log(f"#quality_metric: host={host}, train msd <loss>={model.train_metrics_['msd']}")
    for metric, value in getattr(model, "test_metrics_", {}).items():
        log(f"#quality_metric: host={host}, test {metric} <loss>={value}")
    log(f"#throughput_metric: host={host}, train throughput={n_rows / max(seconds, 1e-9):.2f} records/second")
    model_dir = os.path.join(root, "model")
    os.makedirs(model_dir, exist_ok=True)
    save_model(model, os.path.join(model_dir, "model.tar.gz"))
    # SageMaker packs this folder into the job's model.tar.gz itself: model_algo-1 at its top is
    # what SageMaker's k-means hosting loads (it ignores the other files), so the job's artifact
    # serves there too, not only a model.tar.gz inside a model.tar.gz.
    centers = np.asarray(model.cluster_centers_, dtype=np.float32)
    write_atomically(os.path.join(model_dir, MODEL_MEMBER), [save_ndarray_list([centers])])
    log(f"Wrote {os.path.join(model_dir, 'model.tar.gz')} and {os.path.join(model_dir, MODEL_MEMBER)}")
    return model


def write_failure(root: str, reason: str) -> None:
    """Write ``reason`` to ``root/output/failure`` (SageMaker reads its first 1,024 characters)."""
    folder = os.path.join(root, "output")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "failure"), "w", encoding="utf-8") as file:
        file.write(reason)
