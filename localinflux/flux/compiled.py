"""Row predicates compiled to Python closures.

``filter`` calls its function once per row; walking the syntax tree each time costs about 4 µs a
row. Compiling the common shapes (``r.col <op> constant``, ``and``/``or``/``not``, regex
matches) into closures keeps the exact semantics of the interpreter (it reuses ``binary_op``)
at a fraction of the cost. Anything else falls back to the interpreter for that sub-expression.

A compiled predicate that is true exactly when one column holds one of a known set of strings
(``r.c == "a"``, ``r.c =~ /^(?:a|b)$/``, and ``or``/``and`` of those on the same column) carries
that set as ``equals_any`` and the column as ``column``, so the series index can look the values
up instead of trying every value it holds. An ``or`` of such predicates on *different* columns
(``r.device == "a" or r.clientId == "a"``) is true exactly when one of its columns holds one of
its strings: it carries ``union_terms``, ``((column, strings), ...)``, and the index answers it
as the union of the per-column lookups.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import lru_cache

from . import ast
from .interpreter import _COMPARE, Interpreter, Scope, binary_op
from .values import Regex, Time

RowFn = Callable[[dict], object]


# Whether a node reads ``param``, by (node id, param): compiling asks it of every node on the
# way down. The first question about a tree answers it for every node under it in one walk.
# Entries hold their node, so an id is never another node's while its entry lives; the memo
# is emptied when it grows large.
_USES: dict[tuple[int, str], tuple[object, bool]] = {}
_USES_MAX = 50_000


def _uses(node: object, param: str) -> bool:
    if isinstance(node, list | tuple):
        return any(_uses(item, param) for item in node)
    if not isinstance(node, ast.Node | ast.Param):
        return False
    found = _USES.get((id(node), param))
    if found is not None and found[0] is node:
        return found[1]
    if len(_USES) >= _USES_MAX:
        _USES.clear()
    return _walk_uses(node, param, _USES)


def _walk_uses(node: ast.Node | ast.Param, param: str, memo: dict) -> bool:
    """Whether ``node`` reads ``param``; records the answer of it and of each node under it."""
    if type(node) is ast.Identifier:
        result = node.name == param
    else:
        result = False
        for child in ast.child_nodes(node):
            found = memo.get((id(child), param))
            if found is not None and found[0] is child:
                result = result or found[1]
            elif _walk_uses(child, param, memo):
                result = True
    memo[(id(node), param)] = (node, result)
    return result


def compile_row_fn(interp: Interpreter, scope: Scope, param: str, node: ast.Node) -> RowFn:
    """A function of one record that evaluates ``node`` with ``param`` bound to the record."""
    if not _uses(node, param):
        value = interp.eval(node, scope)
        return lambda record: value

    obj = node.obj if isinstance(node, ast.MemberExpr) else None
    if isinstance(obj, ast.Identifier) and obj.name == param:
        prop = node.prop
        return lambda record: record.get(prop)

    if isinstance(node, ast.BinaryExpr):
        return _compile_binary(interp, scope, param, node)

    if isinstance(node, ast.LogicalExpr):
        left = compile_row_fn(interp, scope, param, node.left)
        right = compile_row_fn(interp, scope, param, node.right)
        fallback = _interpreted(interp, scope, param, node)
        same = _same_column_sets(left, right)
        if node.op == "and":

            def conj(record: dict) -> object:
                a = left(record)
                if a is False:
                    return False
                b = right(record)
                if b is False:
                    return False
                if a is True and b is True:
                    return True
                return fallback(record)  # nulls and type errors, exactly as interpreted

            if same is not None:
                _mark(conj, same[0], same[1] & same[2])
            return conj

        def disj(record: dict) -> object:
            a = left(record)
            if a is True:
                return True
            b = right(record)
            if b is True:
                return True
            if a is False and b is False:
                return False
            return fallback(record)

        if same is not None:
            _mark(disj, same[0], same[1] | same[2])
        else:
            terms = _union_terms(left, right)
            if terms is not None:
                disj.union_terms = terms  # type: ignore[attr-defined]
        return disj

    if isinstance(node, ast.UnaryExpr) and node.op in ("not", "exists"):
        arg = compile_row_fn(interp, scope, param, node.arg)
        if node.op == "exists":
            return lambda record: arg(record) is not None
        fallback = _interpreted(interp, scope, param, node)

        def negate(record: dict) -> object:
            value = arg(record)
            if value is True:
                return False
            if value is False:
                return True
            return fallback(record)

        return negate

    if isinstance(node, ast.ConditionalExpr):
        test = compile_row_fn(interp, scope, param, node.test)
        then = compile_row_fn(interp, scope, param, node.consequent)
        other = compile_row_fn(interp, scope, param, node.alternate)
        return lambda record: then(record) if test(record) is True else other(record)

    if isinstance(node, ast.CallExpr):
        scalar = _scalar_call(interp, scope, param, node)
        if scalar is not None:
            return scalar

    return _interpreted(interp, scope, param, node)


def _scalar_call(interp: Interpreter, scope: Scope, param: str, node: ast.CallExpr) -> RowFn | None:
    """A call of a built-in that has a plain Python form (``scalar``, e.g. ``strings.toLower``)
    with its arguments compiled: no interpreter per row. None for any other call."""
    if _uses(node.callee, param):
        return None
    fn = interp.eval(node.callee, scope)
    spec = getattr(fn, "impl", None)
    scalar = getattr(getattr(spec, "fn", None), "scalar", None)
    if scalar is None or {name for name, _ in node.args} != set(spec.required):
        return None  # missing or unexpected arguments: the interpreter's error
    args = [(name, compile_row_fn(interp, scope, param, value)) for name, value in node.args]
    fallback = _interpreted(interp, scope, param, node)
    params = list(inspect.signature(scalar).parameters)
    if len(args) in (1, 2) and sorted(params) == sorted(name for name, _ in args):
        # Positional, in the function's own order: no dict of arguments per row.
        fns = [dict(args)[name] for name in params]
        if len(fns) == 1:
            [only] = fns

            def call1(record: dict) -> object:
                v = only(record)
                if type(v) is str or v is None:
                    return scalar(v)
                return fallback(record)

            return call1
        first, second = fns

        def call2(record: dict) -> object:
            a, b = first(record), second(record)
            if (type(a) is str or a is None) and (type(b) is str or b is None):
                return scalar(a, b)
            return fallback(record)

        return call2

    def call(record: dict) -> object:
        values = {name: arg(record) for name, arg in args}
        if all(type(v) is str or v is None for v in values.values()):
            return scalar(**values)
        return fallback(record)  # wrong types: the interpreter's error

    return call


def _mark(fn: RowFn, column: str, values: frozenset) -> None:
    fn.column = column  # type: ignore[attr-defined]
    fn.equals_any = values  # type: ignore[attr-defined]


def _same_column_sets(left: RowFn, right: RowFn) -> tuple[str, frozenset, frozenset] | None:
    column = getattr(left, "column", None)
    if column is None or getattr(right, "column", None) != column:
        return None
    return column, left.equals_any, right.equals_any  # type: ignore[attr-defined]


def _terms(fn: RowFn) -> tuple[tuple[str, frozenset], ...] | None:
    """``((column, strings), ...)``: ``fn`` is true exactly when one of the columns holds one
    of its strings; None when ``fn`` is not known to be of that shape."""
    column = getattr(fn, "column", None)
    if column is not None:
        return ((column, fn.equals_any),)  # type: ignore[attr-defined]
    return getattr(fn, "union_terms", None)


def _union_terms(left: RowFn, right: RowFn) -> tuple[tuple[str, frozenset], ...] | None:
    """The terms of ``left or right``, each column once, or None if either side is opaque."""
    a, b = _terms(left), _terms(right)
    if a is None or b is None:
        return None
    merged: dict[str, frozenset] = {}
    for column, values in a + b:
        merged[column] = merged.get(column, frozenset()) | values
    return tuple(sorted(merged.items()))


_REGEX_META = set(".^$|?*+()[]{}")


@lru_cache(maxsize=256)
def literal_alternatives(pattern: str) -> frozenset[str] | None:
    """The strings an anchored alternation of literals matches, e.g. ``^(?:a|b\\.c)$``.

    None for any other pattern. RE2's ``$`` (no multi-line flag) matches only at the end of
    the text, so such a pattern matches exactly these strings and a set lookup is equivalent.
    """
    if len(pattern) < 2 or pattern[0] != "^" or pattern[-1] != "$":
        return None
    body = pattern[1:-1]
    grouped = False
    for opening in ("(?:", "("):
        if body.startswith(opening) and body.endswith(")"):
            body, grouped = body[len(opening) : -1], True
            break
    alternatives: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            if i + 1 >= len(body):
                return None  # the final "$" was escaped: a literal dollar, not an anchor
            nxt = body[i + 1]
            if not (nxt.isascii() and not nxt.isalnum() and not nxt.isspace()):
                return None  # \d, \b, \x41...: classes and escapes, not literals
            current.append(nxt)
            i += 2
            continue
        if ch == "|" and grouped:
            alternatives.append("".join(current))
            current = []
        elif ch in _REGEX_META:
            return None
        else:
            current.append(ch)
        i += 1
    alternatives.append("".join(current))
    return frozenset(alternatives)


def _interpreted(interp: Interpreter, scope: Scope, param: str, node: ast.Node) -> RowFn:
    def run(record: dict) -> object:
        return interp.eval(node, Scope({param: record}, scope))

    return run


def _compile_binary(interp: Interpreter, scope: Scope, param: str, node: ast.BinaryExpr) -> RowFn:
    op, loc = node.op, node.loc
    left = compile_row_fn(interp, scope, param, node.left)
    # The column compared, when the left side is just ``r.column``.
    target = node.left
    column = None
    if (
        isinstance(target, ast.MemberExpr)
        and isinstance(target.obj, ast.Identifier)
        and target.obj.name == param
    ):
        column = target.prop
    right_is_const = not _uses(node.right, param)
    if right_is_const:
        const = interp.eval(node.right, scope)
        compare = _COMPARE.get(op)
        if isinstance(const, Regex) and op in ("=~", "!~"):
            search = const.compiled.search  # type: ignore[attr-defined]
            want = op == "=~"
            literals = literal_alternatives(const.pattern)
            if literals is not None:

                def in_set(record: dict) -> object:
                    value = left(record)
                    if type(value) is str:
                        return (value in literals) is want
                    return binary_op(op, value, const, loc)

                if want and column is not None:
                    _mark(in_set, column, literals)
                return in_set

            def match(record: dict) -> object:
                value = left(record)
                if type(value) is str:
                    return (search(value) is not None) is want
                return binary_op(op, value, const, loc)

            return match
        if compare is not None and type(const) in (str, int, float):
            # Only the same plain type takes the fast path; everything else (null, mixed
            # types, errors) goes through binary_op so the answer is the interpreter's.
            const_type = type(const)
            fast_types = (int, float, Time) if const_type in (int, float) else (str,)

            def cmp(record: dict) -> object:
                value = left(record)
                if type(value) in fast_types:
                    return compare(value, const)
                return binary_op(op, value, const, loc)

            if op == "==" and const_type is str and column is not None:
                _mark(cmp, column, frozenset((const,)))
            return cmp
        return lambda record: binary_op(op, left(record), const, loc)
    right = compile_row_fn(interp, scope, param, node.right)
    return lambda record: binary_op(op, left(record), right(record), loc)
