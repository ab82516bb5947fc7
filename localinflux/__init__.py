"""A small local stand-in for InfluxDB OSS 2.7, for development and tests.

Start it with ``python -m localinflux`` or in-process with ``localinflux.runner.LocalInflux``.
"""

__version__ = "0.1.0"
