"""Every Flux built-in this server implements, by package: the explicit table.

``UNIVERSE`` is what a query sees without an import; ``PACKAGES`` maps an import path to its
members. A name missing here is unknown to the engine (a known Flux function gets "... is not
supported by this server", see ``interpreter.KNOWN_UNSUPPORTED``), so adding a built-in means
adding its line here; ``tests/localinflux/test_flux_builtins_table.py`` pins the full set.
"""

from __future__ import annotations

from . import (
    aggregates,
    records,
    schema,
    selectors,
    sources,
    strings,
    transformations,
    universe,
    windowing,
)
from .registry import package

# name -> implementation, universe (no import needed)
UNIVERSE_FUNCTIONS = {
    # sources
    "from": sources.from_,
    "range": sources.range_,
    # transformations
    "filter": transformations.filter_,
    "limit": transformations.limit,
    "sort": transformations.sort,
    "group": transformations.group,
    "keep": transformations.keep,
    "drop": transformations.drop,
    "rename": transformations.rename,
    "pivot": transformations.pivot,
    "map": records.map_,
    "unique": records.unique,
    "yield": transformations.yield_,
    # selectors
    "first": selectors.first,
    "last": selectors.last,
    "min": selectors.min_,
    "max": selectors.max_,
    # aggregates
    "count": aggregates.count,
    "sum": aggregates.sum_,
    "mean": aggregates.mean,
    "distinct": aggregates.distinct,
    # windowing
    "aggregateWindow": windowing.aggregate_window,
    # scalars
    "now": universe.now,
}

# import path -> (name -> implementation)
PACKAGE_FUNCTIONS = {
    "influxdata/influxdb/schema": {
        "tagValues": schema.tag_values,
        "fieldKeys": schema.field_keys,
        "measurements": schema.measurements,
        "measurementTagValues": schema.measurement_tag_values,
        "measurementFieldKeys": schema.measurement_field_keys,
    },
    "join": {
        "inner": records.join_inner,
    },
    "strings": {
        "containsStr": strings.contains_str,
        "toLower": strings.to_lower,
    },
}

UNIVERSE: dict[str, object] = package(UNIVERSE_FUNCTIONS, true=True, false=False)
PACKAGES: dict[str, dict[str, object]] = {
    "influxdata/influxdb/schema": package(
        PACKAGE_FUNCTIONS["influxdata/influxdb/schema"], __package__="schema"
    ),
    "join": package(PACKAGE_FUNCTIONS["join"], __package__="join"),
    "strings": package(PACKAGE_FUNCTIONS["strings"], __package__="strings"),
}

__all__ = ["PACKAGES", "PACKAGE_FUNCTIONS", "UNIVERSE", "UNIVERSE_FUNCTIONS"]
