"""What a hostile device can write (any number a float holds, any field name or text) does not
break this session's pages: the overview's sparklines, numbers as people read them."""

from __future__ import annotations

import re

from devices.templatetags.iot import number
from tests.devices.test_views_overview import point, register, write

NUMBER = r"-?\d+(\.\d+)?"


def test_huge_values_draw_a_sparkline_of_finite_points(staff_client, influx):
    register(influx, ["huge-1"])
    write(
        influx,
        influx.bucket,
        [
            point("huge-1", 1, Temperature=1e308),
            point("huge-1", 3, Temperature=-1e308),
            point("huge-1", 5, Temperature=1.7e308),
            # The same time under both device tags: two series whose mean overflows a float.
            point("huge-1", 5, Temperature=1.7e308).replace("device=", "clientId=huge-1,device="),
        ],
    )
    page = staff_client.get("/").content.decode()
    (points,) = re.findall(r'<polyline points="([^"]*)"', page)
    pairs = points.split()
    assert len(pairs) >= 2
    for pair in pairs:  # one "nan" and the browser draws no line at all
        assert re.fullmatch(f"{NUMBER},{NUMBER}", pair), points
        x, y = map(float, pair.split(","))
        assert 0 <= x <= 100
        assert 0 <= y <= 24
    (label,) = re.findall(r'aria-label="(Temperature, last hour: [^"]*)"', page)
    assert len(label) < 80, label  # not two 300-digit numbers


def test_numbers_stay_short_however_large():
    assert number(21.456) == "21.46"
    assert number(1234567.0) == "1,234,567.00"
    assert number(1.7e308) == "1.7e+308"
    assert number(-1e20) == "-1e+20"
    assert number(float("inf")) == "inf"
