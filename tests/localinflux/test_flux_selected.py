"""``first()``/``last()`` then ``group()`` fused into the read (``plan/selected.py``): the
registry's list of ids at 100,000 devices. Same answers as table-by-table evaluation, on both
paths of the ``flux`` fixture (an in-memory reader without bulk reads, and the real server's
storage, which hands over all selected points under one lock)."""

import pytest

from tests.localinflux.flux_fakes import client_tables, run
from tests.localinflux.test_flux_plan import (
    ENV,
    FLEET,
    NOW,
    REG,
    device,
    fleet_reader,
    query,
    same_as_table_by_table,
)

PIPELINES = [
    # The registry's live ids (devices/queries/registry.py): removed devices have key "".
    (
        REG,
        ' |> filter(fn: (r) => r._field == "key") |> last()'
        ' |> filter(fn: (r) => r._value != "") |> keep(columns: ["deviceId"]) |> group()',
    ),
    (REG, ' |> last() |> keep(columns: ["_time", "_value", "_field", "deviceId"]) |> group()'),
    (REG, ' |> first() |> filter(fn: (r) => r._field != "token") |> group(columns: ["_field"])'),
    # Filters after the selector on tags and times, several of them.
    (
        ENV,
        " |> last() |> filter(fn: (r) => exists r.site) |> filter(fn: (r) => r._value > 30.0)"
        ' |> group(columns: ["site"])',
    ),
    (ENV, ' |> last() |> filter(fn: (r) => r._time > r._start) |> group(columns: ["_field"])'),
    # Series with and without a tag in one group: the column is null where the tag is missing.
    (ENV, ' |> first() |> keep(columns: ["_value", "device", "site"]) |> group()'),
    (ENV, ' |> last() |> group(columns: ["_start", "_stop"], mode: "except")'),
    (ENV, ' |> last() |> drop(columns: ["_start"]) |> group(columns: ["device", "site"])'),
]


@pytest.mark.parametrize(("source", "pipeline"), PIPELINES)
def test_selected_and_grouped_reads_return_what_table_by_table_evaluation_returns(
    flux, source, pipeline
):
    flux.load(FLEET)
    body = same_as_table_by_table(flux, source, pipeline)
    assert body.count(b"\r\n") > 5  # the comparison is about real rows


def test_searching_the_id_list_reads_only_the_key_series():
    reader = fleet_reader()
    ids = (
        REG + ' |> filter(fn: (r) => r._field == "key") |> last()'
        ' |> filter(fn: (r) => r._value != "") |> keep(columns: ["deviceId"]) |> group()'
        ' |> distinct(column: "deviceId")'
    )
    response, ctx = query(
        reader,
        'import "strings"\n' + ids + " |> filter(fn: (r) =>"
        ' strings.containsStr(v: strings.toLower(v: r._value), substr: "v-01"))',
    )
    assert ctx.series_read == 200
    [table] = client_tables(response.body)
    assert [r["_value"] for r in table.records] == [device(n) for n in range(10, 20)]
    response, _ = run(reader, ids + " |> count()", now_ns=NOW)
    [table] = client_tables(response.body)
    assert [r["_value"] for r in table.records] == [150]
