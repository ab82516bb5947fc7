"""The explicit table of built-ins: every function supported today, by package, with its
parameters, so that none goes missing or changes its signature unnoticed in a refactor."""

from __future__ import annotations

from localinflux.flux.builtins import PACKAGES, UNIVERSE
from localinflux.flux.values import Builtin
from tests.localinflux.flux_fakes import FakeReader, run

# name: (parameters, required, piped-input parameter)
TABLES = ("tables",)
UNIVERSE_SIGNATURES = {
    "from": (("bucket", "bucketID", "host", "org", "orgID", "token"), (), None),
    "range": (("start", "stop", *TABLES), ("start", *TABLES), "tables"),
    "filter": (("fn", "onEmpty", *TABLES), ("fn", *TABLES), "tables"),
    "first": (("column", *TABLES), TABLES, "tables"),
    "last": (("column", *TABLES), TABLES, "tables"),
    "min": (("column", *TABLES), TABLES, "tables"),
    "max": (("column", *TABLES), TABLES, "tables"),
    "count": (("column", *TABLES), TABLES, "tables"),
    "sum": (("column", *TABLES), TABLES, "tables"),
    "mean": (("column", *TABLES), TABLES, "tables"),
    "distinct": (("column", *TABLES), TABLES, "tables"),
    "aggregateWindow": (
        (
            "every",
            "fn",
            "period",
            "offset",
            "column",
            "timeSrc",
            "timeDst",
            "createEmpty",
            "location",
            *TABLES,
        ),
        ("every", "fn", *TABLES),
        "tables",
    ),
    "limit": (("n", "offset", *TABLES), ("n", *TABLES), "tables"),
    "sort": (("columns", "desc", *TABLES), TABLES, "tables"),
    "group": (("columns", "mode", *TABLES), TABLES, "tables"),
    "keep": (("columns", "fn", *TABLES), TABLES, "tables"),
    "drop": (("columns", "fn", *TABLES), TABLES, "tables"),
    "rename": (("columns", "fn", *TABLES), TABLES, "tables"),
    "pivot": (
        ("rowKey", "columnKey", "valueColumn", *TABLES),
        ("rowKey", "columnKey", "valueColumn", *TABLES),
        "tables",
    ),
    "yield": (("name", *TABLES), TABLES, "tables"),
    "map": (("fn", "mergeKey", *TABLES), ("fn", *TABLES), "tables"),
    "unique": (("column", *TABLES), TABLES, "tables"),
    "now": ((), (), None),
}
SCHEMA_SIGNATURES = {
    "tagValues": (("bucket", "tag", "predicate", "start", "stop"), ("bucket", "tag"), None),
    "fieldKeys": (("bucket", "predicate", "start", "stop"), ("bucket",), None),
    "measurements": (("bucket", "start", "stop"), ("bucket",), None),
    "measurementTagValues": (
        ("bucket", "measurement", "tag", "start", "stop"),
        ("bucket", "measurement", "tag"),
        None,
    ),
    "measurementFieldKeys": (
        ("bucket", "measurement", "start", "stop"),
        ("bucket", "measurement"),
        None,
    ),
}
STRINGS_SIGNATURES = {
    "containsStr": (("v", "substr"), ("v", "substr"), None),
    "toLower": (("v",), ("v",), None),
}


def signatures(members: dict) -> dict:
    return {
        name: (value.impl.params, value.impl.required, value.pipe)
        for name, value in members.items()
        if isinstance(value, Builtin)
    }


def test_the_universe_has_exactly_the_supported_functions():
    assert signatures(UNIVERSE) == UNIVERSE_SIGNATURES
    assert {k: v for k, v in UNIVERSE.items() if not isinstance(v, Builtin)} == {
        "true": True,
        "false": False,
    }


def test_the_packages_are_exactly_the_supported_ones():
    assert set(PACKAGES) == {"influxdata/influxdb/schema", "join", "strings"}
    assert signatures(PACKAGES["join"]) == {
        "inner": (("right", "on", "as", "left"), ("right", "on", "as", "left"), "left")
    }
    schema = PACKAGES["influxdata/influxdb/schema"]
    assert signatures(schema) == SCHEMA_SIGNATURES
    assert schema["__package__"] == "schema"
    assert signatures(PACKAGES["strings"]) == STRINGS_SIGNATURES


def test_every_built_in_is_callable_by_its_name_in_a_query():
    """The table is what the engine uses: each name resolves (no "undefined identifier")."""
    reader = FakeReader()
    names = list(UNIVERSE_SIGNATURES) + [f"schema.{n}" for n in SCHEMA_SIGNATURES]
    for name in names:
        reply, _ = run(reader, f'import "influxdata/influxdb/schema"\nx = {name}\n')
        assert reply.status == 200, (name, reply.body)
    reply, _ = run(reader, "x = window")
    assert reply.status == 400
