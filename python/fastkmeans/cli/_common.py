"""What the subcommands share: reading SOURCE arguments, progress bars, model loading."""

from __future__ import annotations

import glob
import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from typing import Any, Iterator, List, Optional, Sequence

import click

__all__ = ["counted", "expand_sources", "load_model", "progress", "spooled_stdin"]

STDIN = "-"


def expand_sources(sources: Sequence[str]) -> List[str]:
    """Return the paths SOURCE arguments name: globs expanded (sorted), files and directories as given.

    Raises
    ------
    FileNotFoundError
        For a glob that matches nothing.
    """
    paths: List[str] = []
    for source in sources:
        if source != STDIN and glob.has_magic(source):
            matches = sorted(glob.glob(source, recursive=True))
            if not matches:
                raise FileNotFoundError(f"{source}: matches no file")
            paths.extend(matches)
        else:
            paths.append(source)
    return paths


@contextmanager
def spooled_stdin(paths: List[str]) -> Iterator[List[str]]:
    """Replace ``-`` by a temporary copy of stdin (training reads its data more than once)."""
    if STDIN not in paths:
        yield paths
        return
    with tempfile.NamedTemporaryFile(prefix="fastkmeans-stdin-", suffix=".csv", delete=False) as copy:
        shutil.copyfileobj(sys.stdin.buffer, copy, 1 << 20)
    try:
        yield [copy.name if path == STDIN else path for path in paths]
    finally:
        os.unlink(copy.name)


def stdin_as_path(paths: List[str]) -> List[str]:
    """Replace ``-`` by ``/dev/stdin`` (read once, streamed)."""
    return ["/dev/stdin" if path == STDIN else path for path in paths]


def progress(unit: str, total: Optional[int] = None, description: str = "") -> Any:
    """Return a tqdm bar on stderr, disabled under ``--quiet`` or when stderr is not a terminal."""
    from tqdm import tqdm

    ctx = click.get_current_context(silent=True)
    quiet = bool(ctx and ctx.find_root().obj and ctx.find_root().obj.get("quiet"))
    return tqdm(total=total, unit=unit, unit_scale=True, desc=description, file=sys.stderr, leave=False,
                disable=quiet or not sys.stderr.isatty(), dynamic_ncols=True)


def counted(source: Any, bar: Any) -> Any:
    """Make every pass over ``source`` advance ``bar`` by the rows it reads (training re-reads its data)."""
    read = source.batches

    def batches() -> Iterator[Any]:
        for batch in read():
            bar.update(batch.rows.shape[0])
            yield batch

    source.batches = batches
    return source


def load_model(path: str) -> Any:
    """Load MODEL whatever its kind (native file, model.tar.gz, model_algo-1, a directory)."""
    from fastkmeans._model_path import load_model_path

    return load_model_path(path)
