"""The fleet overview at ``/``: online, silent, never seen, points of the last hour, the most
recently active devices and the ones that just went silent, at a constant query cost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.devices.influx.points import write_lines


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def register(env, ids):
    created = "2026-01-01T00:00:00Z"
    lines = [
        f'deviceauth,deviceId={d} key="k{i}",token="t{i}",createdAt="{created}"'
        for i, d in enumerate(ids)
    ]
    write_lines(env, lines, env.bucket_auth)


def point(device_id, minutes_ago, **fields):
    values = ",".join(f"{k}={v}" for k, v in fields.items())
    return f"environment,device={device_id} {values} {int((now() - timedelta(minutes=minutes_ago)).timestamp())}"  # noqa: E501


def test_the_overview_counts_online_silent_and_never_seen_devices(staff_client, influx, settings):
    settings.FLEET_ONLINE_MINUTES = 5
    register(influx, ["live-1", "live-2", "gone-1", "never-1"])
    write_lines(
        influx,
        [
            point("live-1", 1, Temperature=21.5, Humidity=40),
            point("live-1", 2, Temperature=21.4, Humidity=41),
            point("live-2", 3, CO2=800),
            point("gone-1", 90, Temperature=19.0),
            point("unregistered", 1, Temperature=5.0),
        ],
    )
    response = staff_client.get("/")
    assert response.status_code == 200
    fleet = response.context["fleet"]
    assert (fleet.registered, fleet.online, fleet.silent, fleet.never_seen) == (4, 2, 1, 1)
    assert fleet.points_last_hour == 3
    assert [d.device_id for d in fleet.active] == ["live-1", "live-2"]
    assert [d.device_id for d in fleet.went_silent] == ["gone-1"]
    page = response.content.decode()
    assert "21.50" in page  # live-1's latest Temperature
    assert 'href="/devices/live-1/dashboard/"' in page
    assert "unregistered" not in page


def test_the_online_window_is_a_setting(staff_client, influx, settings):
    register(influx, ["slow-1"])
    write_lines(influx, [point("slow-1", 20, Temperature=1.0)])
    settings.FLEET_ONLINE_MINUTES = 5
    assert staff_client.get("/").context["fleet"].online == 0
    settings.FLEET_ONLINE_MINUTES = 30
    assert staff_client.get("/").context["fleet"].online == 1


def test_an_empty_fleet_says_what_to_do(staff_client, influx):
    page = staff_client.get("/").content.decode()
    assert "manage.py simulate" in page


@pytest.mark.localonly
def test_the_overview_costs_the_same_queries_for_10_and_200_devices(staff_client, local_influx):
    stats = local_influx.local.stats

    def fleet_of(first, count):
        ids = [f"dev-{i:04d}" for i in range(first, first + count)]
        register(local_influx, ids)
        write_lines(local_influx, [point(d, 1, Temperature=20) for d in ids])

    def cost():
        stats.wait_idle()
        stats.reset()
        response = staff_client.get("/")
        stats.wait_idle()
        return stats.queries, response.context["fleet"]

    fleet_of(0, 10)
    small, fleet = cost()
    assert fleet.online == 10
    fleet_of(10, 190)
    large, fleet = cost()
    assert fleet.online == 200
    assert len(fleet.active) == 10  # the page lists a bounded number
    assert small == large == 2
