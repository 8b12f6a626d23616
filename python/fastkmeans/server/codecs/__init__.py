"""Request decoders and response encoders, one module per content type, and the choice between them.

``decoder(content_type)`` picks the decoder of a request's ``Content-Type`` (415 otherwise),
``encoder(accept, default)`` the encoder its ``Accept`` asks for (406 otherwise).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np

from fastkmeans.server._errors import RequestError
from fastkmeans.server.codecs._csv import decode_csv, encode_csv
from fastkmeans.server.codecs._json import decode_json, decode_jsonlines, encode_json, encode_jsonlines
from fastkmeans.server.codecs._recordio import decode_recordio, encode_recordio
from fastkmeans.server.codecs._rows import Model

__all__ = ["CONTENT_TYPES", "Decoder", "Encoder", "Model", "decoder", "encoder"]

CSV, JSON, JSONLINES, RECORDIO = "text/csv", "application/json", "application/jsonlines", \
    "application/x-recordio-protobuf"
CONTENT_TYPES = (CSV, JSON, JSONLINES, RECORDIO)
"""The media types served, both ways."""

Decoder = Callable[[bytes, Dict[str, str], Model], Any]
Encoder = Callable[[np.ndarray, np.ndarray], bytes]

_DECODERS: Dict[str, Decoder] = {CSV: decode_csv, JSON: decode_json, JSONLINES: decode_jsonlines,
                                 RECORDIO: decode_recordio}
_ENCODERS: Dict[str, Encoder] = {CSV: encode_csv, JSON: encode_json, JSONLINES: encode_jsonlines,
                                 RECORDIO: encode_recordio}
# Other spellings seen in the wild, mapped onto the ones above.
_ALIASES = {"application/x-jsonlines": JSONLINES, "application/jsonl": JSONLINES, "application/json-lines": JSONLINES,
            "application/x-ndjson": JSONLINES, "text/x-csv": CSV, "application/csv": CSV}


def _media(text: str) -> Tuple[str, Dict[str, str]]:
    media, _, rest = text.partition(";")
    params = {}
    for part in rest.split(";"):
        key, sep, value = part.partition("=")
        if sep:
            params[key.strip().lower()] = value.strip().strip('"')
    media = media.strip().lower()
    return _ALIASES.get(media, media), params


def decoder(content_type: Optional[str]) -> Tuple[Decoder, Dict[str, str]]:
    """Return the decoder of a ``Content-Type`` header and the header's parameters.

    Parameters
    ----------
    content_type : str or None
        The header, e.g. ``"text/csv; label_size=0"``.

    Returns
    -------
    decoder : callable
        ``decoder(body, params, model)`` returns the rows.
    params : dict of str to str
        The header's parameters.

    Raises
    ------
    RequestError
        415 for a missing or unsupported content type.
    """
    if not content_type:
        raise RequestError(415, f"no Content-Type: send one of {', '.join(CONTENT_TYPES)}")
    media, params = _media(content_type)
    try:
        return _DECODERS[media], params
    except KeyError:
        raise RequestError(415, f"unsupported Content-Type {content_type!r}: send one of "
                           f"{', '.join(CONTENT_TYPES)}") from None


def encoder(accept: Optional[str], default: str) -> Tuple[Encoder, str]:
    """Return the encoder an ``Accept`` header asks for and its media type.

    The first acceptable type in order of preference (``q``) wins; a missing header, ``*/*`` or
    ``application/*`` take ``default`` (SageMaker's ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT``).

    Parameters
    ----------
    accept : str or None
        The header, e.g. ``"application/jsonlines"``.
    default : str
        The media type for a missing or wildcard ``Accept``.

    Returns
    -------
    encoder : callable
        ``encoder(closest_cluster, distance_to_cluster)`` returns the body.
    media_type : str
        The answer's ``Content-Type``.

    Raises
    ------
    RequestError
        406 when nothing acceptable is served.
    """
    if not accept or accept.strip() in ("*/*", ""):
        return _ENCODERS[default], default
    choices = []
    for position, item in enumerate(accept.split(",")):
        media, params = _media(item)
        try:
            quality = float(params.get("q", "1"))
        except ValueError:
            quality = 1.0
        if quality > 0:
            choices.append((-quality, position, media))
    for _, _, media in sorted(choices):
        if media in _ENCODERS:
            return _ENCODERS[media], media
        if media in ("*/*", "application/*") or (media == "text/*" and default == CSV):
            return _ENCODERS[default], default
        if media == "text/*":
            return _ENCODERS[CSV], CSV
    raise RequestError(406, f"unsupported Accept {accept!r}: ask for one of {', '.join(CONTENT_TYPES)}")
