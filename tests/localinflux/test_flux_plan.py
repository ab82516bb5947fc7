"""The engine's fast paths, by the work they do (series read, rows returned), never by time.

The fast paths (series index, ``last``/``first`` with ``filter``/``keep``/``drop``/``group``
fused into the read) must return exactly what the table-by-table paths return; the
equivalence tests below force the slow path with a filter that keeps everything. Those run on
both paths of the ``flux`` fixture: the engine on an in-memory reader, and a real server whose
own storage answers the fused reads. The work counters exist only engine-side.
"""

import gc
import weakref

import pytest

from localinflux.flux import series_index
from tests.localinflux.flux_fakes import (
    NS,
    FakeReader,
    FakeSeries,
    SeriesData,
    client_tables,
    run,
)

B = "0000000000000001"
T0 = 1704067200 * NS  # 2024-01-01T00:00:00Z
NOW = T0 + 86400 * NS
MIN = 60 * NS

SRC = 'from(bucket: "iot") |> range(start: 0)'
ENV = SRC + ' |> filter(fn: (r) => r._measurement == "environment")'
REG = SRC + ' |> filter(fn: (r) => r._measurement == "deviceauth")'
# Keeps every row but, as a filter that may keep empty tables, is not fused into the read:
# whatever follows it runs table by table.
SLOW = ' |> filter(fn: (r) => true, onEmpty: "keep")'


def device(n):
    return f"dev-{n:03d}"


def fleet() -> list[SeriesData]:
    data = []
    for n in range(200):
        tags = {"device": device(n)}
        if n % 3 == 0:
            tags["site"] = f"s{n % 2}"  # a tag only some series have
        for i, name in enumerate(("Temperature", "Humidity", "CO2")):
            data.append(
                ("environment", tags, name, [(T0 + p * MIN, 20.0 + n + i + p) for p in range(4)])
            )
        auth = {"deviceId": device(n)}
        data.append(("deviceauth", auth, "key", [(T0, f"k{n}")]))
        data.append(("deviceauth", auth, "createdAt", [(T0, "2024-01-01T00:00:00Z")]))
        data.append(("deviceauth", auth, "token", [(T0, f"t{n}")]))
    for n in range(150, 200):  # removed later: an empty key
        data.append(("deviceauth", {"deviceId": device(n)}, "key", [(T0 + MIN, "")]))
    return data


FLEET = fleet()


def fleet_reader() -> FakeReader:
    """An in-memory reader holding ``FLEET``."""
    r = FakeReader()
    for measurement, tags, field, points in FLEET:
        r.add(B, measurement, tags, field, points)
    return r


@pytest.fixture
def reader():
    return fleet_reader()


@pytest.fixture
def db(flux):
    flux.load(FLEET)
    return flux


def query(reader, flux):
    response, ctx = run(reader, flux, now_ns=NOW)
    assert response.status == 200, response.body
    return response, ctx


def same_as_table_by_table(flux, source: str, pipeline: str) -> bytes:
    """The body of ``source + pipeline``, answered 200 exactly as when ``SLOW`` before the
    pipeline makes it run table by table."""
    fast = flux.request(source + pipeline, now="2024-01-02T00:00:00Z")
    slow = flux.request(source + SLOW + pipeline, now="2024-01-02T00:00:00Z")
    assert fast.status == slow.status == 200
    assert fast.body == slow.body
    return fast.body


def test_a_page_of_devices_reads_only_the_series_of_those_devices(reader):
    page = "|".join(device(n) for n in (3, 4, 5, 170))
    response, ctx = query(
        reader,
        ENV + f" |> filter(fn: (r) => r.device =~ /^(?:{page})$/)"
        ' |> last() |> keep(columns: ["_time", "_field", "device"]) |> group()',
    )
    assert ctx.series_read == 4 * 3
    assert ctx.rows_returned == 4 * 3
    assert sum(s.slices for s in reader.all_series()) == 0  # last() copied no point out
    [table] = client_tables(response.body)
    assert {r["device"] for r in table.records} == {device(n) for n in (3, 4, 5, 170)}


def test_the_id_list_returns_one_row_per_active_device_not_per_point(reader):
    response, ctx = query(
        reader,
        REG + ' |> filter(fn: (r) => r._field == "key") |> last()'
        ' |> filter(fn: (r) => r._value != "")'
        ' |> keep(columns: ["deviceId"]) |> group()',
    )
    assert ctx.series_read == 200  # one key series per device, nothing else
    assert ctx.rows_returned == 150  # the 50 removed devices are dropped in the query
    [table] = client_tables(response.body)
    assert [c.label for c in table.columns] == ["result", "table", "deviceId"]
    assert [r["deviceId"] for r in table.records] == [device(n) for n in range(150)]


PIPELINES = [
    ' |> last() |> keep(columns: ["_time", "_field", "device"]) |> group()',
    ' |> last() |> keep(columns: ["_time", "_value", "_field", "device", "site"]) |> group()',
    ' |> first() |> drop(columns: ["_start", "_stop"]) |> group(columns: ["device"])',
    ' |> last() |> group(columns: ["site"])',
    ' |> last() |> group(columns: ["_measurement", "device"], mode: "except")',
    ' |> group(columns: ["_field"])',
    ' |> keep(columns: ["_time", "_value", "device"]) |> group(columns: ["device"])',
    # The new key would hold _value: rows split by value, the generic path's job.
    ' |> last() |> keep(columns: ["_value", "device"]) |> group(columns: ["_value"])',
    ' |> last() |> filter(fn: (r) => r._value > 150.0) |> keep(columns: ["_value", "device"])',
    ' |> last() |> filter(fn: (r) => r.site == "s1" and r._field == "CO2") |> group()',
    ' |> drop(columns: ["site"]) |> last() |> group()',
    " |> last() |> filter(fn: (r) => r._time > r._start and exists r.site) |> group()",
    ' |> first() |> filter(fn: (r) => r._value < 100.0) |> drop(columns: ["_measurement"])',
    ' |> min() |> keep(columns: ["_value", "_field", "device"])',
    ' |> max() |> filter(fn: (r) => r._value > 150.0) |> group(columns: ["_field"])',
    ' |> max() |> keep(columns: ["_time", "_value", "site"]) |> group()',
    " |> min() |> aggregateWindow(every: 1h, fn: max, createEmpty: false)",
]


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_fused_reads_return_exactly_what_table_by_table_evaluation_returns(db, pipeline):
    body = same_as_table_by_table(db, ENV, pipeline)
    assert body.count(b"\r\n") > 5  # the comparison is about real rows


def test_a_type_collision_in_a_fused_group_is_the_same_error(db):
    db.load([("environment", {"device": "dev-x"}, "note", [(T0, "text")])])
    fast = db.request(ENV + " |> last() |> group()")
    slow = db.request(ENV + SLOW + " |> last() |> group()")
    assert fast.status == slow.status == 400
    assert fast.body == slow.body
    assert "schema collision" in fast.json["message"]


def test_new_series_are_seen_after_the_index_was_built(db):
    flux = ENV + ' |> filter(fn: (r) => r.device == "dev-new") |> last()'
    assert db.tables(flux) == []
    db.load([("environment", {"device": "dev-new"}, "Temperature", [(T0, 1.0)])])
    [table] = db.tables(flux)
    assert [(r["device"], r.get_value()) for r in table.records] == [("dev-new", 1.0)]
    assert db.rows_returned == 1


@pytest.mark.parametrize(
    ("regex", "expected"),
    [
        ("^(?:dev-001|dev\\.x)$", {"dev-001", "dev.x"}),
        ("^dev-001$", {"dev-001"}),
        ("^dev.x$", {"dev.x", "devXx"}),  # an unescaped dot is any character
        ("^(?:dev-00)", {"dev-001", "dev-002"}),  # not anchored at the end: a prefix
        ("dev-001|^devXx$", {"dev-001", "devXx"}),
    ],
)
def test_regex_filters_on_tags_match_exactly_what_re2_matches(flux, regex, expected):
    names = ("dev-001", "dev-002", "dev.x", "devXx", "xdev-001y")
    flux.load([("environment", {"device": name}, "Temperature", [(T0, 1.0)]) for name in names])
    expected = set(expected)
    if regex == "dev-001|^devXx$":
        expected.add("xdev-001y")  # unanchored alternative
    found = flux.tables(ENV + f" |> filter(fn: (r) => r.device =~ /{regex}/) |> last()")
    assert {rec["device"] for t in found for rec in t.records} == expected
    negated = flux.tables(ENV + f" |> filter(fn: (r) => r.device !~ /{regex}/) |> last()")
    assert {rec["device"] for t in negated for rec in t.records} == set(names) - expected


def test_indexes_kept_for_many_buckets_do_not_hold_deleted_series_in_memory():
    reader = FakeReader()
    doomed = reader.add(B, "environment", {"device": "gone"}, "Temperature", [(T0, 1.0)])
    alive = weakref.ref(doomed)
    series_index.index_for(reader, "deleted-bucket", [doomed])
    del doomed
    reader.buckets.clear()
    for n in range(series_index.MAX_BUCKETS):
        series_index.index_for(reader, f"bucket-{n}", [])
    gc.collect()
    assert alive() is None


# iot-center-v2 names a device in tag ``clientId``, the tutorial apps in ``device``; IoT Center's
# virtual devices write both. Telemetry queries match ``device`` OR ``clientId``.
TAGGED = [
    ("environment", {"device": "dev-a"}, "Temperature", [(T0, 1.0)]),
    ("environment", {"clientId": "dev-b"}, "Temperature", [(T0 + MIN, 2.0)]),
    ("environment", {"device": "dev-c", "clientId": "dev-c"}, "Temperature", [(T0, 3.0)]),
    ("environment", {"device": "dev-x"}, "Temperature", [(T0, 4.0)]),
    ("environment", {"clientId": "dev-y"}, "Temperature", [(T0, 5.0)]),
    ("environment", {"site": "s1"}, "Temperature", [(T0, 6.0)]),  # neither tag
]
EITHER_TAG = (
    ' |> filter(fn: (r) => r["device"] =~ /^(?:dev-a|dev-b|dev-c)$/'
    ' or r["clientId"] =~ /^(?:dev-a|dev-b|dev-c)$/)'
)


class KeyCountingSeries(FakeSeries):
    """Counts reads of its series key: the work of deciding whether a filter wants it."""

    key_reads = 0

    @property
    def key(self):
        KeyCountingSeries.key_reads += 1
        return self.__dict__["key"]


def test_an_or_across_two_tags_reads_only_the_series_either_tag_selects():
    reader = FakeReader()
    for measurement, tags, field, points in TAGGED + FLEET:
        reader.add(B, measurement, tags, field, points).__class__ = KeyCountingSeries
    page = ENV + EITHER_TAG + ' |> last() |> keep(columns: ["_value", "device", "clientId"])'
    query(reader, page + " |> group()")  # builds the bucket's series index
    KeyCountingSeries.key_reads = 0
    response, ctx = query(reader, page + " |> group()")
    # dev-a by device, dev-b by clientId, dev-c (both tags) once: not one of the 600 others...
    assert ctx.series_read == 3
    # ...found in the index: the keys of only those series are looked at, not one per
    # environment series (606) as a predicate tried on every series would.
    assert KeyCountingSeries.key_reads <= 2 * 3, KeyCountingSeries.key_reads
    [table] = client_tables(response.body)
    assert {(r["device"], r["clientId"], r.get_value()) for r in table.records} == {
        ("dev-a", None, 1.0),
        (None, "dev-b", 2.0),
        ("dev-c", "dev-c", 3.0),
    }


@pytest.mark.parametrize(
    "match",
    [
        EITHER_TAG,
        ' |> filter(fn: (r) => r.device == "dev-x" or r.clientId == "dev-y")',
        # Three terms, one column twice: still answered from the index.
        ' |> filter(fn: (r) => r.device == "dev-a" or r.clientId == "dev-b"'
        ' or r.device == "dev-x")',
        # One side is no set of strings (an unanchored regex): evaluated per series instead.
        ' |> filter(fn: (r) => r.device == "dev-a" or r.clientId =~ /y$/)',
        ' |> filter(fn: (r) => r.device == "dev-a" or r.site == "s1")',
        ' |> filter(fn: (r) => r.device == "nobody" or r.clientId == "nobody")',
    ],
)
def test_an_or_across_tags_returns_exactly_what_table_by_table_evaluation_returns(flux, match):
    flux.load(TAGGED)
    src = 'from(bucket: "iot") |> range(start: 0)'
    pipeline = ' |> last() |> keep(columns: ["_time", "_value", "device", "clientId"]) |> group()'
    same_as_table_by_table(flux, src, match + pipeline)


def test_an_or_across_tags_sees_series_written_after_the_index_was_built(db):
    flux = ENV + ' |> filter(fn: (r) => r.device == "v2-dev" or r.clientId == "v2-dev") |> last()'
    assert db.tables(flux) == []
    db.load([("environment", {"clientId": "v2-dev"}, "CO2", [(T0, 800.0)])])
    [table] = db.tables(flux)
    assert [(r["clientId"], r.get_value()) for r in table.records] == [("v2-dev", 800.0)]


# Ties (the first of equal values is the row picked), negative zero, strings, integers, booleans.
EXTREMES = [
    (
        "extremes",
        {"s": "tie"},
        "tie",
        [(T0 + p * MIN, v) for p, v in enumerate((2.0, 1.0, 1.0, 3.0, 3.0))],
    ),
    (
        "extremes",
        {"s": "zero"},
        "zero",
        [(T0 + p * MIN, v) for p, v in enumerate((0.0, -0.0, 1.0, -0.0))],
    ),
    ("extremes", {"s": "str"}, "str", [(T0 + p * MIN, v) for p, v in enumerate("bacac")]),
    (
        "extremes",
        {"s": "int"},
        "int",
        [(T0 + p * MIN, v) for p, v in enumerate((5, 2, 2, 7, 7, 1, 9))],
    ),
    (
        "extremes",
        {"s": "bool"},
        "bool",
        [(T0 + p * MIN, v) for p, v in enumerate((True, False, True))],
    ),
    ("extremes", {"s": "many"}, "many", [(T0 + p * MIN, float(p % 50)) for p in range(120)]),
]


@pytest.mark.parametrize("which", ["min", "max"])
def test_min_and_max_pick_the_first_of_equal_values_as_table_by_table_evaluation_does(flux, which):
    flux.load(EXTREMES)
    source = SRC + ' |> filter(fn: (r) => r._measurement == "extremes")'
    body = same_as_table_by_table(flux, source, f" |> {which}()")
    tables = {t.records[0]["s"]: t.records[0] for t in client_tables(body)}
    minute = {s: (r["_time"].timestamp() - T0 // NS) // 60 for s, r in tables.items()}
    if which == "min":
        assert minute == {"tie": 1, "zero": 0, "str": 1, "int": 5, "bool": 1, "many": 0}
    else:
        assert minute == {"tie": 3, "zero": 2, "str": 2, "int": 6, "bool": 0, "many": 49}


def test_min_and_max_after_map_keep_a_leading_nan_as_the_loop_over_rows_does(flux):
    flux.load(EXTREMES[:1])
    nan_first = (
        SRC + ' |> filter(fn: (r) => r._measurement == "extremes" and r.s == "tie")'
        " |> map(fn: (r) => ({r with _value: if r._value == 2.0 then 0.0 / 0.0"
        " else r._value}))"
    )
    for which in ("min", "max"):
        [table] = flux.tables(nan_first + f" |> {which}()", now="2024-01-02T00:00:00Z")
        [row] = table.records
        assert row["_time"].timestamp() == T0 // NS
        assert row["_value"] != row["_value"]  # NaN: no value compares below or above it


def test_several_results_of_one_read_variable_read_each_series_once(reader):
    """A dashboard's shape: windows, min and max of one ``data`` variable, as three results."""
    data = ENV + ' |> filter(fn: (r) => r.device == "dev-007" or r.device == "dev-008")'
    flux = (
        f"data = {data}\n"
        'data |> aggregateWindow(every: 1h, fn: sum, createEmpty: false) |> yield(name: "sum")\n'
        'data |> min() |> keep(columns: ["_value", "_field", "device"]) |> yield(name: "min")\n'
        'data |> max() |> keep(columns: ["_value", "_field", "device"]) |> yield(name: "max")\n'
    )
    response, ctx = query(reader, flux)
    assert ctx.series_read == 2 * 3
    assert sum(s.slices for s in reader.all_series()) == 2 * 3  # each series' points copied once
    tables = client_tables(response.body)
    assert len(tables) == 3 * 2 * 3
    maxima = [t.records[0] for t in tables if t.records[0]["result"] == "max"]
    assert sorted(r["_value"] for r in maxima) == [30.0, 31.0, 31.0, 32.0, 32.0, 33.0]


def test_the_min_and_the_max_of_one_read_variable_share_its_read(reader):
    data = ENV + ' |> filter(fn: (r) => r.device == "dev-007")'
    flux = (
        f'data = {data}\ndata |> max() |> yield(name: "max")\ndata |> min() |> yield(name: "min")'
    )
    response, ctx = query(reader, flux)
    assert ctx.series_read == 3
    tables = client_tables(response.body)
    assert [t.records[0]["_value"] for t in tables] == [32.0, 31.0, 30.0, 29.0, 28.0, 27.0]
