"""The OpenAPI 3.1 description of the endpoints, served at ``GET /openapi.json``."""

from __future__ import annotations

from typing import Any, Dict

from fastkmeans.server.codecs import CONTENT_TYPES

__all__ = ["openapi"]

_PREDICTION = {"type": "object", "properties": {"closest_cluster": {"type": "number", "example": 1.0},
                                                "distance_to_cluster": {"type": "number", "example": 3.2}}}


def _error(what: str) -> Dict[str, Any]:
    return {"description": f"{what}: the reason, naming the row, line, record or header at fault",
            "content": {"text/plain": {"schema": {"type": "string"}}}}


def openapi(version: str, n_features: int, k: int) -> Dict[str, Any]:
    """Return the OpenAPI document of a server that holds a model of ``k`` centres of ``n_features`` features.

    Parameters
    ----------
    version : str
        fastkmeans' version.
    n_features : int
        Features per row the model takes.
    k : int
        Clusters.

    Returns
    -------
    dict
        The document.
    """
    row = {"type": "array", "items": {"type": "number"}, "minItems": n_features, "maxItems": n_features}
    return {
        "openapi": "3.1.0",
        "info": {"title": "fastkmeans inference endpoint", "version": version,
                 "description": f"SageMaker's k-means inference protocol: k={k} clusters of {n_features} features."},
        "paths": {
            "/ping": {"get": {"summary": "Health check: 200 once the model is loaded",
                              "responses": {"200": {"description": "ready (empty body)"}}}},
            "/execution-parameters": {"get": {
                "summary": "Batch transform's settings",
                "responses": {"200": {"description": "MaxConcurrentTransforms, BatchStrategy, MaxPayloadInMB",
                                      "content": {"application/json": {"schema": {"type": "object"}}}}}}},
            "/invocations": {"post": {
                "summary": "Closest cluster and Euclidean distance to it, for every row",
                "requestBody": {"required": True, "content": {
                    "text/csv": {"schema": {"type": "string"}, "example": "1.5,16.0\n2.0,3.5\n"},
                    "application/json": {"schema": {"type": "object", "properties": {"instances": {
                        "type": "array", "items": {"type": "object", "properties": {"features": row}}}}}},
                    "application/jsonlines": {"schema": {"type": "string"}},
                    "application/x-recordio-protobuf": {"schema": {"type": "string", "format": "binary"}}}},
                "responses": {
                    "200": {"description": "one prediction per row, in the Accept type",
                            "content": {
                                "application/json": {"schema": {"type": "object", "properties": {
                                    "predictions": {"type": "array", "items": _PREDICTION}}}},
                                **{media: {"schema": {"type": "string"}} for media in CONTENT_TYPES
                                   if media != "application/json"}}},
                    "400": _error("unable to evaluate payload provided"),
                    "406": _error("unsupported Accept"),
                    "408": _error("the body did not arrive in time"),
                    "413": _error("the body is larger than the limit"),
                    "415": _error("unsupported Content-Type")}}},
            "/openapi.json": {"get": {"summary": "This document",
                                      "responses": {"200": {"description": "OpenAPI 3.1"}}}},
        },
    }
