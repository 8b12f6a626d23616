"""The server's settings: command-line values over SageMaker's environment variables over defaults.

SageMaker's variables (SAGEMAKER_KMEANS.md section 4): ``SAGEMAKER_BIND_TO_PORT`` (8080),
``SAGEMAKER_MAX_PAYLOAD_IN_MB`` (6), ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT`` (application/json),
``SAGEMAKER_MODEL_SERVER_WORKERS``, ``SAGEMAKER_MODEL_SERVER_TIMEOUT`` (60 s), and for batch
transform ``SAGEMAKER_BATCH``, ``SAGEMAKER_BATCH_STRATEGY``, ``SAGEMAKER_MAX_CONCURRENT_TRANSFORMS``.
Ours: ``FASTKMEANS_MAX_BATCH_ROWS``, ``FASTKMEANS_MAX_BATCH_WAIT_MS``, ``FASTKMEANS_INLINE_ROWS``
(the batcher), ``FASTKMEANS_BODY_TIMEOUT`` (seconds to receive a request body).
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional

from fastkmeans.server._batcher import BatchSettings
from fastkmeans.server.codecs import CONTENT_TYPES

__all__ = ["ServerConfig"]


@dataclass(frozen=True)
class ServerConfig:
    """Everything a worker needs to serve a model.

    Parameters
    ----------
    model : str
        MODEL as ``fastkmeans serve`` takes it: a model file or a directory holding one.
    host : str, default="127.0.0.1"
        Address to listen on.
    port : int, default=8080
        Port to listen on (``SAGEMAKER_BIND_TO_PORT``).
    workers : int, default=1
        Worker processes, each with its own copy of the model (``SAGEMAKER_MODEL_SERVER_WORKERS``).
    max_payload_bytes : int, default=6 MB
        Largest request body (``SAGEMAKER_MAX_PAYLOAD_IN_MB``); larger ones get 413.
    body_timeout_s : float, default=60.0
        Seconds to receive a whole request body; a slower upload gets 408.
    default_accept : str, default="application/json"
        Answer type for a missing or ``*/*`` Accept (``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT``).
    batch : BatchSettings
        The request batcher's knobs.
    access_log : bool, default=True
        Write one JSON line per request to stderr.
    execution_parameters : dict
        What ``GET /execution-parameters`` answers (batch transform).
    """

    model: str
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    max_payload_bytes: int = 6 * 1024 * 1024
    body_timeout_s: float = 60.0
    default_accept: str = "application/json"
    batch: BatchSettings = field(default_factory=BatchSettings)
    access_log: bool = True
    execution_parameters: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_environment(cls, model: str, environ: Optional[Mapping[str, str]] = None,
                         **overrides: Any) -> ServerConfig:
        """Build the settings from SageMaker's and our environment variables, then ``overrides`` (not None).

        Parameters
        ----------
        model : str
            The model path.
        environ : mapping or None, default=None
            The environment (``os.environ`` when None).
        **overrides
            Fields given on the command line; None means "not given".

        Returns
        -------
        ServerConfig

        Raises
        ------
        ValueError
            Naming the variable and its bad value.
        """
        env = os.environ if environ is None else environ
        values: Dict[str, Any] = {"model": model}
        values["port"] = _number(env, "SAGEMAKER_BIND_TO_PORT", int, 8080, low=0, high=65535)
        values["workers"] = _number(env, "SAGEMAKER_MODEL_SERVER_WORKERS", int, 1, low=1)
        payload_mb = _number(env, "SAGEMAKER_MAX_PAYLOAD_IN_MB", float, 6.0, low=0.0)
        values["max_payload_bytes"] = int(payload_mb * 1024 * 1024)
        response_timeout = _number(env, "SAGEMAKER_MODEL_SERVER_TIMEOUT", float, 60.0, low=0.001)
        values["body_timeout_s"] = _number(env, "FASTKMEANS_BODY_TIMEOUT", float, response_timeout, low=0.001)
        accept = env.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "application/json")
        if accept not in CONTENT_TYPES:
            raise ValueError(f"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT={accept!r} is not one of "
                             f"{', '.join(CONTENT_TYPES)}")
        values["default_accept"] = accept
        values["batch"] = BatchSettings(
            max_batch_rows=_number(env, "FASTKMEANS_MAX_BATCH_ROWS", int, 65536, low=1),
            max_wait_s=_number(env, "FASTKMEANS_MAX_BATCH_WAIT_MS", float, 0.0, low=0.0) / 1000,
            inline_rows=_number(env, "FASTKMEANS_INLINE_ROWS", int, 2048, low=0))
        batch_overrides = {name: overrides.pop(name, None) for name in ("max_batch_rows", "max_wait_s", "inline_rows")}
        batch_overrides = {name: value for name, value in batch_overrides.items() if value is not None}
        if batch_overrides:
            values["batch"] = dataclasses.replace(values["batch"], **batch_overrides)
        values.update({name: value for name, value in overrides.items() if value is not None})
        strategy = env.get("SAGEMAKER_BATCH_STRATEGY", "MULTI_RECORD").upper()
        if strategy not in ("MULTI_RECORD", "SINGLE_RECORD"):
            raise ValueError(f"SAGEMAKER_BATCH_STRATEGY={strategy!r} is not MULTI_RECORD or SINGLE_RECORD")
        max_mb = max(1, int(payload_mb))
        concurrent = _number(env, "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS", int,
                             max(1, min(values["workers"] * 4, 100 // max_mb)), low=1)
        values["execution_parameters"] = {"MaxConcurrentTransforms": concurrent, "BatchStrategy": strategy,
                                          "MaxPayloadInMB": max_mb}
        return cls(**values)

    def to_json(self) -> str:
        """Return the settings as JSON (how the parent hands them to worker processes)."""
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServerConfig:
        """Return the settings ``to_json`` wrote."""
        values = json.loads(text)
        values["batch"] = BatchSettings(**values["batch"])
        return cls(**values)


def _number(env: Mapping[str, str], name: str, kind: Any, default: Any, *, low: Any = None, high: Any = None) -> Any:
    text = env.get(name)
    if text is None or text == "":
        return default
    try:
        value = kind(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} is not {'an integer' if kind is int else 'a number'}") from None
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name}={text!r} is out of range [{low}, {high if high is not None else 'inf'}]")
    return value
