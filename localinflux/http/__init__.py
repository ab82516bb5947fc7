"""localinflux's HTTP layer: InfluxDB 2.7's routes, status codes, error bodies and headers.

- ``wire.py``: ``Request``, ``Response``, ``HttpError`` and the code/status table;
- ``routes.py``: the routing table (method, path, handler, auth) and token authentication;
- ``shapes.py``: the JSON objects InfluxDB answers with (org, bucket, user, authorization);
- ``server.py``: the socket side (``Handler``, ``LocalInfluxHTTPServer``): faults, counters, logs;
- ``handlers/``: one module per API area, each handler ``(app, req, **path) -> Response``.
"""
