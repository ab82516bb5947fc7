"""``count()`` fused into the read (``plan/counted.py``): the overview's points of the last hour
over thousands of series. Same answers as the unfused path (each series' table, then its count
table, then ``keep``/``group`` table by table), on both paths of the ``flux`` fixture (the engine
on an in-memory reader, and the real server in this process)."""

import pytest

from localinflux.flux import plan
from tests.localinflux.flux_fakes import NS, run
from tests.localinflux.test_flux_plan import (
    ENV,
    FLEET,
    NOW,
    REG,
    SLOW,
    T0,
    fleet_reader,
)

# From the second minute on: deviceauth series then hold a point only for removed devices (the
# empty key), the others have none in the range and give no table.
LATE = f'from(bucket: "iot") |> range(start: {T0 // NS + 90})'
OWNER = "if exists r.clientId then r.clientId else r.device"

PIPELINES = [
    (ENV, " |> count()"),
    (LATE, " |> count()"),
    (REG, ' |> filter(fn: (r) => r._field == "key") |> count()'),
    # A filter on values before the count: only matching points count.
    (ENV, " |> filter(fn: (r) => r._value > 30.0) |> count()"),
    (LATE, ' |> filter(fn: (r) => r._measurement == "nothing") |> count()'),
    # The overview's hour (devices/queries/fleet.py): keep, group() and regrouping after it.
    (
        ENV,
        ' |> count() |> keep(columns: ["_value", "_field", "device", "clientId"]) |> group()'
        f" |> map(fn: (r) => ({{owner: {OWNER}, _field: r._field, _value: r._value}}))"
        ' |> group(columns: ["owner", "_field"]) |> sum() |> group(columns: ["owner"]) |> max()'
        " |> group() |> sum()",
    ),
    # Series with and without a tag in one group: the column is null where the tag is missing.
    (ENV, ' |> count() |> keep(columns: ["_value", "device", "site"]) |> group()'),
    (ENV, ' |> count() |> group(columns: ["site"])'),
    (LATE, ' |> count() |> group(columns: ["_measurement", "_field"])'),
    (ENV, ' |> count() |> group(columns: ["_start", "_stop", "device"], mode: "except")'),
    (ENV, ' |> count() |> drop(columns: ["_start", "_stop"]) |> group(columns: ["_field"])'),
    # Grouping by the count itself splits rows by value.
    (ENV, ' |> count() |> group(columns: ["_value"])'),
    (ENV, ' |> count() |> keep(columns: ["_value", "_field"]) |> group(columns: ["_value"])'),
    # Steps after the count that do not fuse, and counts that do not fuse.
    (ENV, SLOW + " |> count() |> group()"),
    (ENV, " |> count() |> filter(fn: (r) => r._value > 3)"),
    (ENV, ' |> count() |> group() |> count(column: "device")'),
    (ENV, ' |> count(column: "_time")'),
    (ENV, ' |> count(column: "nope")'),
]


@pytest.mark.parametrize(("source", "pipeline"), PIPELINES)
def test_fused_counts_return_what_the_unfused_count_returns(flux, source, pipeline, monkeypatch):
    flux.load(FLEET)
    fast = flux.request(source + pipeline, now="2024-01-02T00:00:00Z")
    with monkeypatch.context() as m:
        m.setattr(plan, "with_count", lambda source, column: None)
        slow = flux.request(source + pipeline, now="2024-01-02T00:00:00Z")
    assert fast.status == slow.status
    assert fast.body == slow.body
    if fast.status == 200 and "nothing" not in pipeline:
        assert fast.body.count(b"\r\n") > 3  # the comparison is about real rows


def test_a_count_is_the_number_of_points_in_the_range_of_each_series():
    reader = fleet_reader()
    # dev-000's Temperature holds points at T0 .. T0+3min; from T0+90s on, two of them count.
    response, ctx = run(
        reader,
        LATE + ' |> filter(fn: (r) => r.device == "dev-000" and r._field == "Temperature")'
        " |> count()",
        now_ns=NOW,
    )
    assert response.status == 200, response.body
    lines = response.body.decode().split("\r\n")
    assert lines[3] == ",result,table,_start,_stop,_value,_field,_measurement,device,site"
    assert lines[4].split(",")[5:] == ["2", "Temperature", "environment", "dev-000", "s0"]
    assert ctx.series_read == 1


def test_unbounded_count_is_still_the_planner_error():
    reader = fleet_reader()
    response, _ = run(reader, 'from(bucket: "iot") |> count()', now_ns=NOW)
    assert response.status == 400
    assert b"unbounded read" in response.body
