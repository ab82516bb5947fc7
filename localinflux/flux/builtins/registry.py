"""How a Python function becomes a Flux built-in: its signature, and the helpers built-ins share.

``@signature("a b", required="a")`` records the parameters a built-in takes (plus ``tables``,
the piped input, unless ``pipe=None``); the explicit tables in ``builtins/__init__.py`` turn each
``name -> function`` into the ``Builtin`` value the interpreter calls.
"""

from __future__ import annotations

from collections.abc import Callable

from .. import ast
from .. import tables as T
from ..compiled import compile_row_fn
from ..interpreter import Call
from ..streams import Stream, map_tables
from ..values import Builtin, Closure


class Spec:
    """What the interpreter checks a call against, and the function it then calls."""

    def __init__(self, fn: Callable, params: tuple, required: tuple) -> None:
        self.fn = fn
        self.params = params
        self.required = required

    def __call__(self, call: Call) -> object:
        return self.fn(call)


def signature(params: str = "", required: str = "", pipe: str | None = "tables") -> Callable:
    """Declare a built-in's parameters (space separated) and the one piped input binds to."""

    def declare(fn: Callable) -> Callable:
        piped = (pipe,) if pipe else ()
        fn.flux_signature = (tuple(params.split()) + piped, tuple(required.split()) + piped, pipe)
        return fn

    return declare


def make_builtin(name: str, fn: Callable) -> Builtin:
    params, required, pipe = fn.flux_signature
    return Builtin(name, Spec(fn, params, required), pipe)


def package(functions: dict[str, Callable], **values: object) -> dict[str, object]:
    """A Flux package (or the universe) as the interpreter sees it: name -> value."""
    out: dict[str, object] = dict(values)
    for name, fn in functions.items():
        out[name] = make_builtin(name, fn)
    return out


def stream_arg(call: Call, name: str = "tables") -> Stream:
    value = call.args.get(name)
    if not isinstance(value, Stream):
        raise call.error(f"expected a table stream as piped input, got {type(value).__name__}")
    return value


def tables_map(call: Call, per_table: Callable[[T.Table], T.Table | None]) -> Stream:
    """The piped-in stream, ``per_table`` applied to each table (None drops the table)."""
    return map_tables(stream_arg(call), per_table)


def single_param(call: Call, fn: Closure) -> str:
    params = fn.node.params
    if len(params) != 1:
        raise call.error("fn must take exactly one parameter")
    return params[0].name


def row_predicate(call: Call, fn: Closure, param: str, body: ast.Node) -> Callable[[dict], object]:
    return compile_row_fn(call.interp, fn.scope, param, body)
