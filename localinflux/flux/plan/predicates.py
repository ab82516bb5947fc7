"""What a row function reads: the analysis that decides which filters can prune series."""

from __future__ import annotations

from collections.abc import Callable

from .. import ast


def referenced_columns(node: ast.Node, param: str) -> set[str] | None:
    """Columns of ``param`` the expression reads; None if it uses the record in another way."""
    found: set[str] = set()
    ok = True

    def walk(n: ast.Node | ast.Param) -> None:
        nonlocal ok
        if (
            isinstance(n, ast.MemberExpr)
            and isinstance(n.obj, ast.Identifier)
            and n.obj.name == param
        ):
            found.add(n.prop)
            return
        if isinstance(n, ast.Identifier):
            if n.name == param:
                ok = False
            return
        if isinstance(n, ast.FunctionExpr) and any(p.name == param for p in n.params):
            return  # the parameter is shadowed inside
        for child in ast.child_nodes(n):
            walk(child)

    walk(node)
    return found if ok else None


def conjuncts(node: ast.Node) -> list[ast.Node]:
    if isinstance(node, ast.LogicalExpr) and node.op == "and":
        return conjuncts(node.left) + conjuncts(node.right)
    return [node]


def union_terms_of(pred: Callable, cols: tuple[str, ...]) -> tuple | None:
    """The predicate's ``union_terms`` (see ``compiled``) if they cover exactly ``cols``."""
    terms = getattr(pred, "union_terms", None)
    if terms is None or {col for col, _ in terms} != set(cols):
        return None
    return terms
