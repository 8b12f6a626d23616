"""Running the application on uvicorn (httptools and uvloop where installed), N worker processes.

Every worker loads the model once, at start. SIGTERM (how SageMaker and Docker stop a container)
stops accepting connections and lets the requests in flight finish, for up to
``GRACEFUL_SHUTDOWN_S`` (SageMaker sends SIGKILL 30 s after SIGTERM).
"""

from __future__ import annotations

import json
import logging
import os
import signal
from types import FrameType
from typing import Any, Optional

from fastkmeans.server._app import create_app_from_environment, setup_logging
from fastkmeans.server._config import ServerConfig

__all__ = ["GRACEFUL_SHUTDOWN_S", "serve"]

_LOG = logging.getLogger("fastkmeans.server")

GRACEFUL_SHUTDOWN_S = 25


def serve(config: ServerConfig) -> None:
    """Serve ``config.model`` until SIGTERM or Ctrl-C.

    Parameters
    ----------
    config : ServerConfig
        The model and the settings.

    Raises
    ------
    FileNotFoundError, ValueError
        When the model cannot be loaded (checked here once, before any worker starts).
    """
    import uvicorn

    from fastkmeans._model_path import load_model_path

    load_model_path(config.model)  # a bad model fails here, once, with its reason, not in every worker
    setup_logging(config.access_log)
    os.environ["FASTKMEANS_SERVE_CONFIG"] = config.to_json()
    # uvicorn handles SIGTERM and SIGINT itself (graceful shutdown), then re-sends the signal to the
    # handler it found: with this one, a graceful stop exits 0 instead of dying of the signal.
    previous = signal.signal(signal.SIGTERM, _stopped)
    try:
        _run_uvicorn(uvicorn, config)
    finally:
        signal.signal(signal.SIGTERM, previous)
    _LOG.info(json.dumps({"event": "stopped", "pid": os.getpid()}))


def _stopped(signum: int, frame: Optional[FrameType]) -> None:
    """Let a SIGTERM that uvicorn re-sends after its graceful shutdown end the process normally."""


def _run_uvicorn(uvicorn: Any, config: ServerConfig) -> None:
    uvicorn.run(
        "fastkmeans.server._app:create_app_from_environment" if config.workers > 1 else create_app_from_environment(),
        factory=config.workers > 1, host=config.host, port=config.port, workers=config.workers,
        access_log=False, log_level="warning", timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        loop="auto", http="auto", server_header=False, date_header=True)
