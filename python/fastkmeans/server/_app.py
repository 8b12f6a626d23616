"""The ASGI application: SageMaker's ``/ping``, ``/invocations`` and ``/execution-parameters`` on Starlette.

A request's life: the Content-Type picks a decoder (415 otherwise), the Accept an encoder (406),
the body is read up to the payload limit (413, without reading the rest) within the body timeout
(408), decoded and checked (400 naming the row), assigned by the batcher with whatever other
requests are waiting, and encoded. Client mistakes are answered with a 4xx and a message; they
never reach the core, so they cannot crash a worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import sys
import time
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, MutableMapping, Optional, Tuple

import numpy as np
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from fastkmeans import _core
from fastkmeans._model_path import load_model_path
from fastkmeans._validation import core_rows
from fastkmeans.server._batcher import Batcher
from fastkmeans.server._config import ServerConfig
from fastkmeans.server._errors import RequestError
from fastkmeans.server._openapi import openapi
from fastkmeans.server.codecs import Model, decoder, encoder

__all__ = ["create_app", "create_app_from_environment"]

ACCESS_LOG = logging.getLogger("fastkmeans.access")
_LOG = logging.getLogger("fastkmeans.server")
_Scope = MutableMapping[str, Any]
_ASGI = Callable[[_Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


class _Predictor:
    """The model's centres and the core's assignment, for rows the decoders have already checked."""

    def __init__(self, centers: np.ndarray) -> None:
        self.centers = np.ascontiguousarray(centers)

    def __call__(self, rows: Any) -> Tuple[np.ndarray, np.ndarray]:
        closest, dist2 = _core.assign(core_rows(rows), self.centers)
        return closest, np.sqrt(dist2)


def create_app(config: ServerConfig) -> Starlette:
    """Load the model and return the application serving it.

    Parameters
    ----------
    config : ServerConfig
        The model path and the settings.

    Returns
    -------
    starlette.applications.Starlette
        An ASGI application (any ASGI server runs it; ``fastkmeans serve`` uses uvicorn).
    """
    from fastkmeans import __version__

    estimator = load_model_path(config.model)
    centers = np.asarray(estimator.cluster_centers_)
    model = Model(n_features=centers.shape[1], dtype=centers.dtype)
    batcher = Batcher(_Predictor(centers), config.batch)
    document = openapi(__version__, centers.shape[1], centers.shape[0])

    async def ping(request: Request) -> Response:
        return Response(status_code=200)

    async def execution_parameters(request: Request) -> Response:
        return JSONResponse(config.execution_parameters)

    async def openapi_json(request: Request) -> Response:
        return JSONResponse(document)

    async def invocations(request: Request) -> Response:
        read = False
        try:
            decode, params = decoder(request.headers.get("content-type"))
            encode, media_type = encoder(request.headers.get("accept"), config.default_accept)
            body = await _read_body(request, config.max_payload_bytes, config.body_timeout_s)
            read = True
            rows = decode(body, params, model)
            request.scope["fastkmeans.rows"] = rows.shape[0]
            closest, distance = await batcher.assign(rows)
            return Response(encode(closest, distance), media_type=media_type)
        except RequestError as error:
            request.scope["fastkmeans.error"] = error.message
            # A body left unread must not be taken for the next request on this connection.
            headers = None if read else {"Connection": "close"}
            return PlainTextResponse(error.message, status_code=error.status, headers=headers)
        except _Disconnected:
            request.scope["fastkmeans.error"] = "the client went away before the body was complete"
            return PlainTextResponse("incomplete body", status_code=400, headers={"Connection": "close"})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        _freeze_startup_objects()
        _LOG.info(json.dumps({"event": "ready", "pid": os.getpid(), "model": config.model, "k": int(centers.shape[0]),
                              "feature_dim": int(centers.shape[1])}))
        yield
        await batcher.close()

    app = Starlette(routes=[
        Route("/ping", ping, methods=["GET"]),
        Route("/invocations", invocations, methods=["POST"]),
        Route("/execution-parameters", execution_parameters, methods=["GET"]),
        Route("/openapi.json", openapi_json, methods=["GET"]),
    ], lifespan=lifespan)
    app.state.batcher = batcher
    return app


def _freeze_startup_objects() -> None:
    """Take what the worker holds once started (modules, the model, the server) out of garbage collection.

    A worker holds some 120,000 objects once its modules are imported; each full collection walks
    them all, some 65 ms on the bench machine, and under load full collections came about once a
    second (objects of the requests in flight survive the young collections), stalling every
    request in flight: p99 at 32 connections was 62 ms where p50 was 2 ms. Frozen, a full
    collection walks only what requests allocated since (p99 3.9 ms, throughput up a quarter).
    """
    gc.collect()
    gc.freeze()


class _Disconnected(Exception):
    pass


async def _read_body(request: Request, limit: int, timeout: float) -> bytes:
    """Return the body, refusing one over ``limit`` bytes (413) or slower than ``timeout`` seconds (408)."""
    length = request.headers.get("content-length")
    if length is not None:
        if not length.strip().isdigit():
            raise RequestError(400, f"Content-Length {length!r} is not a number")
        if int(length) > limit:
            raise RequestError(413, f"the body is {int(length)} bytes, over the limit of {limit} bytes "
                                    "(SAGEMAKER_MAX_PAYLOAD_IN_MB): split the request")
    receive = request.receive
    message = await receive()  # usually the whole body, already read by the server with the headers
    chunks = [_chunk(message)]
    if not message.get("more_body", False):
        return chunks[0]
    size = len(chunks[0])

    async def rest() -> None:
        nonlocal size
        while True:
            message = await receive()
            chunk = _chunk(message)
            size += len(chunk)
            if size > limit:
                raise RequestError(413, f"the body is over the limit of {limit} bytes (SAGEMAKER_MAX_PAYLOAD_IN_MB): "
                                        "split the request")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return

    try:
        await asyncio.wait_for(rest(), timeout)
    except asyncio.TimeoutError:
        raise RequestError(408, f"the body did not arrive within {timeout:g} s") from None
    return b"".join(chunks)


def _chunk(message: MutableMapping[str, Any]) -> bytes:
    if message["type"] == "http.disconnect":
        raise _Disconnected()
    body: bytes = message.get("body", b"")
    return body


class AccessLog:
    """ASGI middleware writing one JSON line per request to the ``fastkmeans.access`` logger.

    Fields: ``method``, ``path``, ``status``, ``ms`` (time to the end of the answer), ``bytes_in``
    (the Content-Length), ``bytes_out``, ``rows`` (for /invocations), ``client`` and, for a 4xx,
    ``error`` (the message sent).

    Parameters
    ----------
    app : ASGI application
        The application to wrap.
    """

    def __init__(self, app: _ASGI) -> None:
        self.app = app

    async def __call__(self, scope: _Scope, receive: Callable[[], Awaitable[Any]],
                      send: Callable[[Any], Awaitable[None]]) -> None:
        """Run the request, then log it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status, size = 0, 0

        async def logged_send(message: Any) -> None:
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, logged_send)
        finally:
            if ACCESS_LOG.isEnabledFor(logging.INFO):
                ACCESS_LOG.info(json.dumps(_record(scope, status, size, start)))


def _record(scope: _Scope, status: int, size: int, start: float) -> Dict[str, Any]:
    length = dict(scope.get("headers") or ()).get(b"content-length", b"")
    record: Dict[str, Any] = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()), "method": scope.get("method"),
        "path": scope.get("path"), "status": status, "ms": round((time.perf_counter() - start) * 1e3, 3),
        "bytes_in": int(length) if length.isdigit() else None, "bytes_out": size,
        "client": (scope.get("client") or [None])[0]}
    if "fastkmeans.rows" in scope:
        record["rows"] = scope["fastkmeans.rows"]
    if "fastkmeans.error" in scope:
        record["error"] = scope["fastkmeans.error"]
    return record


def setup_logging(access_log: bool) -> None:
    """Send the server's logs (and, if wanted, the access log) to stderr as JSON lines.

    A server process logs one access line per request, so records skip what no line prints: the
    caller's source file and line, thread and process names (the logging documentation's
    "Optimization" settings): 9.6 -> 4.8 us a record, of some 20 us the access log costs a request.
    """
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    for name, enabled in (("fastkmeans.server", True), ("fastkmeans.access", access_log)):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.propagate = False
        logger.setLevel(logging.INFO if enabled else logging.WARNING)


def create_app_from_environment(config_json: Optional[str] = None) -> _ASGI:
    """Return the logged application for the settings in ``FASTKMEANS_SERVE_CONFIG`` (each worker's factory)."""
    config = ServerConfig.from_json(config_json or os.environ["FASTKMEANS_SERVE_CONFIG"])
    setup_logging(config.access_log)
    return AccessLog(create_app(config))
