"""Scalar functions of Flux's universe package: ``now``."""

from __future__ import annotations

from ..interpreter import Call
from ..values import Time
from .registry import signature


@signature(pipe=None)
def now(call: Call) -> Time:
    return call.interp.now_ns
