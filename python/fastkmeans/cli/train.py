"""``fastkmeans train``: train a model on files, as a SageMaker training job would."""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Dict, Optional, Tuple

import click

from fastkmeans.cli._common import counted, expand_sources, progress, spooled_stdin

__all__ = ["command"]

_LOG = logging.getLogger("fastkmeans.cli")
# SageMaker's hyperparameters, as flags (the values are passed on as hyperparameters.json strings).
_HYPERPARAMETERS = ("k", "feature_dim", "mini_batch_size", "epochs", "init_method", "extra_center_factor",
                    "half_life_time_size", "local_lloyd_init_method", "local_lloyd_max_iter",
                    "local_lloyd_num_trials", "local_lloyd_tol", "eval_metrics", "algorithm", "n_threads")


def _hyperparameter_options(function: Any) -> Any:
    helps = {
        "k": "Clusters in the final model.", "feature_dim": "Features per row (inferred from the data if not given).",
        "mini_batch_size": "Rows per mini-batch [5000].", "epochs": "Passes over the data [1].",
        "init_method": ("auto, random, kmeans++, kmeans|| or kmeans++-random "
                        "[auto: kmeans++-random; random under --recipe sagemaker]."),
        "extra_center_factor": "K = k x this while streaming, or auto.",
        "half_life_time_size": "Points after which a point's weight halves; 0: no decay [0].",
        "local_lloyd_init_method": ("Seeding of the K -> k reduction, or of --algorithm lloyd: auto, random, kmeans++, "
                                    "kmeans|| or coreset [auto: kmeans++; coreset for lloyd]."),
        "local_lloyd_max_iter": "Most Lloyd iterations of the reduction [300].",
        "local_lloyd_num_trials": "Reduction trials, best kept, or auto.",
        "local_lloyd_tol": "Relative loss change that stops the reduction [0.0001].",
        "eval_metrics": 'Test metrics: msd, ssd or \'["msd","ssd"]\'.',
        "algorithm": "minibatch (SageMaker's) or lloyd [minibatch].", "n_threads": "Threads (default: every core).",
    }
    for name in reversed(_HYPERPARAMETERS):
        function = click.option(f"--{name.replace('_', '-')}", name, default=None, metavar="VALUE",
                                help=helps[name])(function)
    return function


@click.command("train")
@click.argument("sources", nargs=-1, required=True, metavar="SOURCE...")
@_hyperparameter_options
@click.option("--hyperparameters", "hyperparameters_file", type=click.Path(exists=True, dir_okay=False),
              help="SageMaker's hyperparameters.json (a JSON object of strings); flags override it.")
@click.option("--test", "test_sources", multiple=True, metavar="SOURCE",
              help="Test channel: its eval_metrics are stored in the model and printed (repeatable).")
@click.option("--random-state", type=int, default=None, help="Seed: the same seed gives the same model.")
@click.option("--content-type", default=None, metavar="TYPE",
              help="Format of SOURCE, e.g. text/csv;label_size=1 (default: from the extension, else the bytes).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="The model to write: *.tar.gz as SageMaker's model.tar.gz, anything else as a native model file.")
def command(sources: Tuple[str, ...], hyperparameters_file: Optional[str], test_sources: Tuple[str, ...],
            random_state: Optional[int], content_type: Optional[str], output: str, **flags: Optional[str]) -> None:
    r"""Train a model on SOURCE (files, directories, globs, or - for CSV on stdin).

    Every SageMaker hyperparameter is a flag, or comes from --hyperparameters (SageMaker's JSON
    file of strings; flags override it). The model is written atomically: an error or Ctrl-C
    leaves no partial file. Prints the train (and test) metrics as JSON.

    \b
    Examples:
      fastkmeans train --k 10 -o model.fkm data/train.csv
      fastkmeans train --k 10 --epochs 5 --init-method kmeans++ --test data/test.csv -o model.tar.gz 'data/*.pbr'
      fastkmeans train --hyperparameters hyperparameters.json -o model.fkm /opt/ml/input/data/train
      cat rows.csv | fastkmeans train --k 3 -o model.fkm -
    """
    from fastkmeans import KMeans
    from fastkmeans.io import open_source

    model = KMeans(**_hyperparameters(hyperparameters_file, flags), random_state=random_state)
    start = time.perf_counter()
    with spooled_stdin(expand_sources(sources)) as paths:
        train = open_source(paths, content_type=content_type)
        test = open_source(expand_sources(test_sources), content_type=content_type) if test_sources else None
        _LOG.info("training k=%d on %s", model.k, ", ".join(paths))
        with progress("rows", description="train (rows read, all passes)") as bar:
            model.fit(counted(train, bar), test=test)
    seconds = time.perf_counter() - start
    _save(model, output)
    state = getattr(model, "_state", None) or {}
    rows = int(state.get("points_seen", 0))
    _LOG.info("wrote %s in %.2f s (%s rows/s)", output, seconds, f"{rows / max(seconds, 1e-9):,.0f}" if rows else "?")
    result: Dict[str, Any] = {"model": output, "train": model.train_metrics_}
    if test is not None:
        result["test"] = model.test_metrics_
    click.echo(json.dumps(result))


def _hyperparameters(path: Optional[str], flags: Dict[str, Optional[str]]) -> Dict[str, Any]:
    from fastkmeans._hyperparameters import parse_hyperparameters

    values: Dict[str, Any] = {}
    if path is not None:
        with open(path, encoding="utf-8") as file:
            try:
                values = json.load(file)
            except ValueError as error:
                raise ValueError(f"{path}: not valid JSON: {error}") from None
        if not isinstance(values, dict):
            raise ValueError(f"{path}: must hold a JSON object of hyperparameters")
    values.update({name: value for name, value in flags.items() if value is not None})
    if "k" not in values:
        raise click.UsageError("give --k (or k in --hyperparameters)")
    inferred = values.get("feature_dim") is None
    parsed = parse_hyperparameters({**values, "feature_dim": "1"} if inferred else values)
    if inferred:
        parsed.pop("feature_dim")
    return parsed


def _save(model: Any, output: str) -> None:
    if output.endswith(".tar.gz"):
        from fastkmeans.sagemaker import save_model

        save_model(model, output)
    else:
        model.save(output)
