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
