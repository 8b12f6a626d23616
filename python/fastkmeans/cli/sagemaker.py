"""``fastkmeans sagemaker train|serve``: SageMaker's container contract (what ``docker run IMAGE train`` runs)."""

from __future__ import annotations

import os
import sys
import traceback

import click

__all__ = ["command"]


@click.group("sagemaker")
def command() -> None:
    r"""Run as SageMaker's k-means container: train from /opt/ml, or serve /opt/ml/model.

    \b
    Examples:
      fastkmeans sagemaker train                  # in a training job (docker run IMAGE train)
      fastkmeans sagemaker train --root ./job     # a job laid out locally
      fastkmeans sagemaker serve                  # an endpoint on port 8080 (docker run IMAGE serve)
    """


@command.command("train")
@click.option("--root", default="/opt/ml", show_default=True, type=click.Path(file_okay=False),
              envvar="FASTKMEANS_SAGEMAKER_ROOT", show_envvar=True,
              help="The container root: input/config, input/data, model, output.")
def train(root: str) -> None:
    """Train as SageMaker's training job does; write ROOT/model/model.tar.gz, or ROOT/output/failure."""
    from fastkmeans._container import train as run_training
    from fastkmeans._container import write_failure
    from fastkmeans.cli._errors import one_line

    click.echo("Docker entrypoint called with argument(s): train")
    try:
        run_training(root, log=lambda line: click.echo(line))
    except (ValueError, OSError, ImportError, RuntimeError, KeyboardInterrupt) as error:
        reason = "interrupted" if isinstance(error, KeyboardInterrupt) else one_line(error)
        write_failure(root, reason)
        ctx = click.get_current_context()
        if (ctx.find_root().obj or {}).get("debug"):
            traceback.print_exc(file=sys.stderr)
        click.echo(f"fastkmeans: error: {reason}", err=True)
        ctx.exit(130 if isinstance(error, KeyboardInterrupt) else 2)


@command.command("serve")
@click.option("--root", default="/opt/ml", show_default=True, type=click.Path(file_okay=False),
              envvar="FASTKMEANS_SAGEMAKER_ROOT", show_envvar=True,
              help="The container root: the model is in ROOT/model.")
@click.option("--host", default="0.0.0.0", show_default=True, envvar="FASTKMEANS_SAGEMAKER_HOST", show_envvar=True,
              help="Address to listen on (every address, as in a container).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes.  [default: SAGEMAKER_MODEL_SERVER_WORKERS, else the number of CPUs]")
def serve(root: str, host: str, workers: int) -> None:
    """Serve ROOT/model on 0.0.0.0:8080 (SAGEMAKER_BIND_TO_PORT), as SageMaker hosting runs a container."""
    from fastkmeans.server import ServerConfig
    from fastkmeans.server import serve as run_server

    config = ServerConfig.from_environment(os.path.join(root, "model"), host=host,
                                           workers=workers or int(os.environ.get("SAGEMAKER_MODEL_SERVER_WORKERS",
                                                                                 os.cpu_count() or 1)))
    run_server(config)
