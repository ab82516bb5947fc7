"""Syntax tree of the Flux subset; every node carries its source location for error messages."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from .errors import Loc

NO_LOC: Loc = (0, 0, 0, 0)


@dataclass
class Node:
    loc: Loc = field(default=NO_LOC, kw_only=True)


@dataclass
class Identifier(Node):
    name: str


@dataclass
class IntLit(Node):
    value: int


@dataclass
class FloatLit(Node):
    value: float


@dataclass
class StringLit(Node):
    value: str


@dataclass
class BoolLit(Node):
    value: bool


@dataclass
class DurationLit(Node):
    parts: list[tuple[int, str]]  # (magnitude, unit) pairs as written, e.g. 1h30m


@dataclass
class DateTimeLit(Node):
    ns: int


@dataclass
class RegexLit(Node):
    pattern: str


@dataclass
class ArrayExpr(Node):
    elements: list[Node]


@dataclass
class RecordExpr(Node):
    props: list[tuple[str, Node]]
    with_: Node | None = None


@dataclass
class MemberExpr(Node):
    obj: Node
    prop: str


@dataclass
class IndexExpr(Node):
    obj: Node
    index: Node


@dataclass
class CallExpr(Node):
    callee: Node
    args: list[tuple[str, Node]]


@dataclass
class PipeExpr(Node):
    arg: Node
    call: CallExpr


@dataclass
class Param:
    name: str
    default: Node | None = None
    pipe: bool = False  # declared as ``tables=<-``


@dataclass
class FunctionExpr(Node):
    params: list[Param]
    body: Node  # an expression or a Block


@dataclass
class Block(Node):
    body: list[Node]


@dataclass
class BinaryExpr(Node):
    op: str
    left: Node
    right: Node


@dataclass
class LogicalExpr(Node):
    op: str  # "and" | "or"
    left: Node
    right: Node


@dataclass
class UnaryExpr(Node):
    op: str  # "-", "+", "not", "exists"
    arg: Node


@dataclass
class ConditionalExpr(Node):
    test: Node
    consequent: Node
    alternate: Node


@dataclass
class ImportDecl(Node):
    path: str
    alias: str | None = None


@dataclass
class OptionStmt(Node):
    name: str
    init: Node
    member_of: str | None = None  # ``option pkg.name = ...``


@dataclass
class VarAssign(Node):
    name: str
    init: Node


@dataclass
class ExprStmt(Node):
    expr: Node


@dataclass
class ReturnStmt(Node):
    expr: Node


@dataclass
class File(Node):
    imports: list[ImportDecl]
    body: list[Node]


# The fields of each node class that can hold nodes (not its location, names or literal values).
_SCALAR_TYPES = frozenset(("str", "int", "float", "bool", "str | None", "Loc"))
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}


def child_nodes(node: Node | Param) -> list[Node | Param]:
    """The nodes (and parameters) directly under ``node``, in field order; list items and the
    nodes inside ``(name, node)`` pairs included. What analyses walk instead of ``vars``."""
    names = _CHILD_FIELDS.get(type(node))
    if names is None:
        names = _CHILD_FIELDS[type(node)] = tuple(
            f.name for f in fields(node) if f.type not in _SCALAR_TYPES
        )
    out: list[Node | Param] = []
    for name in names:
        value = getattr(node, name)
        if isinstance(value, Node | Param):
            out.append(value)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, Node | Param):
                    out.append(item)
                elif isinstance(item, tuple):
                    out.extend(x for x in item if isinstance(x, Node | Param))
    return out
