"""The ``fastkmeans`` command (also ``python -m fastkmeans``), built on click.

Each subcommand is one click command in one module of this package; ``_COMMANDS`` lists them and
they are imported only when run (``fastkmeans --help`` stays fast). To add one, write the module
with a ``command`` and add a line here.
"""

from __future__ import annotations

import importlib
from typing import Any, List, Optional

import click

from fastkmeans.cli._errors import ErrorHandlingGroup, setup_logging

__all__ = ["main"]

# name -> (module, one-line help shown by `fastkmeans --help`)
_COMMANDS = {
    "train": ("fastkmeans.cli.train", "Train a model on files (every SageMaker hyperparameter as a flag)."),
    "predict": ("fastkmeans.cli.predict", "Assign rows to clusters, streamed (batch transform)."),
    "evaluate": ("fastkmeans.cli.evaluate", "Print a model's msd and ssd on data."),
    "info": ("fastkmeans.cli.info", "Print what a model file holds."),
    "export": ("fastkmeans.cli.export", "Write a model as model.tar.gz, ONNX or a native file."),
    "select-k": ("fastkmeans.cli.select_k", "Train one model per k and choose k (silhouette, elbow, ...)."),
    "report": ("fastkmeans.cli.report", "Write a self-contained HTML report of a model on data."),
    "serve": ("fastkmeans.cli.serve", "Serve a model over HTTP as a SageMaker k-means endpoint."),
    "sagemaker": ("fastkmeans.cli.sagemaker", "Run as SageMaker's training or inference container."),
}


class _LazyGroup(ErrorHandlingGroup):
    """A group whose commands are imported when they run, not when ``fastkmeans`` starts."""

    def list_commands(self, ctx: click.Context) -> List[str]:
        return list(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> Optional[click.Command]:
        if cmd_name not in _COMMANDS:
            return None
        command: click.Command = importlib.import_module(_COMMANDS[cmd_name][0]).command
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, summary) for name, (_, summary) in _COMMANDS.items()])


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, help="Show the version and exit.",
              callback=lambda ctx, _, value: _print_version(ctx) if value else None)
@click.option("--debug", is_flag=True, help="On an error, show the Python traceback too.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars; warnings and errors only.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="warning",
              show_default=True, help="Level of the log lines written to stderr.")
@click.pass_context
def main(ctx: click.Context, debug: bool, quiet: bool, log_level: str) -> None:
    r"""SageMaker's built-in k-means, locally and fast.

    \b
    Examples:
      fastkmeans train --k 5 -o model.fkm train.csv
      fastkmeans predict model.fkm new.csv > predictions.jsonl
      fastkmeans evaluate model.fkm test.csv
      fastkmeans export model.fkm --to sagemaker model.tar.gz
      fastkmeans serve model.tar.gz --port 8080
      fastkmeans sagemaker train --root /opt/ml
      fastkmeans SUBCOMMAND --help
    """
    ctx.ensure_object(dict)
    ctx.obj.update(debug=debug, quiet=quiet)
    setup_logging("warning" if quiet else log_level)


def _print_version(ctx: click.Context) -> Any:
    from fastkmeans._identity import describe

    click.echo(describe())
    ctx.exit()
