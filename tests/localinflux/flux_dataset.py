"""The small dataset the Flux built-in, interpreter and request tests share, and helpers."""

import datetime as dt

from tests.localinflux.flux_fakes import NS

T0 = 1704067200 * NS  # 2024-01-01T00:00:00Z
MIN = 60 * NS
# now() for the tests whose answer depends on it; the others run at the wall clock.
NOW = "2024-01-01T01:00:00Z"
UTC = dt.UTC

DEV1 = {"device": "dev-1"}
DATA = [
    ("environment", DEV1, "temperature", [(T0 + i * MIN, 20.0 + i) for i in range(10)]),
    ("environment", DEV1, "humidity", [(T0 + i * MIN, 40 + i) for i in range(10)]),
    ("environment", {"device": "dev-2"}, "temperature", [(T0 + i * MIN, 10.5) for i in range(3)]),
    ("deviceauth", {"deviceId": "dev-1"}, "key", [(T0, "k1")]),
    ("deviceauth", {"deviceId": "dev-1"}, "token", [(T0, "t1")]),
]  # fmt: skip


def at(minutes, seconds=0):
    return dt.datetime(2024, 1, 1, tzinfo=UTC) + dt.timedelta(minutes=minutes, seconds=seconds)


def values(db, query, columns, **extra):
    return [
        [rec.values.get(c) for c in columns] for t in db.tables(query, **extra) for rec in t.records
    ]


SRC = 'from(bucket: "iot") |> range(start: 0)'
ENV = SRC + ' |> filter(fn: (r) => r._measurement == "environment")'
