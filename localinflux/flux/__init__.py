"""Flux query engine of the local InfluxDB-compatible server.

``handle_query(body, content_type, ctx)`` is the one entry point the HTTP layer calls for
``POST /api/v2/query``: it decodes the request, parses and evaluates the Flux against
``ctx.reader`` and returns annotated CSV or a JSON error (see ``localinflux/model.py``).

Pipeline: ``request`` (JSON / raw body, dialect, ``extern`` params) → ``lexer``/``parser``
(syntax tree with positions) → ``interpreter`` (values, closures, lazy table streams built by
``builtins``, reads planned by ``plan``) → ``csvout`` (annotated CSV as Flux's encoder writes it).

Implemented: from, range, filter, first, last, limit, sort, group, keep, drop, rename, pivot,
aggregateWindow (count/sum/mean/min/max/first/last), count, sum, mean, min, max, distinct, yield,
now, and schema.tagValues / fieldKeys / measurements / measurementTagValues /
measurementFieldKeys, and the ``profiler`` package's ``_profiler`` result (``profiler.py``). The
full list is the table in ``builtins/__init__.py``. Any other Flux function or package is
refused with a 400 "... is not supported by this server" rather than answered approximately.
"""

from __future__ import annotations

import logging
import time

from localinflux import gojson
from localinflux.model import QueryContext, QueryResponse

from . import profiler
from .builtins import PACKAGES, UNIVERSE
from .csvout import encode
from .errors import FluxError
from .interpreter import Interpreter
from .parser import parse
from .request import decode_request

__all__ = ["handle_query"]

log = logging.getLogger(__name__)

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
JSON_CONTENT_TYPE = "application/json; charset=utf-8"


def error_response(status: int, code: str, message: str) -> QueryResponse:
    # InfluxDB writes query errors with json.Marshal: compact, HTML-escaped, no newline after.
    body = gojson.dumps({"code": code, "message": message}, indent=False).rstrip(b"\n")
    return QueryResponse(status, JSON_CONTENT_TYPE, body, error_code=code)


def handle_query(body: bytes, content_type: str, ctx: QueryContext) -> QueryResponse:
    started = time.perf_counter_ns()
    token = None
    interp = None
    try:
        request = decode_request(body, content_type)
        program = parse(request.query)
        parsed = time.perf_counter_ns()
        now_ns = request.now_ns if request.now_ns is not None else ctx.now_ns
        interp = Interpreter(ctx, now_ns, UNIVERSE, PACKAGES)
        results = [(name, stream.tables) for name, stream in interp.run(program, request.extern)]
        profile = profiler.QueryProfile(interp.enabled_profilers(), started)
        if profile:
            profile.compile_ns = parsed - started
            profile.execute_started_ns = time.perf_counter_ns()
            profile.plan_ns = profile.execute_started_ns - parsed
            profile.steps = interp.steps
            results.append(profile.result())
            token = profiler.timing_streams(profile)
        payload, rows = encode(results, request.dialect)
    except FluxError as exc:
        return error_response(exc.status, exc.code, exc.message)
    except RecursionError:
        return error_response(400, "invalid", "query is nested too deeply")
    except Exception as exc:  # a bug here must not take the server down with it
        log.exception("flux engine failed")
        return error_response(500, "internal error", f"flux engine failure: {exc}")
    finally:
        if token is not None:
            profiler.reset(token)
        if interp is not None:
            interp.release()
    ctx.rows_returned = rows - (profile.rows if profile else 0)
    return QueryResponse(200, CSV_CONTENT_TYPE, payload)
