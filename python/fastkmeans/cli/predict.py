"""``fastkmeans predict``: batch transform, streamed, in the endpoint's own answer formats."""

from __future__ import annotations

import sys
from typing import Any, Iterator, Optional, Tuple

import click

from fastkmeans.cli._common import expand_sources, load_model, progress, stdin_as_path

__all__ = ["command"]

FORMATS = {"jsonl": "application/jsonlines", "csv": "text/csv", "json": "application/json",
           "recordio": "application/x-recordio-protobuf"}
_JSON_HEAD, _JSON_TAIL = b'{"predictions":[', b"]}"


@click.command("predict")
@click.argument("model", type=click.Path(exists=True))
@click.argument("sources", nargs=-1, required=True, metavar="SOURCE...")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="File to write (atomically: no partial file on error or Ctrl-C). Default: stdout.")
@click.option("--format", "format_", type=click.Choice(list(FORMATS)), default="jsonl", show_default=True,
              help="Answer format, as the endpoint's Accept types.")
@click.option("--content-type", default=None, metavar="TYPE",
              help="Format of SOURCE (default: from the extension, else the bytes; text/csv for -).")
def command(model: str, sources: Tuple[str, ...], output: Optional[str], format_: str,
            content_type: Optional[str]) -> None:
    r"""Assign every row of SOURCE to its closest cluster (SageMaker batch transform).

    Streams any amount of data in constant memory and writes, per row, closest_cluster and
    distance_to_cluster: the same bytes the endpoint answers for the same rows (JSON Lines by
    default). SOURCE: files, directories, globs, or - for CSV on stdin.

    \b
    Examples:
      fastkmeans predict model.tar.gz data.csv > predictions.jsonl
      fastkmeans predict model.fkm 'shards/*.pbr' --format recordio -o predictions.pbr
      cat rows.csv | fastkmeans predict model.fkm - --format csv
    """
    from fastkmeans.io import open_source
    from fastkmeans.server.codecs import encoder

    estimator = load_model(model)
    paths = stdin_as_path(expand_sources(sources))
    if content_type is None and "/dev/stdin" in paths:
        content_type = "text/csv"
    source = open_source(paths, content_type=content_type)
    encode, _ = encoder(FORMATS[format_], FORMATS[format_])
    chunks = _answers(estimator, source, encode, format_ == "json")
    if output is None:
        for chunk in chunks:
            sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
    else:
        from fastkmeans._atomic import write_atomically

        write_atomically(output, chunks)


def _answers(estimator: Any, source: Any, encode: Any, json_document: bool) -> Iterator[bytes]:
    from fastkmeans import _streaming

    first = True
    with progress("rows", description="predict") as bar:
        for _, closest, dist2 in _streaming.assign_batches(source, estimator.cluster_centers_,
                                                           estimator._width_check(), estimator.n_threads):
            import numpy as np

            answer = encode(closest, np.sqrt(dist2))
            if json_document:  # one document for the whole input: the batches' predictions joined
                answer = (_JSON_HEAD if first else b",") + answer[len(_JSON_HEAD):-len(_JSON_TAIL)]
            first = False
            bar.update(closest.shape[0])
            yield answer
    if json_document:
        yield (_JSON_HEAD if first else b"") + _JSON_TAIL
