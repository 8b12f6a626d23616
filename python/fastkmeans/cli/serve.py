"""``fastkmeans serve MODEL``: the inference endpoint (fastkmeans.server)."""

from __future__ import annotations

from typing import Optional

import click

__all__ = ["command"]


@click.command("serve")
@click.argument("model", type=click.Path(dir_okay=True, file_okay=True))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every one).")
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help="Port to listen on.  [default: SAGEMAKER_BIND_TO_PORT, else 8080]")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes, each with the model.  [default: SAGEMAKER_MODEL_SERVER_WORKERS, else 1]")
@click.option("--max-payload-mb", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Largest request body.  [default: SAGEMAKER_MAX_PAYLOAD_IN_MB, else 6]")
@click.option("--body-timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds to receive a request body (408 after).  [default: 60]")
@click.option("--max-batch-rows", type=click.IntRange(min=1), default=None,
              help="Most rows of concurrent requests assigned in one core call.  [default: 65536]")
@click.option("--max-batch-wait-ms", type=click.FloatRange(min=0), default=None,
              help="How long a request may wait for others to batch with.  [default: 0: only those "
                   "that arrived while the core was busy]")
@click.option("--access-log/--no-access-log", default=True, show_default=True,
              help="One JSON line per request on stderr.")
def command(model: str, host: str, port: Optional[int], workers: Optional[int], max_payload_mb: Optional[float],
            body_timeout: Optional[float], max_batch_rows: Optional[int], max_batch_wait_ms: Optional[float],
            access_log: bool) -> None:
    r"""Serve MODEL over HTTP as a SageMaker k-means endpoint.

    MODEL is a native model file (model.save), SageMaker's model.tar.gz, its model_algo-1, or a
    directory holding one of them (SageMaker's /opt/ml/model). Endpoints: GET /ping, POST
    /invocations (text/csv, application/json, application/jsonlines,
    application/x-recordio-protobuf in and out, by Content-Type and Accept), GET
    /execution-parameters, GET /openapi.json. Stop with Ctrl-C or SIGTERM: requests in flight finish.

    \b
    Examples:
      fastkmeans serve model.tar.gz
      fastkmeans serve model.fkm --port 9000 --workers 2
      curl -s --data-binary $'1.5,16.0,14.0\n' -H 'Content-Type: text/csv' localhost:8080/invocations
    """
    from fastkmeans.server import ServerConfig, serve

    config = ServerConfig.from_environment(
        model, host=host, port=port, workers=workers, body_timeout_s=body_timeout, access_log=access_log,
        max_payload_bytes=None if max_payload_mb is None else int(max_payload_mb * 1024 * 1024),
        max_batch_rows=max_batch_rows, max_wait_s=None if max_batch_wait_ms is None else max_batch_wait_ms / 1000)
    serve(config)
