"""The CSV download's cells: text a spreadsheet would run is escaped, numbers stay numbers."""

from __future__ import annotations

import pytest

from devices.influx.export import cell, safe_text


@pytest.mark.parametrize(
    ("text", "cell_text"),
    [
        ("=1+2", "'=1+2"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("a=1", "a=1"),
        ("", ""),
        ("'quoted", "'quoted"),
    ],
)
def test_text_that_starts_like_a_formula_gets_a_leading_quote(text, cell_text):
    assert safe_text(text) == cell_text
    assert cell(text) == cell_text


def test_numbers_and_booleans_are_not_text():
    assert cell(-3.25) == -3.25
    assert cell(7) == 7
    assert cell(True) == "true"
    assert cell(False) == "false"
    assert cell(None) == ""
