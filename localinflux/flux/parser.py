"""Recursive-descent parser for the Flux subset, following the Flux spec's precedence levels."""

from __future__ import annotations

from localinflux.timefmt import parse_rfc3339

from . import ast
from .errors import CompileError
from .lexer import Token, tokenize

_COMPARISON = {"==", "!=", "<", "<=", ">", ">=", "=~", "!~"}
# Binary operators below ``and``/``or``, by precedence level (higher binds tighter).
_LEVELS = dict.fromkeys(_COMPARISON, 0) | dict.fromkeys(("+", "-"), 1)
_LEVELS |= dict.fromkeys(("*", "/", "%", "^"), 2)
_PIPE_LEVEL = 3
_LEVELS["|>"] = _PIPE_LEVEL


def _span(start: Token | ast.Node, end: Token | ast.Node) -> tuple[int, int, int, int]:
    a = start.loc
    b = end.loc
    return (a[0], a[1], b[2], b[3])


def _balanced(op: str, operands: list[ast.Node]) -> ast.Node:
    """Join ``a or b or c ...`` as a balanced tree, not a left-deep one.

    ``and``/``or`` are associative (also with nulls), and evaluation still runs left to right,
    but a filter listing hundreds of alternatives then nests log2(n) deep instead of n deep,
    which keeps the recursive evaluator far from Python's recursion limit.
    """
    if len(operands) == 1:
        return operands[0]
    mid = len(operands) // 2
    left = _balanced(op, operands[:mid])
    right = _balanced(op, operands[mid:])
    return ast.LogicalExpr(op, left, right, loc=_span(left, right))


class Parser:
    def __init__(self, text: str) -> None:
        self.toks = tokenize(text)
        self.i = 0
        self.tok: Token = self.toks[0]  # the current token, toks[i]
        self.prev = self.toks[0]

    # -- token helpers -------------------------------------------------------------------------

    def peek(self, offset: int = 1) -> Token:
        return self.toks[min(self.i + offset, len(self.toks) - 1)]

    def take(self) -> Token:
        tok = self.tok
        if tok.kind != "EOF":
            self.i += 1
            self.tok = self.toks[self.i]
        self.prev = tok
        return tok

    def accept(self, kind: str) -> Token | None:
        if self.tok.kind == kind:
            return self.take()
        return None

    def expect(self, kind: str, what: str | None = None) -> Token:
        if self.tok.kind == kind:
            return self.take()
        raise self.error(f"expected {what or kind}, got {self._describe(self.tok)}")

    def _describe(self, tok: Token) -> str:
        if tok.kind == "EOF":
            return "EOF"
        if tok.kind in ("IDENT", "INT", "FLOAT", "STRING", "DURATION", "TIME", "REGEX"):
            return f"{tok.kind} ({self._text(tok)})"
        return f"{tok.kind}"

    def _text(self, tok: Token) -> str:
        return str(tok.value)

    def error(self, message: str, tok: Token | None = None) -> CompileError:
        return CompileError(message, (tok or self.tok).loc)

    # -- file and statements -------------------------------------------------------------------
    def parse_file(self) -> ast.File:
        first = self.tok
        imports: list[ast.ImportDecl] = []
        body: list[ast.Node] = []
        if self.tok.kind == "package":
            self.take()
            self.expect("IDENT", "package name")
        while self.tok.kind == "import":
            start = self.take()
            alias = None
            if self.tok.kind == "IDENT":
                alias = self.take().value
            path = self.expect("STRING", "import path")
            imports.append(ast.ImportDecl(path.value, alias, loc=_span(start, path)))
        while self.tok.kind != "EOF":
            body.append(self.statement())
        return ast.File(imports, body, loc=_span(first, self.prev))

    def statement(self) -> ast.Node:
        tok = self.tok
        if tok.kind == "option":
            self.take()
            name = self.expect("IDENT", "option name")
            member_of = None
            if self.accept("."):
                member_of = name.value
                name = self.expect("IDENT", "option name")
            self.expect("=", "=")
            init = self.expression()
            return ast.OptionStmt(name.value, init, member_of, loc=_span(tok, init))
        if tok.kind == "return":
            self.take()
            expr = self.expression()
            return ast.ReturnStmt(expr, loc=_span(tok, expr))
        if tok.kind == "import":
            raise self.error("import declarations must come before any statement")
        if tok.kind == "IDENT" and self.peek().kind == "=":
            self.take()
            self.take()
            init = self.expression()
            return ast.VarAssign(tok.value, init, loc=_span(tok, init))
        expr = self.expression()
        return ast.ExprStmt(expr, loc=expr.loc)

    # -- expressions, lowest precedence first --------------------------------------------------
    def expression(self) -> ast.Node:
        if self.tok.kind == "if":
            start = self.take()
            test = self.expression()
            self.expect("then", "then")
            cons = self.expression()
            self.expect("else", "else")
            alt = self.expression()
            return ast.ConditionalExpr(test, cons, alt, loc=_span(start, alt))
        return self.logical_or()

    def logical_or(self) -> ast.Node:
        first = self.logical_and()
        if self.tok.kind != "or":
            return first
        operands = [first]
        while self.tok.kind == "or":
            self.take()
            operands.append(self.logical_and())
        return _balanced("or", operands)

    def logical_and(self) -> ast.Node:
        first = self.unary_logical() if self.tok.kind in ("not", "exists") else self._operators(0)
        if self.tok.kind != "and":
            return first
        operands = [first]
        while self.tok.kind == "and":
            self.take()
            operands.append(self.unary_logical())
        return _balanced("and", operands)

    def unary_logical(self) -> ast.Node:
        if self.tok.kind in ("not", "exists"):
            op = self.take()
            arg = self.unary_logical()
            return ast.UnaryExpr(op.kind, arg, loc=_span(op, arg))
        return self._operators(0)

    def _operators(self, min_level: int) -> ast.Node:
        """Comparison, additive, multiplicative and pipe expressions (all left-associative),
        by precedence climbing: an operand costs one call per level it is nested in, not one
        per precedence level of the grammar."""
        left = self.unary()
        levels = _LEVELS
        while True:
            level = levels.get(self.tok.kind)
            if level is None or level < min_level:
                return left
            bar = self.take()
            right = self._operators(level + 1)
            if level == _PIPE_LEVEL:
                if not isinstance(right, ast.CallExpr):
                    loc = right.loc or bar.loc
                    raise CompileError("pipe destination must be a function call", loc)
                left = ast.PipeExpr(left, right, loc=_span(left, right))
            else:
                left = ast.BinaryExpr(bar.kind, left, right, loc=_span(left, right))

    def unary(self) -> ast.Node:
        if self.tok.kind in ("-", "+"):
            op = self.take()
            arg = self.unary()
            return ast.UnaryExpr(op.kind, arg, loc=_span(op, arg))
        return self.postfix()

    def postfix(self) -> ast.Node:
        expr = self.primary()
        while True:
            if self.tok.kind == ".":
                self.take()
                name = self.expect("IDENT", "property name")
                expr = ast.MemberExpr(expr, name.value, loc=_span(expr, name))
            elif self.tok.kind == "[":
                self.take()
                index = self.expression()
                end = self.expect("]", "]")
                if isinstance(index, ast.StringLit):
                    expr = ast.MemberExpr(expr, index.value, loc=_span(expr, end))
                else:
                    expr = ast.IndexExpr(expr, index, loc=_span(expr, end))
            elif self.tok.kind == "(":
                expr = self.call_args(expr)
            else:
                return expr

    def call_args(self, callee: ast.Node) -> ast.CallExpr:
        self.expect("(")
        args: list[tuple[str, ast.Node]] = []
        seen: set[str] = set()
        while self.tok.kind != ")":
            name = self.expect("IDENT", "argument name")
            if self.tok.kind == ":":
                self.take()
                value = self.expression()
            else:
                # Shorthand ``f(x)`` passes the variable x as the argument named x.
                value = ast.Identifier(name.value, loc=name.loc)
            if name.value in seen:
                raise self.error(f"duplicate argument {name.value}", name)
            seen.add(name.value)
            args.append((name.value, value))
            if not self.accept(","):
                break
        end = self.expect(")", ")")
        return ast.CallExpr(callee, args, loc=_span(callee, end))

    def primary(self) -> ast.Node:
        tok = self.tok
        kind = tok.kind
        if kind == "IDENT":
            self.take()
            return ast.Identifier(tok.value, loc=tok.loc)
        if kind == "INT":
            self.take()
            return ast.IntLit(tok.value, loc=tok.loc)
        if kind == "FLOAT":
            self.take()
            return ast.FloatLit(tok.value, loc=tok.loc)
        if kind == "STRING":
            self.take()
            return ast.StringLit(tok.value, loc=tok.loc)
        if kind == "DURATION":
            self.take()
            return ast.DurationLit(tok.value, loc=tok.loc)
        if kind == "TIME":
            self.take()
            try:
                ns = parse_rfc3339(tok.value, allow_date=True)
            except ValueError:
                raise self.error(f"invalid date time literal {tok.value}", tok) from None
            return ast.DateTimeLit(ns, loc=tok.loc)
        if kind == "REGEX":
            self.take()
            return ast.RegexLit(tok.value, loc=tok.loc)
        if kind == "[":
            return self.array()
        if kind == "{":
            return self.record()
        if kind == "(":
            fn = self.try_function()
            if fn is not None:
                return fn
            self.take()
            expr = self.expression()
            self.expect(")", ")")
            return expr
        raise self.error(f"unexpected token {self._describe(tok)}", tok)

    def array(self) -> ast.ArrayExpr:
        start = self.expect("[")
        elements: list[ast.Node] = []
        while self.tok.kind != "]":
            elements.append(self.expression())
            if not self.accept(","):
                break
        end = self.expect("]", "]")
        return ast.ArrayExpr(elements, loc=_span(start, end))

    def record(self) -> ast.RecordExpr:
        start = self.expect("{")
        with_ = None
        if self.tok.kind == "IDENT" and self.peek().kind == "IDENT" and self.peek().value == "with":
            with_tok = self.take()
            with_ = ast.Identifier(with_tok.value, loc=with_tok.loc)
            self.take()
        props: list[tuple[str, ast.Node]] = []
        while self.tok.kind != "}":
            key = self.tok
            if key.kind not in ("IDENT", "STRING"):
                raise self.error(f"expected record property, got {self._describe(key)}", key)
            self.take()
            if self.accept(":"):
                value = self.expression()
            else:
                value = ast.Identifier(key.value, loc=key.loc)
            props.append((key.value, value))
            if not self.accept(","):
                break
        end = self.expect("}", "}")
        return ast.RecordExpr(props, with_, loc=_span(start, end))

    def try_function(self) -> ast.FunctionExpr | None:
        """Parse ``(params) => body`` if that is what follows, else rewind and return None."""
        saved = self.i
        start = self.take()  # "("
        params: list[ast.Param] = []
        try:
            while self.tok.kind != ")":
                if self.tok.kind != "IDENT":
                    raise _NotAFunction
                name = self.take().value
                param = ast.Param(name)
                if self.accept("="):
                    if self.accept("<-"):
                        param.pipe = True
                    else:
                        param.default = self.expression()
                params.append(param)
                if not self.accept(","):
                    break
            if self.tok.kind != ")" or self.peek().kind != "=>":
                raise _NotAFunction
        except (_NotAFunction, CompileError):
            self.i = saved
            self.tok = self.toks[saved]
            return None
        self.take()
        self.take()
        if self.tok.kind == "{" and self._looks_like_block():
            body: ast.Node = self.block()
        else:
            body = self.expression()
        return ast.FunctionExpr(params, body, loc=_span(start, body))

    def _looks_like_block(self) -> bool:
        # ``{ return ... }`` or ``{ x = ... }`` is a block; ``{a: 1}`` / ``{r with ...}`` a record.
        nxt, after = self.peek(), self.peek(2)
        if nxt.kind == "return":
            return True
        return nxt.kind == "IDENT" and after.kind == "="

    def block(self) -> ast.Block:
        start = self.expect("{")
        body: list[ast.Node] = []
        while self.tok.kind != "}":
            if self.tok.kind == "EOF":
                raise self.error("expected }, got EOF")
            body.append(self.statement())
        end = self.expect("}", "}")
        return ast.Block(body, loc=_span(start, end))


class _NotAFunction(Exception):
    pass


def parse(text: str) -> ast.File:
    return Parser(text).parse_file()
