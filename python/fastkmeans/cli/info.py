"""``fastkmeans info``: what a model file holds."""

from __future__ import annotations

import json
from typing import Any, Dict

import click

from fastkmeans.cli._common import load_model

__all__ = ["command"]


@click.command("info")
@click.argument("model", type=click.Path(exists=True))
def command(model: str) -> None:
    r"""Print what MODEL holds, as JSON: k, feature_dim, hyperparameters, metrics, versions.

    \b
    Examples:
      fastkmeans info model.fkm
      fastkmeans info model.tar.gz | jq .hyperparameters
    """
    from fastkmeans._identity import DISTRIBUTION, distribution_version
    from fastkmeans._model_path import find_model_file

    estimator = load_model(model)
    centers = estimator.cluster_centers_
    details: Dict[str, Any] = {
        "file": find_model_file(model), "k": int(centers.shape[0]), "feature_dim": int(centers.shape[1]),
        "dtype": str(centers.dtype), "hyperparameters": estimator.get_hyperparameters(),
        "train_metrics": getattr(estimator, "train_metrics_", None),
        "test_metrics": getattr(estimator, "test_metrics_", None),
        "resumable": getattr(estimator, "_state", None) is not None,
        "versions": {DISTRIBUTION: distribution_version()},
    }
    click.echo(json.dumps(details, indent=2))
