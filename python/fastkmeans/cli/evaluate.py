"""``fastkmeans evaluate``: SageMaker's test metrics of a model on data."""

from __future__ import annotations

import json
from typing import Optional, Tuple

import click

from fastkmeans.cli._common import counted, expand_sources, load_model, progress, stdin_as_path

__all__ = ["command"]


@click.command("evaluate")
@click.argument("model", type=click.Path(exists=True))
@click.argument("sources", nargs=-1, required=True, metavar="SOURCE...")
@click.option("--content-type", default=None, metavar="TYPE", help="Format of SOURCE (default: detected).")
def command(model: str, sources: Tuple[str, ...], content_type: Optional[str]) -> None:
    r"""Print the msd and ssd of MODEL on SOURCE as JSON (SageMaker's test:msd and test:ssd).

    \b
    Examples:
      fastkmeans evaluate model.tar.gz test.csv
      fastkmeans evaluate model.fkm /opt/ml/input/data/test
    """
    from fastkmeans.io import open_source

    estimator = load_model(model)
    estimator.set_params(eval_metrics=("msd", "ssd"))
    paths = stdin_as_path(expand_sources(sources))
    if content_type is None and "/dev/stdin" in paths:
        content_type = "text/csv"
    with progress("rows", description="evaluate") as bar:
        metrics = estimator.evaluate(counted(open_source(paths, content_type=content_type), bar))
    click.echo(json.dumps(metrics))
