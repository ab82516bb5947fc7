"""JSON bodies byte for byte as InfluxDB's Go encoder writes them.

Go's ``encoding/json`` escapes ``<``, ``>`` and ``&`` (HTML-safe output) and ends each value with
a newline; ``influx`` answers indented with tabs on most endpoints and compact on a few (write,
query and delete errors). Every JSON body the server sends is made here.
"""

from __future__ import annotations

import json


def dumps(obj, *, indent: bool) -> bytes:
    text = json.dumps(
        obj, indent="\t" if indent else None, separators=None if indent else (",", ":")
    )
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return (text + "\n").encode()


def error_body(code: str, message: str, *, indent: bool = False) -> bytes:
    """InfluxDB's error shape: ``{"code": ..., "message": ...}``."""
    return dumps({"code": code, "message": message}, indent=indent)
