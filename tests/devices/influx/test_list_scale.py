"""The device list at scale: InfluxDB counts, searches, sorts and slices the ids, so a page costs
the same queries and a number of rows bounded by the page size at 10 or 1,000 devices, and the
pages, the total and the search stay exactly right."""

from __future__ import annotations

import pytest

from devices import influx as svc

from .points import write_registry
from .test_devices import (
    INJECTION,
    T0,
    one_listing,
    register_fleet,
    register_many,
    soft_delete,
)


def test_pages_the_last_page_and_a_page_past_the_end(influx):
    ids = [f"dev-{i:02d}" for i in range(7)]
    register_many(influx, ids)
    second = svc.list_devices(page=2, per_page=3)
    assert [d.device_id for d in second.devices] == ids[3:6]
    assert (second.total, second.page, second.num_pages) == (7, 2, 3)
    last = svc.list_devices(page=3, per_page=3)
    assert [d.device_id for d in last.devices] == ["dev-06"]
    beyond = svc.list_devices(page=40, per_page=3)
    assert (beyond.page, [d.device_id for d in beyond.devices]) == (3, ["dev-06"])
    assert all(d.key == f"k-{d.device_id}" for d in second.devices)


def test_search_is_a_case_insensitive_substring_of_ids_with_colons_and_dashes(influx):
    register_many(influx, ["Site:A-1", "site:b-2", "other-1", "x:site"])
    found = svc.list_devices(search="  SITE:  ")
    assert [d.device_id for d in found.devices] == ["Site:A-1", "site:b-2"]
    assert found.total == 2
    assert [d.device_id for d in svc.list_devices(search="-1").devices] == ["Site:A-1", "other-1"]
    assert [d.device_id for d in svc.list_devices(search="e:").devices] == [
        "Site:A-1",
        "site:b-2",
    ]
    none = svc.list_devices(search="zzz")
    assert (none.total, none.page, none.num_pages, none.devices) == (0, 1, 1, [])


@pytest.mark.parametrize(
    "text", [INJECTION, 'a") |> yield(name: "x', "${token}", "back\\slash", 'say "hi"', "a\nb\t"]
)
def test_quotes_and_flux_in_the_search_are_plain_text(influx, text):
    register_many(influx, ["dev-1"])
    write_registry(influx, 'say "hi"-not-a-valid-id', {"key": "k", "token": "t"}, T0)
    page = svc.list_devices(search=text)  # no Flux error: the text is a quoted literal
    expected = ['say "hi"-not-a-valid-id'] if text == 'say "hi"' else []
    assert [d.device_id for d in page.devices] == expected


def test_the_search_counts_only_registered_devices(influx):
    register_many(influx, ["kit-1", "kit-2", "kit-3"])
    soft_delete(influx, ["kit-2"], T0.replace(hour=5))
    page = svc.list_devices(search="KIT")
    assert (page.total, [d.device_id for d in page.devices]) == (2, ["kit-1", "kit-3"])


@pytest.mark.localonly
def test_a_page_costs_the_same_queries_and_bounded_rows_at_10_and_1000_devices(local_influx):
    per_page = 25
    # The count, the page's ids, key and createdAt of each (no telemetry here).
    bound = 1 + per_page + 2 * per_page
    register_fleet(local_influx, 0, 10)
    small, small_q, small_rows = one_listing(local_influx, per_page=per_page)
    register_fleet(local_influx, 10, 990)
    large, large_q, large_rows = one_listing(local_influx, per_page=per_page, page=3)
    searched, search_q, search_rows = one_listing(local_influx, per_page=per_page, search="0099")
    assert (small.total, large.total, searched.total) == (10, 1000, 11)  # 00099, 00990..00999
    assert [d.device_id for d in large.devices][:2] == ["dev-00050", "dev-00051"]
    assert small_q == large_q == search_q == 2
    assert small_rows == 1 + 10 + 2 * 10
    assert large_rows == bound
    assert search_rows == 1 + 11 + 2 * 11
