"""``fastkmeans select-k``: train one model per k and choose k (``fastkmeans.select_k``)."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Tuple

import click

from fastkmeans.cli._common import expand_sources, stdin_as_path

__all__ = ["command"]

_RULES = ["silhouette", "elbow", "calinski_harabasz", "davies_bouldin", "gap"]


def _k_values(text: str) -> List[int]:
    """``2..10``, ``2,4,8`` or a mix (``2..5,8``) as a list of k."""
    values: List[int] = []
    try:
        for part in filter(None, (p.strip() for p in text.split(","))):
            if ".." in part:
                low, high = (int(v) for v in part.split("..", 1))
                values.extend(range(low, high + 1))
            else:
                values.append(int(part))
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a list of k such as 2..10 or 2,4,8",
                                 param_hint="--k-values") from None
    if not values:
        raise click.BadParameter("no k given", param_hint="--k-values")
    return values


@click.command("select-k")
@click.argument("sources", nargs=-1, required=True, metavar="SOURCE...")
@click.option("--k-values", default="2..10", show_default=True, metavar="KS",
              help="The k to try: 2..10, 2,4,8 or both.")
@click.option("--rule", type=click.Choice(_RULES), default="silhouette", show_default=True,
              help="The rule that chooses k (every rule's choice is printed).")
@click.option("--gap", is_flag=True, help="Also compute the gap statistic (more fits per k).")
@click.option("--random-state", type=int, default=None, help="Seed of every model.")
@click.option("--mini-batch-size", type=int, default=None, help="SageMaker's mini_batch_size for every model.")
@click.option("--epochs", type=int, default=None, help="SageMaker's epochs for every model.")
@click.option("--init-method", type=click.Choice(["auto", "random", "kmeans++", "kmeans||", "kmeans++-random"]),
              default=None,
              help="SageMaker's init_method for every model.")
@click.option("--content-type", default=None, metavar="TYPE", help="Format of SOURCE (default: detected).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON instead of a table.")
@click.option("-o", "--output", default=None, type=click.Path(dir_okay=False), help="Save the chosen k's model here.")
def command(sources: Tuple[str, ...], k_values: str, rule: str, gap: bool, random_state: Optional[int],
            mini_batch_size: Optional[int], epochs: Optional[int], init_method: Optional[str],
            content_type: Optional[str], as_json: bool, output: Optional[str]) -> None:
    r"""Train one model per k on SOURCE and choose k.

    Prints inertia, msd, silhouette, Calinski-Harabasz and Davies-Bouldin (and the gap statistic)
    for every k, and the k each rule picks.

    \b
    Examples:
      fastkmeans select-k data.csv
      fastkmeans select-k --k-values 2..12 --rule elbow --random-state 0 'data/*.csv'
      fastkmeans select-k --k-values 3,5,8 --json -o best.fkm data.npy
    """
    from fastkmeans import select_k
    from fastkmeans.io import open_source

    hyperparameters: Dict[str, Any] = {name: value for name, value in
                       (("mini_batch_size", mini_batch_size), ("epochs", epochs), ("init_method", init_method))
                       if value is not None}
    paths = stdin_as_path(expand_sources(sources))
    if content_type is None and "/dev/stdin" in paths:
        content_type = "text/csv"
    ctx = click.get_current_context(silent=True)
    quiet = bool(ctx and ctx.find_root().obj and ctx.find_root().obj.get("quiet"))
    result = select_k(open_source(paths, content_type=content_type), _k_values(k_values), random_state=random_state,
                      rule=rule, gap=gap, progress=not quiet, **hyperparameters)
    if output is not None:
        result.best_model.save(output)
    click.echo(json.dumps(result.to_dict()) if as_json else result.format_table())
