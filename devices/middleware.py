"""Turns the service's exceptions into clear pages with the right status, never a traceback."""

from __future__ import annotations

import logging

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from . import influx, token_stash

log = logging.getLogger(__name__)

# The JSON API's error bodies when the response came from Django itself (405 from a method
# decorator, 403 from CSRF, 400 from a suspicious request, 500 from a bug...).
_API_ERRORS = {
    400: ("bad request", "The request could not be understood."),
    401: ("unauthorized", "Log in first (session required)."),
    403: ("forbidden", "Not allowed."),
    404: ("not found", "No such API endpoint."),
    405: ("method not allowed", "This endpoint does not answer that method."),
    429: ("too many requests", "Too many requests; try again later."),
    500: ("internal error", "The server failed; the error is logged."),
    503: ("unavailable", "The service is unavailable; try again later."),
}
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


def wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") or request.path.rstrip("/") == "/healthz"


class JsonErrorsMiddleware:
    """Every error under /api/ (and /healthz) answers JSON ``{"code", "message"}``: scripts
    parse the body, and an HTML error page there would be read as a broken API."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code < 400 or not wants_json(request):
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        code, message = _API_ERRORS.get(
            response.status_code, ("error", f"HTTP {response.status_code}.")
        )
        body = JsonResponse({"code": code, "message": message}, status=response.status_code)
        for header in _KEPT_HEADERS:
            if header in response:
                body[header] = response[header]
        return body


class TokenStashSweepMiddleware:
    """Any request of any client deletes the device tokens nobody picked up in time."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            token_stash.sweep()
        except DatabaseError as exc:
            # The page may not need the database (/healthz); the next request sweeps again.
            log.warning("Could not sweep unclaimed device tokens: %s", exc)
        return self.get_response(request)


class InfluxErrorMiddleware:
    """Also gives each request its InfluxDB time budget: INFLUX_TIMEOUT for the whole page, so a
    page of several reads against a slow InfluxDB still answers (503) within the timeout."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with influx.page_deadline():
            return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception):
        if isinstance(exception, influx.DeviceBusy):
            # Not an outage: another change of the device holds its lock; nothing was changed.
            log.info("Device busy for %s: %s", request.path, exception.reason)
            return self._error(request, 409, "conflict", exception.reason, retry_after=5)
        if isinstance(exception, influx.InfluxUnavailable):
            # The reason may name a host or a timeout, never a token; the page shows the URL only.
            log.warning("InfluxDB unavailable for %s: %s", request.path, exception.reason)
            message = f"InfluxDB unavailable at {exception.url}"
            return self._error(request, 503, "unavailable", message, retry_after=10)
        if isinstance(exception, influx.InfluxMisconfigured):
            log.error("InfluxDB misconfigured: %s", exception)
            return self._error(request, 503, "misconfigured", str(exception))
        if isinstance(exception, influx.DeviceNotFound):
            return self._error(request, 404, "not found", "No such device.")
        if isinstance(exception, influx.InvalidDeviceId):
            # Not echoed back: the id may be an injection attempt; the rules are what helps.
            message = "Not a valid device id (1 to 64 of letters, digits, _ - . :)."
            return self._error(request, 404, "not found", message)
        return None

    def _error(
        self,
        request: HttpRequest,
        status: int,
        code: str,
        message: str,
        *,
        retry_after: int | None = None,
    ) -> HttpResponse:
        if wants_json(request):
            response = JsonResponse({"code": code, "message": message}, status=status)
        else:
            template = {404: "404.html", 409: "409.html"}.get(status, "503.html")
            response = render(request, template, {"message": message}, status=status)
        if retry_after:
            response["Retry-After"] = str(retry_after)
        return response
