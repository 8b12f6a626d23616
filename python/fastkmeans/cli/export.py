"""``fastkmeans export``: a model in another format."""

from __future__ import annotations

import click

from fastkmeans.cli._common import load_model

__all__ = ["command"]


@click.command("export")
@click.argument("model", type=click.Path(exists=True))
@click.option("--to", "kind", type=click.Choice(["sagemaker", "onnx", "native"]), required=True,
              help="sagemaker: model.tar.gz for SageMaker hosting; onnx: an ONNX graph; native: model.save.")
@click.argument("output", type=click.Path(dir_okay=False))
def command(model: str, kind: str, output: str) -> None:
    r"""Write MODEL to OUTPUT in another format (atomically).

    \b
    Examples:
      fastkmeans export model.fkm --to sagemaker model.tar.gz
      fastkmeans export model.tar.gz --to onnx model.onnx
      fastkmeans export /opt/ml/model --to native model.fkm
    """
    estimator = load_model(model)
    if kind == "sagemaker":
        from fastkmeans.sagemaker import save_model

        save_model(estimator, output)
    elif kind == "onnx":
        estimator.to_onnx(output)
    else:
        estimator.save(output)
    click.echo(output)
