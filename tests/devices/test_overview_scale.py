"""The fleet overview at scale: InfluxDB counts, so the overview costs the same two queries and a
number of rows bounded by the devices it shows at 10 or 1,000 devices; sparklines of the active
devices come in the second query, drawn as inline SVG with a text alternative."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.devices.influx.points import write_lines
from tests.devices.test_views_overview import now, point, register


def cost(client, stats):
    stats.wait_idle()
    stats.reset()
    response = client.get("/")
    stats.wait_idle()
    return stats.queries, stats.rows_returned, response.context["fleet"]


@pytest.mark.localonly
def test_the_overview_costs_two_queries_and_bounded_rows_at_10_and_1000_devices(
    staff_client, local_influx, settings
):
    settings.FLEET_ONLINE_MINUTES = 5
    stats = local_influx.local.stats

    def fleet_of(first, count, minutes_ago):
        ids = [f"dev-{i:04d}" for i in range(first, first + count)]
        register(local_influx, ids)
        write_lines(
            local_influx, [point(d, minutes_ago, Temperature=20 + i % 3) for i, d in enumerate(ids)]
        )

    fleet_of(0, 8, 1)
    fleet_of(8, 2, 30)
    small_q, small_rows, small = cost(staff_client, stats)
    assert (small.registered, small.online, small.silent, small.never_seen) == (10, 8, 2, 0)
    fleet_of(10, 700, 2)
    fleet_of(710, 200, 40)
    register(local_influx, [f"new-{i:03d}" for i in range(90)])  # never seen
    large_q, large_rows, large = cost(staff_client, stats)
    assert (large.registered, large.online, large.silent, large.never_seen) == (1000, 708, 202, 90)
    assert large.points_last_hour == 1000 - 90
    assert (len(large.active), len(large.went_silent)) == (10, 10)
    assert small_q == large_q == 2
    # 4 counts, <= 10 active + 10 silent rows; per active device one latest value, one hour
    # count and one sparkline window of its one field.
    bound = 4 + 10 + 10 + 10 * (1 + 1 + 1)
    assert small_rows <= bound
    assert large_rows <= bound


def test_active_devices_get_a_sparkline_with_a_text_alternative(staff_client, influx, settings):
    settings.FLEET_ONLINE_MINUTES = 5
    register(influx, ["spark-1"])
    write_lines(
        influx, [point("spark-1", m, Temperature=10 + m, Humidity=50) for m in range(1, 50, 4)]
    )
    response = staff_client.get("/")
    [device] = response.context["fleet"].active
    assert device.spark_field == "Temperature"  # the first key field
    assert len(device.spark) >= 10
    assert device.spark[0][1] > device.spark[-1][1]  # it was warmer an hour ago
    page = response.content.decode()
    assert '<svg class="spark" viewBox="0 0 100 24"' in page
    assert f'points="{device.spark_points}"' in page
    assert "<title>Temperature, last hour: 11.00 to 59.00 °C</title>" in page
    assert "style=" not in page.split('<svg class="spark"')[1].split("</svg>")[0]


def test_only_registered_devices_count_whichever_tag_names_them(staff_client, influx, settings):
    settings.FLEET_ONLINE_MINUTES = 5
    register(influx, ["v2-1", "both-1", "gone-1"])
    stamp = int((now() - timedelta(minutes=1)).timestamp())
    write_lines(
        influx,
        [
            # iot-center-v2: clientId names the device, device names the board type.
            f"environment,clientId=v2-1,device=ESP8266 Temperature=1 {stamp}",
            f"environment,clientId=both-1,device=both-1 Temperature=2 {stamp}",
            f"environment,clientId=stranger,device=ESP8266 Temperature=3 {stamp}",
            point("ESP8266", 1, Temperature=4),  # a board-type name is not a registered id
            point("gone-1", 2, Temperature=5),
        ],
    )
    # gone-1 is removed: its telemetry stays but no longer counts.
    write_lines(influx, ['deviceauth,deviceId=gone-1 key="",token=""'], influx.bucket_auth)
    fleet = staff_client.get("/").context["fleet"]
    assert (fleet.registered, fleet.online, fleet.silent, fleet.never_seen) == (2, 2, 0, 0)
    # Same newest time: ties go by id, descending (as newest-first by (time, id)).
    assert [d.device_id for d in fleet.active] == ["v2-1", "both-1"]
    assert fleet.points_last_hour == 2


@pytest.mark.localonly
def test_the_live_numbers_cost_one_query_and_a_few_rows_at_any_size(
    staff_client, local_influx, settings
):
    settings.FLEET_ONLINE_MINUTES = 5
    stats = local_influx.local.stats

    def numbers():
        stats.wait_idle()
        stats.reset()
        response = staff_client.get("/overview/data")
        stats.wait_idle()
        assert response.status_code == 200
        assert "no-cache" in response["Cache-Control"]
        return stats.queries, stats.rows_returned, response.json()["stats"]

    register(local_influx, ["a-1", "a-2"])
    write_lines(local_influx, [point("a-1", 1, Temperature=1)])
    small = numbers()
    ids = [f"dev-{i:04d}" for i in range(1000)]
    register(local_influx, ids)
    write_lines(local_influx, [point(d, 30, Temperature=1) for d in ids[:600]])
    large = numbers()
    assert small[2] == {"registered": 2, "online": 1, "silent": 0, "never": 1, "points": 1}
    assert large[2] == {"registered": 1002, "online": 1, "silent": 600, "never": 401, "points": 601}
    assert small[0] == large[0] == 1
    assert large[1] <= 4 + 10 + 10  # the counts and at most 10 active and 10 silent devices
