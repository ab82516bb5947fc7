"""The Flux the device list and fleet overview send, against hand-computed answers (each test
runs in the engine and end to end over HTTP, see the ``flux`` fixture): ``strings.containsStr``
and ``strings.toLower``, ``distinct`` + ``count`` on one grouped table, ``sort`` + ``limit`` with
an offset past the end."""

import pytest

from tests.localinflux.flux_dataset import T0, values

IDS = ["Kitchen-1", "garage", "kitchen-2", "site:a-b", "attic"]
REGISTRY = [("deviceauth", {"deviceId": d}, "key", [(T0, f"k-{d}")]) for d in IDS]
# A removed device: its newest key is "".
REGISTRY.append(("deviceauth", {"deviceId": "attic"}, "key", [(T0 + 1, "")]))
IMPORT = 'import "strings"\n'
IDS_Q = (
    'from(bucket: "iot") |> range(start: 0)'
    ' |> filter(fn: (r) => r._measurement == "deviceauth" and r._field == "key")'
    ' |> last() |> filter(fn: (r) => r._value != "")'
    ' |> keep(columns: ["deviceId"]) |> group()'
)


@pytest.fixture
def db(flux):
    flux.load(REGISTRY)
    return flux


def test_to_lower_and_contains_str_find_ids_case_insensitively(db):
    q = (
        IMPORT
        + IDS_Q
        + " |> filter(fn: (r) => strings.containsStr(v: strings.toLower(v: r.deviceId),"
        ' substr: "kitchen"))'
    )
    assert sorted(v for [v] in values(db, q, ["deviceId"])) == ["Kitchen-1", "kitchen-2"]
    # containsStr is case-sensitive itself; "" is contained in every string.
    q = IMPORT + IDS_Q + ' |> filter(fn: (r) => strings.containsStr(v: r.deviceId, substr: "K"))'
    assert values(db, q, ["deviceId"]) == [["Kitchen-1"]]
    q = IMPORT + IDS_Q + ' |> filter(fn: (r) => strings.containsStr(v: r.deviceId, substr: ""))'
    assert len(values(db, q, ["deviceId"])) == 4


def test_string_functions_as_plain_values(db):
    q = (
        IMPORT + 'x = strings.toLower(v: "AbC:-İ")\n'
        'from(bucket: "iot") |> range(start: 0) |> filter(fn: (r) => r.deviceId == "garage")'
        ' |> filter(fn: (r) => x == "abc:-i" and strings.containsStr(v: x, substr: "c:-"))'
        ' |> keep(columns: ["deviceId"])'
    )
    # Go's unicode.ToLower maps "İ" (U+0130) to a plain "i", one rune for one rune.
    assert values(db, q, ["deviceId"]) == [["garage"]]


def test_a_string_function_needs_string_arguments(db):
    q = IMPORT + IDS_Q + " |> filter(fn: (r) => strings.containsStr(v: r.deviceId, substr: 1))"
    with pytest.raises(Exception, match="substr"):
        db.tables(q)


def test_distinct_then_count_counts_ids_once_per_table(db):
    q = IDS_Q + ' |> distinct(column: "deviceId") |> count()'
    assert values(db, q, ["_value"]) == [[4]]  # the removed "attic" is not counted


def test_sort_and_limit_with_offset_give_one_page_of_ids(db):
    page = IDS_Q + ' |> distinct(column: "deviceId") |> sort()'
    # Byte order: upper case before lower case, as Python sorts str.
    assert values(db, page, ["_value"]) == [["Kitchen-1"], ["garage"], ["kitchen-2"], ["site:a-b"]]
    assert values(db, page + " |> limit(n: 2, offset: 2)", ["_value"]) == [
        ["kitchen-2"],
        ["site:a-b"],
    ]
    assert values(db, page + " |> limit(n: 2, offset: 3)", ["_value"]) == [["site:a-b"]]
    # An offset past the last row leaves an empty table, which is dropped: no rows.
    assert values(db, page + " |> limit(n: 2, offset: 4)", ["_value"]) == []


MIN = 60 * 10**9
TELEMETRY = [
    ("environment", {"device": "Kitchen-1"}, "t", [(T0 + i * MIN, 20.0 + i) for i in range(3)]),
    ("environment", {"device": "Kitchen-1"}, "h", [(T0 + MIN, 40)]),
    # iot-center-v2: clientId names the device, device the board type.
    ("environment", {"clientId": "garage", "device": "ESP8266"}, "t", [(T0 + 5 * MIN, 9.5)]),
    ("environment", {"device": "ghost"}, "t", [(T0 + 9 * MIN, 1.0)]),  # not registered
]
OWNER = "if exists r.clientId then r.clientId else r.device"
LAST = (
    'from(bucket: "iot") |> range(start: 0)'
    ' |> filter(fn: (r) => r._measurement == "environment") |> last()'
    # _value is dropped: fields of different types cannot share a table (schema collision).
    ' |> keep(columns: ["_time", "_field", "device", "clientId"]) |> group()'
)


@pytest.fixture
def fleet(flux):
    flux.load(REGISTRY + TELEMETRY)
    return flux


def test_map_builds_rows_from_a_record_and_regroups_changed_key_values(fleet):
    q = LAST + f" |> map(fn: (r) => ({{owner: {OWNER}, _time: r._time, _field: r._field}}))"
    rows = values(fleet, q + ' |> sort(columns: ["owner", "_field"])', ["owner", "_field"])
    assert rows == [["Kitchen-1", "h"], ["Kitchen-1", "t"], ["garage", "t"], ["ghost", "t"]]
    [table] = fleet.tables(q)
    assert [c.label for c in table.columns if not c.label.startswith(("result", "table"))] == [
        "owner",
        "_time",
        "_field",
    ]
    assert {c.label: c.data_type for c in table.columns}["_time"] == "dateTime:RFC3339"
    # Per series (not grouped): device is in the group key. A record with a new value of it
    # moves to the table of that value; one without it leaves the key.
    both = (
        'from(bucket: "iot") |> range(start: 0)'
        ' |> filter(fn: (r) => r._field == "t" and r.device != "ESP8266") |> last()'
    )
    moved = fleet.tables(both + ' |> map(fn: (r) => ({r with device: "all"}))')
    assert [[r["device"] for r in t.records] for t in moved] == [["all", "all"]]
    assert [c.label for c in moved[0].columns if c.group][-1] == "device"
    dropped = fleet.tables(both + " |> map(fn: (r) => ({v: r._value, d: r.device}))")
    assert [[c.label for c in t.columns if c.group] for t in dropped] == [[]]
    assert [(r["d"], r["v"]) for t in dropped for r in t.records] == [
        ("Kitchen-1", 22.0),
        ("ghost", 1.0),
    ]
    # Values of two types in one column of one table: a schema collision, as in InfluxDB.
    kitchen = both.replace('r._field == "t" and ', "")
    status, body = fleet.error(kitchen + " |> map(fn: (r) => ({v: r._value}))")
    assert status == 400
    assert "schema collision" in body["message"]


def test_unique_keeps_the_first_row_of_each_value(fleet):
    q = (
        'from(bucket: "iot") |> range(start: 0)'
        ' |> filter(fn: (r) => r._field == "t") |> group()'
        ' |> sort(columns: ["_time"], desc: true) |> unique(column: "device")'
    )
    # The newest point of each device value (Kitchen-1's newest is its t at minute 2).
    rows = values(fleet, q, ["device", "_value", "_time"])
    assert [r[:2] for r in rows] == [["ghost", 1.0], ["ESP8266", 9.5], ["Kitchen-1", 22.0]]
    status, body = fleet.error(q.replace('"device")', '"nosuch")'))
    assert (status, body["message"]) == (400, 'no column "nosuch" exists')


def test_join_inner_keeps_only_rows_with_a_match_on_the_other_side(fleet):
    q = (
        'import "join"\n'
        f"reg = {IDS_Q}\n"
        f"seen = {LAST} |> map(fn: (r) => ({{owner: {OWNER}, _time: r._time}}))"
        ' |> sort(columns: ["_time"], desc: true) |> unique(column: "owner")\n'
        "join.inner(left: seen, right: reg, on: (l, r) => l.owner == r.deviceId,"
        " as: (l, r) => ({owner: l.owner, _time: l._time, reg: r.deviceId}))"
        ' |> sort(columns: ["owner"])'
    )
    rows = values(fleet, q, ["owner", "reg"])
    assert rows == [["Kitchen-1", "Kitchen-1"], ["garage", "garage"]]  # no ghost
    counted = q.replace(' |> sort(columns: ["owner"])', ' |> count(column: "owner")')
    assert values(fleet, counted, ["owner"]) == [[2]]


def test_join_inner_pairs_only_tables_with_the_same_group_key(fleet):
    # Right side grouped by _field: no table of the (ungrouped) left side has that key.
    q = (
        'import "join"\n'
        f"join.inner(left: {IDS_Q}, right: {LAST.replace(' |> group()', '')},"
        " on: (l, r) => l.deviceId == r.device, as: (l, r) => ({l with t: r._time}))"
    )
    assert fleet.tables(q) == []
    status, body = fleet.error(
        'import "join"\n'
        f"join.inner(left: {IDS_Q}, right: {IDS_Q}, on: (l, r) => l.deviceId != r.deviceId,"
        " as: (l, r) => l)"
    )
    assert status == 400
    assert "equality" in body["message"]
