"""``/api/v2/setup``: onboarding (the first user, org, bucket and operator token)."""

from __future__ import annotations

from localinflux.http.godecode import ONBOARDING, decode
from localinflux.http.handlers.common import check_retention
from localinflux.http.shapes import auth_json, bucket_json, org_json, user_json
from localinflux.http.wire import HttpError, Request, Response, json_response


def setup_allowed(app, req: Request) -> Response:
    return json_response(200, {"allowed": not app.reg.onboarded()})


def setup(app, req: Request) -> Response:
    # InfluxDB 2.7 decodes first and hands the decoder's error on bare (a 500), then checks.
    data = decode(req, ONBOARDING, prefix=None)
    if app.reg.onboarded():
        raise HttpError("conflict", "onboarding has already been completed", indent=True)
    username = data.get("username") or ""
    org = data.get("org") or ""
    bucket = data.get("bucket") or ""
    missing = [n for n, v in (("username", username), ("org", org), ("bucket", bucket)) if not v]
    if missing:
        raise HttpError(
            "unprocessable entity",
            f"onboarding failed: missing required fields [{','.join(missing)}]",
            indent=True,
        )
    password = data.get("password") or ""
    if password and not 8 <= len(password) <= 72:
        raise HttpError(
            "invalid", "passwords must be between 8 and 72 characters long", indent=True
        )
    seconds = data.get("retentionPeriodSeconds")
    if seconds is None and data.get("retentionPeriodHrs") is not None:
        seconds = data["retentionPeriodHrs"] * 3600
    seconds = seconds or 0
    check_retention(seconds)
    token = data.get("token") or None
    with app.setup_lock:
        if app.reg.onboarded():
            raise HttpError("conflict", "onboarding has already been completed", indent=True)
        user, org_obj, bucket_obj, auth = app.engine.onboard(
            username=username, org=org, bucket=bucket, retention_seconds=seconds, token=token
        )
    return json_response(
        201,
        {
            "user": user_json(user),
            "org": org_json(org_obj),
            "bucket": bucket_json(bucket_obj),
            "auth": auth_json(app.reg, auth),
        },
    )
