"""The inference endpoint: SageMaker's k-means protocol over HTTP (``fastkmeans serve MODEL``).

``GET /ping``, ``POST /invocations`` (CSV, JSON, JSON Lines and RecordIO-protobuf in and out),
``GET /execution-parameters`` and ``GET /openapi.json``, on Starlette and uvicorn. Needs the
``serve`` extra: ``pip install "fastkmeans-sagemaker[serve]"``. The request and answer codecs
(``fastkmeans.server.codecs``) need only NumPy: ``fastkmeans predict`` writes the same bytes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["BatchSettings", "ServerConfig", "create_app", "serve"]

if TYPE_CHECKING:  # pragma: no cover
    from fastkmeans.server._app import create_app
    from fastkmeans.server._batcher import BatchSettings
    from fastkmeans.server._config import ServerConfig
    from fastkmeans.server._run import serve

_LAZY = {"BatchSettings": "fastkmeans.server._batcher", "ServerConfig": "fastkmeans.server._config",
         "create_app": "fastkmeans.server._app", "serve": "fastkmeans.server._run"}


def __getattr__(name: str) -> Any:
    # Starlette and uvicorn are imported only when the server is used, not for the codecs.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'fastkmeans.server' has no attribute {name!r}")
