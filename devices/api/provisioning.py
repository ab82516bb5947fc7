"""Device bootstrap: a per-device provisioning URL for iot-center-v2's clients.

Those clients fetch ``GET <IOT_CENTER_URL>/api/env/<device id>``. IoT Center gives each device,
when it is registered or its token rotated, the URL ``<site>/api/provision/<secret>``: set as
``IOT_CENTER_URL`` unchanged, the client's request lands on
``/api/provision/<secret>/api/env/<id>``, which answers the device's configuration in the
client's JSON shape. Unknown id, wrong, expired or revoked secret: 404, and nothing registered.

The secret is an HMAC (with ``SECRET_KEY``) of the device's token and a random salt kept in the
grant: the token page can show it beside the token, once (the token itself is shown once), and
the database holds only its SHA-256. Whoever has the URL gets the device's token, which is what
it is for; it expires after ``PROVISIONING_TTL_HOURS`` (default 7 days), a rotation replaces it,
deleting the grant (admin) revokes it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from devices import influx
from devices.simulator import TRACK_CENTER

from .models import ProvisioningGrant

URL_PREFIX = "/api/provision/"
SECRET_CHARS = 43


def ttl() -> timedelta:
    return timedelta(hours=getattr(settings, "PROVISIONING_TTL_HOURS", 24 * 7))


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def derive_secret(grant_salt: str, creds: influx.DeviceCredentials) -> str:
    message = f"iot-center provisioning\0{creds.device_id}\0{creds.token}\0{grant_salt}".encode()
    digest = hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()
    return digest[:SECRET_CHARS]


def issue(creds: influx.DeviceCredentials) -> ProvisioningGrant:
    """A new provisioning grant for a device's new token (register, rotate); the old one of
    the device, if any, stops working."""
    salt = secrets.token_hex(16)
    ProvisioningGrant.objects.filter(device_id=creds.device_id).delete()
    return ProvisioningGrant.objects.create(
        device_id=creds.device_id,
        salt=salt,
        secret_hash=_hash(derive_secret(salt, creds)),
        expires_at=timezone.now() + ttl(),
    )


def url_for(request: HttpRequest, creds: influx.DeviceCredentials) -> str:
    """The provisioning URL of freshly issued credentials ("" if their grant is gone)."""
    grant = ProvisioningGrant.objects.filter(device_id=creds.device_id).first()
    if grant is None or grant.expires_at <= timezone.now():
        return ""
    secret = derive_secret(grant.salt, creds)
    if not hmac.compare_digest(_hash(secret), grant.secret_hash):
        return ""  # the grant belongs to a newer token
    return request.build_absolute_uri(URL_PREFIX + secret)


def device_env(secret: str, device_id: str) -> dict | None:
    """iot-center-v2's device configuration, or None when the secret does not open it."""
    if not isinstance(secret, str) or len(secret) != SECRET_CHARS:
        return None
    grant = ProvisioningGrant.objects.filter(
        secret_hash=_hash(secret), device_id=device_id, expires_at__gt=timezone.now()
    ).first()
    if grant is None:
        return None
    try:
        creds = influx.device_credentials(device_id)
    except (influx.DeviceNotFound, influx.InvalidDeviceId):
        return None
    if not hmac.compare_digest(_hash(derive_secret(grant.salt, creds)), grant.secret_hash):
        return None  # the token was rotated since (by another tool): this URL is stale
    ProvisioningGrant.objects.filter(pk=grant.pk).update(last_used_at=timezone.now())
    lat, lon = TRACK_CENTER
    return {
        "id": device_id,
        "influx_url": creds.url,
        "influx_org": creds.org,
        "influx_token": creds.token,
        "influx_bucket": creds.bucket,
        "configuration_refresh": influx.CONFIG_REFRESH_S,
        "default_lat": lat,
        "default_lon": lon,
        "measurement_interval": influx.MEASUREMENT_INTERVAL_S,
    }
