"""When a device's token was last rotated: stored in the registry point, shown on its pages."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

from devices import influx as svc


def registry_fields(env, device_id: str) -> dict[str, object]:
    query = (
        f'from(bucket: "{env.bucket_auth}") |> range(start: 0)'
        f' |> filter(fn: (r) => r._measurement == "deviceauth" and r.deviceId == "{device_id}")'
        " |> last()"
    )
    tables = env.client.query_api().query(query, org=env.org)
    return {r.get_field(): r.get_value() for t in tables for r in t.records}


def test_rotating_records_when_and_the_pages_show_it(staff_client, influx):
    created = svc.register_device("rot-at")
    assert svc.get_device("rot-at").rotated_at is None
    page = html.unescape(staff_client.get("/devices/rot-at/").content.decode())
    assert "Token last rotated" in page
    assert "never" in page.split("Token last rotated", 1)[1][:200]

    before = datetime.now(UTC) - timedelta(seconds=1)
    rotated = svc.rotate_token("rot-at")
    device = svc.get_device("rot-at")
    assert before <= device.rotated_at <= datetime.now(UTC) + timedelta(seconds=1)
    assert device.created_at == svc.get_device("rot-at").created_at
    assert svc.device_view("rot-at").device.rotated_at == device.rotated_at
    for url in ("/devices/rot-at/", "/admin/devices/rot-at/"):
        page = html.unescape(staff_client.get(url).content.decode())
        shown = page.split("Token last rotated", 1)[1][:300]
        assert device.rotated_at.strftime("%Y-%m-%d %H:%M") in shown, url

    # The reference apps' data model is kept: key, token, createdAt, plus rotatedAt.
    fields = registry_fields(influx, "rot-at")
    assert fields["key"] == rotated.key != created.key
    assert fields["token"] == rotated.token
    assert fields["createdAt"]
    assert fields["rotatedAt"]


def test_a_device_registered_again_after_removal_was_never_rotated(influx):
    svc.register_device("again")
    svc.rotate_token("again")
    svc.remove_device("again")
    svc.register_device("again")
    assert svc.get_device("again").rotated_at is None
