"""How the command line fails: one line on stderr naming the problem, exit status 1, no traceback.

``--debug`` adds the traceback. Ctrl-C exits with status 130 and a one-line note. Errors of the
user's making are ``ValueError`` (bad values, bad data: the message names the file, line or
parameter), ``OSError`` (missing or unreadable files) and ``ImportError`` (a missing extra).
"""

from __future__ import annotations

import logging
import sys
import traceback
from typing import Any

import click

__all__ = ["ErrorHandlingGroup", "setup_logging"]

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


class ErrorHandlingGroup(click.Group):
    """A click group that turns user errors into one line on stderr."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand; report a failure as ``fastkmeans: error: ...`` and exit non-zero."""
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("fastkmeans: interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except (ValueError, OSError, ImportError, RuntimeError) as error:
            if (ctx.obj or {}).get("debug"):
                traceback.print_exc(file=sys.stderr)
            click.echo(f"fastkmeans: error: {one_line(error)}", err=True)
            ctx.exit(EXIT_ERROR)


def one_line(error: BaseException) -> str:
    """Return an exception as one line: its message with newlines folded."""
    text = str(error) or type(error).__name__
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        text = f"{error.filename}: {error.strerror}"
    if isinstance(error, ImportError) and "pip install" not in text:
        text += " (install the extra it belongs to, e.g. pip install \"fastkmeans-sagemaker[serve]\")"
    return " ".join(text.split())


def setup_logging(level: str) -> None:
    """Send log lines of the ``fastkmeans`` loggers to stderr at ``level``."""
    logger = logging.getLogger("fastkmeans")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(getattr(logging, level.upper()))
