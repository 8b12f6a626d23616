"""``fastkmeans report``: one self-contained HTML page judging a model on data."""

from __future__ import annotations

from typing import Optional, Tuple

import click

from fastkmeans.cli._common import expand_sources, load_model, stdin_as_path
from fastkmeans.cli.select_k import _k_values

__all__ = ["command"]


@click.command("report")
@click.argument("model", type=click.Path(exists=True))
@click.argument("sources", nargs=-1, required=True, metavar="SOURCE...")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The HTML file to write.")
@click.option("--k-values", default=None, metavar="KS", help="Also compare k over these values (2..10, 2,4,8).")
@click.option("--title", default=None, help="The page's title.")
@click.option("--content-type", default=None, metavar="TYPE", help="Format of SOURCE (default: detected).")
def command(model: str, sources: Tuple[str, ...], output: str, k_values: Optional[str], title: Optional[str],
            content_type: Optional[str]) -> None:
    r"""Write an HTML report of MODEL on SOURCE.

    Metrics, cluster sizes, silhouettes, distance histograms, a 2-D view and the membership table
    (and, with --k-values, the elbow and silhouette against k): one file, images embedded, no
    network, written atomically.

    \b
    Examples:
      fastkmeans report model.fkm data.csv -o report.html
      fastkmeans report model.tar.gz 'data/*.csv' --k-values 2..10 -o report.html
    """
    from fastkmeans.io import open_source
    from fastkmeans.report import write_report

    estimator = load_model(model)
    paths = stdin_as_path(expand_sources(sources))
    if content_type is None and "/dev/stdin" in paths:
        content_type = "text/csv"
    ks = _k_values(k_values) if k_values is not None else None
    write_report(estimator, open_source(paths, content_type=content_type), output, title=title, k_values=ks)
    click.echo(output)
