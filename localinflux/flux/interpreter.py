"""Tree-walking evaluator: turns a parsed Flux file into named results (lazy table streams)."""

from __future__ import annotations

import operator
from dataclasses import dataclass

from . import ast
from .errors import FluxError, NotSupported, SemanticError, function_not_supported
from .streams import Stream
from .values import (
    Builtin,
    Closure,
    Duration,
    Function,
    Regex,
    Time,
    add_duration,
    compile_regex,
    duration_from_parts,
    type_name,
)

# Flux standard-library functions this server knows of but does not implement: calling one
# gets a clear "not supported" error instead of "undefined identifier".
# fmt: off
KNOWN_UNSUPPORTED = frozenset((
    "map", "window", "fill", "reduce", "duplicate", "unique", "difference", "derivative",
    "integral", "increase", "movingAverage", "timedMovingAverage", "exponentialMovingAverage",
    "cumulativeSum", "elapsed", "median", "quantile", "mode", "spread", "stddev", "skew", "top",
    "bottom", "highestMax", "highestAverage", "highestCurrent", "lowestMin", "lowestAverage",
    "lowestCurrent", "histogram", "histogramQuantile", "join", "union", "set", "tail",
    "timeShift", "truncateTimeColumn", "columns", "keys", "keyValues", "toString", "toInt",
    "toFloat", "toBool", "toTime", "toUInt", "string", "int", "float", "bool", "time", "uint",
    "duration", "bytes", "length", "contains", "stateCount", "stateDuration", "sample",
    "hourSelection", "chandeMomentumOscillator", "kaufmansAMA", "kaufmansER", "doubleEMA",
    "tripleEMA", "relativeStrengthIndex", "holtWinters", "linearBins", "logarithmicBins",
    "display", "die", "getColumn", "getRecord", "findColumn", "findRecord", "tableFind",
    "buckets", "today", "to", "wideTo", "sleep", "dayOfWeek", "experimental", "array", "csv"
))
# fmt: on


class Scope:
    __slots__ = ("parent", "vars")

    def __init__(self, variables: dict | None = None, parent: Scope | None = None) -> None:
        self.vars = variables if variables is not None else {}
        self.parent = parent

    def lookup(self, name: str) -> tuple[bool, object]:
        scope: Scope | None = self
        while scope is not None:
            if name in scope.vars:
                return True, scope.vars[name]
            scope = scope.parent
        return False, None


@dataclass
class Call:
    """One evaluated call: what a builtin receives."""

    interp: Interpreter
    name: str
    args: dict
    loc: tuple[int, int, int, int]

    def error(self, message: str) -> SemanticError:
        return SemanticError(f"{self.name}: {message}", self.loc)

    def typed(self, name: str, kinds: tuple, what: str, default: object = None) -> object:
        value = self.args.get(name, default)
        if value is None:
            return None
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise self.error(f"argument {name} must be {what}, got {type_name(value)}")
        return value

    def string(self, name: str, default: str | None = None) -> str | None:
        return self.typed(name, (str,), "a string", default)  # type: ignore[return-value]

    def strings(self, name: str, default: list | None = None) -> list[str] | None:
        value = self.typed(name, (list,), "an array of strings", default)
        if value is not None and not all(isinstance(v, str) for v in value):
            raise self.error(f"argument {name} must be an array of strings")
        return value  # type: ignore[return-value]

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self.args.get(name, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or isinstance(value, Time):
            raise self.error(f"argument {name} must be an int, got {type_name(value)}")
        return value

    def boolean(self, name: str, default: bool | None = None) -> bool | None:
        return self.typed(name, (bool,), "a bool", default)  # type: ignore[return-value]

    def duration(self, name: str, default: Duration | None = None) -> Duration | None:
        return self.typed(name, (Duration,), "a duration", default)  # type: ignore[return-value]

    def function(self, name: str) -> Function | None:
        return self.typed(name, (Function,), "a function")  # type: ignore[return-value]

    def time(self, name: str, default: object = None) -> Time | None:
        """A time bound: absolute time, duration relative to now(), or int Unix seconds."""
        value = self.args.get(name, default)
        if value is None:
            return None
        if isinstance(value, Time):
            return value
        if isinstance(value, Duration):
            return add_duration(self.interp.now_ns, value)
        if isinstance(value, int) and not isinstance(value, bool):
            return Time(value * 1_000_000_000)
        raise self.error(f"argument {name} must be a time, duration or int, got {type_name(value)}")


_COMPARE = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


class Interpreter:
    def __init__(self, ctx: object, now_ns: int, universe: dict, packages: dict) -> None:
        self.ctx = ctx
        self.now_ns = Time(now_ns)
        self.universe = Scope(dict(universe))
        self.packages = packages
        self.results: list[tuple[str, object]] = []
        self.yielded: set[int] = set()
        self.steps: list[tuple[str, Stream]] = []  # (built-in, stream it returned), in order
        self.profiler: dict | None = None  # the profiler package's options, once imported

    def release(self) -> None:
        """Drop what this run built (its streams hold closures that point back here): without
        this, every query's tables wait in a reference cycle for a full garbage collection."""
        self.results = []
        self.steps = []
        self.yielded = set()
        self.universe = Scope({})

    # -- program --------------------------------------------------------------------------------
    def run(self, file: ast.File, extern: ast.File | None = None) -> list[tuple[str, object]]:
        scope = Scope(parent=self.universe)
        for source in (extern, file):
            if source is None:
                continue
            for imp in source.imports:
                self._import(imp, scope)
        if extern is not None:
            for stmt in extern.body:
                self._statement(stmt, scope)
        implicit: list[object] = []
        for stmt in file.body:
            value = self._statement(stmt, scope)
            is_stream = isinstance(stmt, ast.ExprStmt) and isinstance(value, Stream)
            if is_stream and id(value) not in self.yielded:
                implicit.append(value)
        for value in implicit:
            self.add_result("_result", value, file.loc)
        return self.results

    def enabled_profilers(self) -> list[str]:
        """``option profiler.enabledProfilers``, if the query imported ``profiler``."""
        names = (self.profiler or {}).get("enabledProfilers")
        return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []

    def add_result(self, name: str, stream: object, loc: tuple) -> None:
        if any(existing == name for existing, _ in self.results):
            raise SemanticError(f'duplicate yield name "{name}"', loc)
        self.results.append((name, stream))
        self.yielded.add(id(stream))

    def _import(self, imp: ast.ImportDecl, scope: Scope) -> None:
        if imp.path == "profiler":
            if self.profiler is None:
                self.profiler = {"__package__": "profiler", "enabledProfilers": [""]}
            scope.vars[imp.alias or "profiler"] = self.profiler
            return
        package = self.packages.get(imp.path)
        if package is None:
            raise NotSupported(f'package "{imp.path}"')
        scope.vars[imp.alias or imp.path.rsplit("/", 1)[-1]] = package

    def _statement(self, stmt: ast.Node, scope: Scope) -> object:
        if isinstance(stmt, ast.ExprStmt):
            return self.eval(stmt.expr, scope)
        if isinstance(stmt, ast.VarAssign):
            scope.vars[stmt.name] = self._named(self.eval(stmt.init, scope), stmt.name)
            return None
        if isinstance(stmt, ast.OptionStmt):
            value = self.eval(stmt.init, scope)
            if stmt.member_of is not None:
                found, package = scope.lookup(stmt.member_of)
                if found and package is self.profiler and stmt.name == "enabledProfilers":
                    self.profiler["enabledProfilers"] = value
                return None  # options of other packages (task settings) do not change results
            if stmt.name == "now":
                now = self.call_function(value, {}, stmt.loc)
                if not isinstance(now, Time):
                    raise SemanticError("option now must be a function returning a time", stmt.loc)
                self.now_ns = now
                return None
            if stmt.name in ("task", "location"):
                return None
            scope.vars[stmt.name] = self._named(value, stmt.name)
            return None
        if isinstance(stmt, ast.ReturnStmt):
            return self.eval(stmt.expr, scope)
        raise SemanticError("unsupported statement", stmt.loc)

    @staticmethod
    def _named(value: object, name: str) -> object:
        if isinstance(value, Closure) and value.name == "<function>":
            value.name = name
        return value

    # -- expressions ----------------------------------------------------------------------------
    def eval(self, node: ast.Node, scope: Scope) -> object:
        kind = type(node)
        if kind is ast.MemberExpr:
            obj = self.eval(node.obj, scope)
            return self._member(obj, node.prop, node)
        if kind is ast.Identifier:
            found, value = scope.lookup(node.name)
            if not found:
                if node.name in KNOWN_UNSUPPORTED:
                    raise function_not_supported(node.name)
                raise SemanticError(f"undefined identifier {node.name}", node.loc)
            return value
        if kind is ast.StringLit or kind is ast.IntLit or kind is ast.FloatLit:
            return node.value
        if kind is ast.BoolLit:
            return node.value
        if kind is ast.BinaryExpr:
            return self._binary(node, scope)
        if kind is ast.LogicalExpr:
            left = self.eval(node.left, scope)
            if node.op == "and":
                if left is False:
                    return False
                right = self.eval(node.right, scope)
                if right is False:
                    return False
                if left is None or right is None:
                    return None
                return self._bool(left, node.left) and self._bool(right, node.right)
            if left is True:
                return True
            right = self.eval(node.right, scope)
            if right is True:
                return True
            if left is None or right is None:
                return None
            return self._bool(left, node.left) or self._bool(right, node.right)
        if kind is ast.UnaryExpr:
            if node.op == "exists":
                return self.eval(node.arg, scope) is not None
            value = self.eval(node.arg, scope)
            if value is None:
                return None
            if node.op == "not":
                return not self._bool(value, node.arg)
            if node.op == "-":
                if isinstance(value, Duration):
                    return -value
                if isinstance(value, int | float) and not isinstance(value, bool | Time):
                    return -value
                raise SemanticError(f"cannot negate {type_name(value)}", node.loc)
            return value
        if kind is ast.CallExpr:
            return self._call(node, scope, None)
        if kind is ast.PipeExpr:
            piped = self.eval(node.arg, scope)
            return self._call(node.call, scope, piped)
        if kind is ast.FunctionExpr:
            return Closure(node, scope)
        if kind is ast.DurationLit:
            return duration_from_parts(node.parts)
        if kind is ast.DateTimeLit:
            return Time(node.ns)
        if kind is ast.RegexLit:
            try:
                return compile_regex(node.pattern)
            except Exception as exc:
                raise SemanticError(f"invalid regular expression: {exc}", node.loc) from None
        if kind is ast.ArrayExpr:
            return [self.eval(e, scope) for e in node.elements]
        if kind is ast.RecordExpr:
            record: dict = {}
            if node.with_ is not None:
                base = self.eval(node.with_, scope)
                if not isinstance(base, dict):
                    raise SemanticError("with requires a record", node.with_.loc)
                record.update(base)
            for key, value in node.props:
                record[key] = self.eval(value, scope)
            return record
        if kind is ast.IndexExpr:
            obj = self.eval(node.obj, scope)
            index = self.eval(node.index, scope)
            if isinstance(obj, list) and isinstance(index, int):
                if not 0 <= index < len(obj):
                    raise SemanticError(f"array index {index} out of bounds", node.loc)
                return obj[index]
            if isinstance(obj, dict) and isinstance(index, str):
                return obj.get(index)
            raise SemanticError(f"cannot index {type_name(obj)}", node.loc)
        if kind is ast.ConditionalExpr:
            test = self.eval(node.test, scope)
            branch = node.consequent if test is True else node.alternate
            return self.eval(branch, scope)
        raise SemanticError(f"unsupported expression {kind.__name__}", node.loc)

    def _member(self, obj: object, prop: str, node: ast.MemberExpr) -> object:
        if isinstance(obj, dict):
            if prop in obj:
                return obj[prop]
            if obj.get("__package__"):
                raise function_not_supported(f"{obj['__package__']}.{prop}")
            return None
        if obj is None:
            return None
        raise SemanticError(f"cannot access property {prop} of {type_name(obj)}", node.loc)

    @staticmethod
    def _bool(value: object, node: ast.Node) -> bool:
        if isinstance(value, bool):
            return value
        raise SemanticError(f"expected bool, got {type_name(value)}", node.loc)

    def _binary(self, node: ast.BinaryExpr, scope: Scope) -> object:
        left = self.eval(node.left, scope)
        right = self.eval(node.right, scope)
        return binary_op(node.op, left, right, node.loc)

    # -- calls ----------------------------------------------------------------------------------
    def _call(self, node: ast.CallExpr, scope: Scope, piped: object) -> object:
        fn = self.eval(node.callee, scope)
        args = {name: self.eval(value, scope) for name, value in node.args}
        return self.call_function(fn, args, node.loc, piped, piped_given=piped is not None)

    def call_function(
        self, fn: object, args: dict, loc: tuple, piped: object = None, piped_given: bool = False
    ) -> object:
        if isinstance(fn, Builtin):
            spec = fn.impl
            params, required = spec.params, spec.required
            for name in args:
                if name not in params:
                    raise SemanticError(f"{fn.name}: unexpected argument {name}", loc)
            if piped_given:
                if fn.pipe is None:
                    raise SemanticError(f"{fn.name} does not take piped input", loc)
                args = dict(args)
                args[fn.pipe] = piped
            for name in required:
                if name not in args:
                    raise SemanticError(f"{fn.name}: missing required argument {name}", loc)
            value = spec(Call(self, fn.name, args, loc))
            if isinstance(value, Stream):
                self.steps.append((fn.name, value))
            return value
        if isinstance(fn, Closure):
            return self.call_closure(fn, args, loc, piped, piped_given)
        raise SemanticError(f"cannot call a value of type {type_name(fn)}", loc)

    def call_closure(
        self,
        fn: Closure,
        args: dict,
        loc: tuple = (0, 0, 0, 0),
        piped: object = None,
        piped_given: bool = False,
    ) -> object:
        node: ast.FunctionExpr = fn.node  # type: ignore[assignment]
        variables: dict = {}
        names = {p.name for p in node.params}
        for name in args:
            if name not in names:
                raise SemanticError(f"function {fn.name}: unexpected argument {name}", loc)
        for param in node.params:
            if param.pipe:
                if not piped_given:
                    raise SemanticError(f"function {fn.name}: missing piped input", loc)
                variables[param.name] = piped
            elif param.name in args:
                variables[param.name] = args[param.name]
            elif param.default is not None:
                variables[param.name] = self.eval(param.default, fn.scope)  # type: ignore[arg-type]
            else:
                raise SemanticError(
                    f"function {fn.name}: missing required argument {param.name}", loc
                )
        return self.eval_body(node.body, Scope(variables, fn.scope))  # type: ignore[arg-type]

    def eval_body(self, body: ast.Node, scope: Scope) -> object:
        if isinstance(body, ast.Block):
            for stmt in body.body:
                if isinstance(stmt, ast.ReturnStmt):
                    return self.eval(stmt.expr, scope)
                self._statement(stmt, scope)
            return None
        return self.eval(body, scope)


def binary_op(op: str, left: object, right: object, loc: tuple) -> object:
    """Flux's binary operators on evaluated operands (null in, null out)."""
    if left is None or right is None:
        return None
    if op in ("=~", "!~"):
        if not isinstance(left, str) or not isinstance(right, Regex):
            raise SemanticError(
                f"{op} needs a string and a regex, got {type_name(left)} and {type_name(right)}",
                loc,
            )
        matched = right.search(left)
        return matched if op == "=~" else not matched
    compare = _COMPARE.get(op)
    if compare is not None:
        if isinstance(left, str) != isinstance(right, str) or (
            isinstance(left, bool) != isinstance(right, bool)
        ):
            raise SemanticError(f"cannot compare {type_name(left)} with {type_name(right)}", loc)
        return compare(left, right)
    if isinstance(left, Time) and isinstance(right, Duration) and op in ("+", "-"):
        return add_duration(left, right if op == "+" else -right)
    if isinstance(left, Duration) and isinstance(right, Time) and op == "+":
        return add_duration(right, left)
    if isinstance(left, str) and isinstance(right, str) and op == "+":
        return left + right
    numeric = (int, float)
    if (
        not isinstance(left, numeric)
        or not isinstance(right, numeric)
        or isinstance(left, bool | Time)
        or isinstance(right, bool | Time)
        or isinstance(left, float) != isinstance(right, float)
    ):
        raise SemanticError(
            f"unsupported operand types for {op}: {type_name(left)} and {type_name(right)}",
            loc,
        )
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if op in ("/", "%"):
        if right == 0:
            if isinstance(left, float):
                return _float_div_zero(left) if op == "/" else float("nan")
            raise FluxError("cannot divide by zero")
        if isinstance(left, float):
            return left / right if op == "/" else _fmod(left, right)
        quotient = abs(left) // abs(right) * (1 if (left >= 0) == (right >= 0) else -1)
        return quotient if op == "/" else left - quotient * right
    if op == "^":
        return float(left) ** float(right)
    raise SemanticError(f"unsupported operator {op}", loc)


def _float_div_zero(left: float) -> float:
    if left == 0 or left != left:
        return float("nan")
    return float("inf") if left > 0 else float("-inf")


def _fmod(left: float, right: float) -> float:
    import math

    return math.fmod(left, right)
