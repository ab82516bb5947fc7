"""A device's CSV download: windowed and raw contents, ranges, the row cap, CSV injection,
the filename, queries per download, who may download, InfluxDB failing."""

from __future__ import annotations

import contextlib
import csv
import io
import socket
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from devices import influx as svc
from devices.influx import export
from tests.devices.influx.points import write_lines


def body(response) -> str:
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content).decode()


def rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body(response))))


def ten_minutes_ago() -> datetime:
    # Whole minutes, so that each 1-minute window holds one point.
    return datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)


# Read again for each test (``_base``): taken when the module is imported, it was as old as
# the suite's run before this file, and its points fell out of the "1h" range after 50 minutes.
BASE = ten_minutes_ago()


@pytest.fixture(autouse=True)
def _base():
    global BASE
    BASE = ten_minutes_ago()


def at(minute: int) -> datetime:
    return BASE + timedelta(minutes=minute)


def ts(minute: int) -> int:
    return int(at(minute).timestamp())


def iso(minute: int) -> str:
    return at(minute).strftime("%Y-%m-%dT%H:%M:%SZ")


TAGS = "environment,clientId=rover,device=rover"


@pytest.fixture
def rover(user_client, influx):
    svc.register_device("rover")
    write_lines(
        influx,
        [
            f"{TAGS} Temperature=21.5,Humidity=40 {ts(1)}",
            f'{TAGS} Temperature=-3.25,note="=HYPERLINK(1)" {ts(2)}',
            f'{TAGS} Humidity=41.5,note="+plain, \\"text\\"",@f="@SUM(A1)" {ts(3)}',
            # Another device's point, and one of a board named "rover" owned by another client.
            f"environment,device=other Temperature=99 {ts(2)}",
            f"environment,clientId=esp-7,device=rover Temperature=98 {ts(2)}",
        ],
    )
    return user_client


def get_csv(client, **params):
    return client.get("/devices/rover/telemetry.csv", params)


def test_raw_has_every_field_of_any_type_one_row_per_time(rover):
    assert rows(get_csv(rover, range="1h", mode="raw")) == [
        ["time", "Temperature", "Humidity", "'@f", "note"],
        [iso(1), "21.5", "40.0", "", ""],
        [iso(2), "-3.25", "", "", "'=HYPERLINK(1)"],
        [iso(3), "", "41.5", "'@SUM(A1)", '\'+plain, "text"'],
    ]


def test_text_is_quoted_and_escaped_numbers_stay_numbers(rover):
    text = body(get_csv(rover, range="1h", mode="raw"))
    lines = text.splitlines()
    assert lines[0] == '"time","Temperature","Humidity","\'@f","note"'
    # A negative number is a number, not a formula: unquoted, unescaped.
    assert lines[2] == f'"{iso(2)}",-3.25,"","","\'=HYPERLINK(1)"'
    assert "\n=" not in text
    assert ',"=' not in text
    assert ",=" not in text


def test_windowed_has_the_window_means_of_the_numeric_fields(rover):
    # The 1h preset charts 1-minute windows, each stamped with its end (as the charts are).
    assert rows(get_csv(rover, range="1h")) == [
        ["time", "Temperature", "Humidity"],
        [iso(2), "21.5", "40.0"],
        [iso(3), "-3.25", ""],
        [iso(4), "", "41.5"],
    ]


def test_windowed_means_match_the_dashboard(rover, influx):
    write_lines(influx, [f"{TAGS} Temperature=22.5 {ts(1) + 30}"])  # a second point in window 1
    table = rows(get_csv(rover, range="1h"))
    assert table[1] == [iso(2), "22.0", "40.0"]
    board = rover.get("/devices/rover/dashboard/", {"range": "1h"}).context["board"]
    chart = next(c for c in board.charts if c.field == "Temperature")
    assert next((p.time, p.value) for p in chart.points) == (at(2), 22.0)


def test_a_custom_range_gives_only_its_rows(rover):
    start, stop = at(2).strftime("%Y-%m-%dT%H:%M"), at(3).strftime("%Y-%m-%dT%H:%M")
    response = get_csv(rover, start=start, stop=stop, mode="raw")
    name = f"rover-{at(2):%Y%m%dT%H%M%SZ}-{at(3):%Y%m%dT%H%M%SZ}-raw.csv"
    assert response["Content-Disposition"] == f'attachment; filename="{name}"'
    assert [r[0] for r in rows(response)] == ["time", iso(2)]  # stop is exclusive


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start": "2026-11-02T00:00", "stop": "2026-11-01T00:00"}, "The stop must be after"),
        ({"start": "yesterday", "stop": "2026-11-01T00:00"}, "Not a date and time"),
        ({"start": "2026-11-01T00:00"}, "Give both a start and a stop"),
        ({"start": "1971-01-01T00:00", "stop": "2026-11-01T00:00"}, "at most 10 years"),
        ({"range": "2y"}, "Unknown range '2y': use one of 5m, 15m"),
        ({"range": "1h", "mode": "xlsx"}, "Unknown mode 'xlsx'"),
    ],
)
def test_a_bad_range_or_mode_is_a_400_that_says_why(rover, influx, params, message):
    response = get_csv(rover, **params)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert response["Content-Type"].startswith("text/plain")


def test_the_row_cap_ends_the_file_with_a_line_saying_so(rover, settings):
    settings.EXPORT_MAX_ROWS = 2
    response = get_csv(rover, range="1h", mode="raw")
    assert response["X-Row-Cap"] == "2"
    table = rows(response)
    assert [r[0] for r in table[1:3]] == [iso(1), iso(2)]
    assert table[3] == [
        "# row cap reached: the file stops at 2 rows (at most 2 per download); "
        "narrow the range for the rest"
    ]
    assert len(table) == 4


def test_a_file_exactly_at_the_cap_is_complete(rover, settings):
    settings.EXPORT_MAX_ROWS = 3
    table = rows(get_csv(rover, range="1h", mode="raw"))
    assert len(table) == 4
    assert not table[-1][0].startswith("#")


def test_the_link_states_the_cap(rover, settings):
    settings.EXPORT_MAX_ROWS = 1234
    page = rover.get("/devices/rover/dashboard/", {"range": "1h"}).content.decode()
    assert 'href="/devices/rover/telemetry.csv?range=1h&amp;mode=windowed"' in page
    assert 'href="/devices/rover/telemetry.csv?range=1h&amp;mode=raw"' in page
    assert "at most 1,234 rows per file" in page
    detail = rover.get("/devices/rover/", {"range": "6h"}).content.decode()
    assert "/devices/rover/telemetry.csv?range=6h&amp;mode=raw" in detail


def test_a_custom_range_link_carries_its_start_and_stop(rover):
    start, stop = at(0).strftime("%Y-%m-%dT%H:%M"), at(5).strftime("%Y-%m-%dT%H:%M")
    page = rover.get("/devices/rover/dashboard/", {"start": start, "stop": stop}).content.decode()
    link = f"/devices/rover/telemetry.csv?start={at(0):%Y-%m-%dT%H%%3A%M%%3A%S}%2B00%3A00"
    assert link in page


def test_ids_with_a_colon_give_a_safe_filename(user_client, influx):
    svc.register_device("lab:rover.1")
    response = user_client.get("/devices/lab:rover.1/telemetry.csv", {"range": "1h"})
    assert response["Content-Disposition"] == 'attachment; filename="lab_rover.1-1h.csv"'
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "no-store" in response["Cache-Control"]
    assert rows(response) == [["time"]]  # no telemetry: the header alone


@pytest.mark.localonly
def test_a_download_costs_two_queries_whatever_its_size(rover, local_influx):
    stats = local_influx.local.stats
    write_lines(local_influx, [f"{TAGS} Temperature={m} {ts(-m)}" for m in range(1, 600)])
    for params in ({"range": "1h", "mode": "raw"}, {"range": "30d"}, {"range": "5m"}):
        stats.wait_idle()
        stats.reset()
        body(get_csv(rover, **params))
        stats.wait_idle()
        # The device with its latest values (as a device page reads it), then the rows.
        assert stats.queries == 2, params


def test_viewers_may_download_anonymous_users_log_in_first(rover, client):
    assert get_csv(rover, range="1h").status_code == 200
    client.logout()
    response = client.get("/devices/rover/telemetry.csv", {"range": "1h"})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_an_unknown_device_is_a_404(rover):
    assert rover.get("/devices/ghost/telemetry.csv").status_code == 404
    assert rover.get("/devices/bad%20id/telemetry.csv").status_code == 404


def test_post_is_not_allowed(rover):
    assert rover.post("/devices/rover/telemetry.csv").status_code == 405


@pytest.mark.localonly
def test_influxdb_down_before_the_rows_is_the_503_page(rover, local_influx):
    local_influx.local.faults.add(status=500, count=5, path="/api/v2/query")
    response = get_csv(rover, range="1h")
    assert response.status_code == 503
    assert "InfluxDB" in response.content.decode()


@pytest.mark.localonly
def test_influxdb_failing_after_the_device_read_is_the_503_page_too(
    rover, local_influx, monkeypatch
):
    real = export.device_view

    def then_influxdb_fails(device_id):
        view = real(device_id)
        local_influx.local.faults.add(status=500, count=5, path="/api/v2/query")
        return view

    monkeypatch.setattr(export, "device_view", then_influxdb_fails)
    response = get_csv(rover, range="1h", mode="raw")
    assert response.status_code == 503
    assert not response.streaming  # the error page, not a file pretending to be one


class CuttingProxy:
    """A TCP proxy to InfluxDB that closes the connection, mid-answer, at the first answer
    holding ``marker``: what a crash or a network failure halfway through a download does."""

    def __init__(self, upstream: str, marker: bytes):
        host, port = upstream.removeprefix("http://").split(":")
        self.upstream = (host, int(port))
        self.marker = marker
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.cut = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.upstream)
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._answers, args=(upstream, client), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)

    def _answers(self, upstream, client):
        # The marker may come split across two reads: a read ending with the marker's first
        # bytes holds them back until the next read (any other read is passed on whole, so an
        # answer, which ends with a line break, is never held).
        held = b""
        with contextlib.suppress(OSError):
            while data := upstream.recv(65536):
                data = held + data
                found = data.find(self.marker)
                if found >= 0:
                    client.sendall(data[:found])
                    self.cut.set()
                    break
                begun = next(
                    (
                        n
                        for n in range(len(self.marker) - 1, 0, -1)
                        if data.endswith(self.marker[:n])
                    ),
                    0,
                )
                client.sendall(data[: len(data) - begun])
                held = data[len(data) - begun :]
        for sock in (client, upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self):
        self.server.close()


def test_influxdb_failing_mid_download_ends_the_file_saying_so(rover, influx, settings):
    # Enough rows that the client has read some (it reads 64 KiB at a time) before the cut.
    write_lines(influx, [f"{TAGS} Temperature={m}.5 {ts(-m)}" for m in range(1, 3000)])
    write_lines(influx, [f"{TAGS} Temperature=777.25 {ts(-100) + 30}"])
    proxy = CuttingProxy(influx.url, b"777.25")
    settings.INFLUX_URL = proxy.url
    try:
        table = rows(get_csv(rover, range="3d", mode="raw"))
    finally:
        proxy.close()
    assert proxy.cut.is_set()
    assert table[0] == ["time", "Temperature", "Humidity", "'@f", "note"]
    last = table[-1][0]
    assert last.startswith(f"# incomplete: InfluxDB failed after {len(table) - 2} rows (")
    assert last.endswith("; download again")
    times = [r[0] for r in table[1:-1]]
    assert times == sorted(times)
    assert len(times) > 500
    assert times[-1] < iso(-100)  # the rows before the cut, nothing after it


@pytest.mark.localonly
def test_a_capped_download_reads_little_more_than_the_cap(user_client, local_influx, settings):
    svc.register_device("rover")
    write_lines(local_influx, [f"{TAGS} Temperature={m} {ts(-m)}" for m in range(1, 2000)])
    settings.EXPORT_MAX_ROWS = 50
    stats = local_influx.local.stats
    stats.wait_idle()
    stats.reset()
    table = rows(get_csv(user_client, range="3d", mode="raw"))
    stats.wait_idle()
    assert len(table) == 52  # header, 50 rows, the cap line
    # The device read (a row per field and the registry's), then the rows: 51 at most.
    assert stats.rows_returned <= 51 + 10


def test_no_data_says_how_to_get_some(staff_client, plain_user, influx):
    svc.register_device("quiet-1")
    for path in ("/devices/quiet-1/", "/devices/quiet-1/dashboard/"):
        page = staff_client.get(path).content.decode()
        assert "python manage.py simulate quiet-1</code> or <em>Write data now</em>" in page
        assert 'action="/devices/quiet-1/write-now/"' in page
        assert "telemetry.csv" not in page  # nothing to download yet
    viewer_client = Client()
    viewer_client.force_login(plain_user)
    viewer = viewer_client.get("/devices/quiet-1/dashboard/").content.decode()
    assert "python manage.py simulate quiet-1" in viewer
    assert "write-now" not in viewer


def test_staff_see_write_data_now_on_the_device_page_with_data_too(rover, staff_user):
    rover.force_login(staff_user)
    detail = rover.get("/devices/rover/").content.decode()
    assert 'action="/devices/rover/write-now/"' in detail
    dashboard = rover.get("/devices/rover/dashboard/").content.decode()
    assert "write-now" not in dashboard  # the dashboard offers it in its empty state only


def test_head_answers_the_headers_of_the_download(rover):
    response = rover.head("/devices/rover/telemetry.csv", {"range": "1h"})
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="rover-1h.csv"'
    response.close()  # what the server does after a HEAD: InfluxDB's answer is ended
    assert rows(get_csv(rover, range="1h"))[0] == ["time", "Temperature", "Humidity"]


def test_the_file_is_sent_in_pieces_as_influxdb_answers(user_client, influx):
    svc.register_device("rover")
    write_lines(influx, [f"{TAGS} Temperature={m} {ts(-m)}" for m in range(1, 1500)])
    response = get_csv(user_client, range="3d", mode="raw")
    assert response.streaming
    pieces = [piece.decode() for piece in response.streaming_content]
    # The header at once, then a piece per 500 rows: never the whole file in memory.
    assert pieces[0] == '"time","Temperature"\r\n'
    assert [p.count("\r\n") for p in pieces[1:]] == [500, 500, 499]


def test_windowed_means_of_huge_values_stay_numbers(user_client, influx):
    """A hostile device's largest floats, in two series of one window: their mean, not inf."""
    svc.register_device("rover")
    write_lines(
        influx,
        [
            f"{TAGS} Temperature=1.7e308 {ts(1)}",
            f"environment,clientId=rover,device=esp Temperature=1.7e308 {ts(1)}",
        ],
    )
    assert rows(get_csv(user_client, range="1h"))[1:] == [[iso(2), "1.7e+308"]]  # window end
