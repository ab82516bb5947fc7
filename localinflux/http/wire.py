"""What a handler receives and returns: ``Request``, ``Response``, ``HttpError``.

Handlers take a ``Request`` and return a ``Response`` or raise ``HttpError``; the socket server
turns an ``HttpError`` into InfluxDB's error body (``{"code", "message"}``) with the status its
code maps to and the ``X-Platform-Error-Code`` header.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from localinflux import gojson
from localinflux.faults import RequestRecord
from localinflux.registry import Authorization

VERSION = "v2.7.11"
COMMIT = "8b3a1a7ad6"
JSON_TYPE = "application/json; charset=utf-8"
BASE_HEADERS = (("X-Influxdb-Build", "OSS"), ("X-Influxdb-Version", VERSION))

# InfluxDB's error codes (``kit/platform/errors``) and the HTTP status each one is sent with.
CODE_STATUS = {
    "invalid": 400,
    "empty value": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not found": 404,
    "method not allowed": 405,
    "request too large": 413,
    "conflict": 422,
    "unprocessable entity": 422,
    "too many requests": 429,
    "internal error": 500,
    "not implemented": 501,
    "unavailable": 503,
}


def code_for_status(status: int) -> str:
    for code, value in CODE_STATUS.items():
        if value == status:
            return code
    return "internal error"


class HttpError(Exception):
    """An error answer: ``code`` is InfluxDB's error code, ``indent`` its JSON layout."""

    def __init__(self, code: str, message: str, *, indent: bool = False, status: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or CODE_STATUS[code]
        self.indent = indent


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = JSON_TYPE
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Request:
    method: str
    path: str
    query: str
    params: dict[str, str]
    headers: object
    body: bytes
    auth: Authorization | None = None
    record: RequestRecord | None = None


def json_response(status: int, obj, *, indent: bool = True) -> Response:
    return Response(status, gojson.dumps(obj, indent=indent))


def error_response(status: int, code: str, message: str, *, indent: bool = False) -> Response:
    return Response(
        status,
        gojson.error_body(code, message, indent=indent),
        headers=[("X-Platform-Error-Code", code)],
    )


def body_json(req: Request, *, indent: bool = True) -> dict:
    """The request body as a JSON object, or InfluxDB's 400 ``failed to decode request body``."""
    try:
        data = json.loads(req.body or b"{}")
    except (ValueError, RecursionError) as exc:
        raise HttpError("invalid", f"failed to decode request body: {exc}", indent=indent) from exc
    if not isinstance(data, dict):
        raise HttpError("invalid", "failed to decode request body", indent=indent)
    return data
