"""A small, readable rule language compiled to engine (Ibis) expressions.

Conditions are Python-like expressions over indicator fields and pack parameters::

    income_pc_12m < monitoring_line
    inpatient_oop_max >= if_else(former_poor, inpatient_oop_poor, inpatient_oop_other)
    house_grade in ['C', 'D'] or water_quality == '否'

Allowed: ``and``/``or``/``not``, comparisons (also chained), ``+ - * /``, ``in``
with a list of constants, numbers, strings, ``True``/``False``, field and parameter
names, and the functions ``if_else(c, a, b)``, ``coalesce(a, b, ...)``,
``is_null(x)``, and the look-backs ``min_over(field, months)`` (the field's lowest
value over the last ``months`` periods including this one; unknown when a period
has no value), ``max_over(field, months)`` and ``sum_over(field, months)`` (highest
value and total over the periods that have one).
Anything else is rejected when the pack is loaded.

Unknowns: a comparison with a NULL field is NULL; the screen treats a NULL
condition as "cannot be evaluated" (the rule's ``unknown`` setting decides whether
that yields a needs-verification outcome). NULLs are never silently false.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from typing import Any

import ibis

from povguard.errors import ConfigError

#: Look-back functions: ``<name>(field, months)`` over the indicators of past periods.
HISTORY_FUNCS = frozenset({"min_over", "max_over", "sum_over"})
_FUNCS = {"if_else", "coalesce", "is_null", *HISTORY_FUNCS}
_CMP: dict[type, Callable[[Any, Any], Any]] = {
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
}
_BIN: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
}


def parse(text: str, where: str) -> ast.Expression:
    """Parse and check a condition; ``where`` names file and rule in errors."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ConfigError(f"{where}: cannot parse condition {text!r}: {exc.msg}") from exc
    for node in ast.walk(tree):
        ok = isinstance(
            node,
            (
                ast.Expression,
                ast.BoolOp,
                ast.And,
                ast.Or,
                ast.UnaryOp,
                ast.Not,
                ast.USub,
                ast.Compare,
                ast.BinOp,
                ast.Name,
                ast.Load,
                ast.Constant,
                ast.Call,
                ast.List,
                ast.In,
                ast.NotIn,
                *_CMP,
                *_BIN,
            ),
        )
        if not ok:
            raise ConfigError(f"{where}: {type(node).__name__} is not allowed in {text!r}")
        if isinstance(node, ast.Call) and not (
            isinstance(node.func, ast.Name) and node.func.id in _FUNCS
        ):
            raise ConfigError(f"{where}: only {sorted(_FUNCS)} may be called in {text!r}")
        fname = getattr(getattr(node, "func", None), "id", None)
        if isinstance(node, ast.Call) and fname in HISTORY_FUNCS:
            args = node.args
            if not (
                len(args) == 2
                and isinstance(args[0], ast.Name)
                and isinstance(args[1], (ast.Name, ast.Constant))
            ):
                raise ConfigError(f"{where}: {fname}(field, months) takes a field and a number")
    return tree


#: One look-back: (function, field, months).
HistoryCall = tuple[str, str, int]


def history_column(call: HistoryCall) -> str:
    """Name of the column that holds a look-back (``min_over__income_pc_12m__6``)."""
    func, field, months = call
    return f"{func}__{field}__{months}"


def history_calls(tree: ast.Expression, params: Mapping[str, Any]) -> set[HistoryCall]:
    """Every look-back call of a condition, months resolved from ``params``."""
    out: set[HistoryCall] = set()
    for node in ast.walk(tree):
        func = getattr(getattr(node, "func", None), "id", None)
        if isinstance(node, ast.Call) and func in HISTORY_FUNCS:
            field, months = node.args
            assert isinstance(field, ast.Name) and func is not None
            n = params[months.id] if isinstance(months, ast.Name) else months.value  # type: ignore[attr-defined]
            out.add((func, field.id, int(n)))
    return out


def names(tree: ast.Expression) -> set[str]:
    """Field and parameter names used by a parsed condition (not function names)."""
    funcs = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in funcs}


def compile_condition(tree: ast.Expression, table: Any, params: Mapping[str, Any]) -> Any:
    """Compile a parsed condition against an Ibis ``table`` and parameter values."""

    def go(node: ast.AST) -> Any:  # noqa: PLR0911 - one return per node type
        if isinstance(node, ast.Expression):
            return go(node.body)
        if isinstance(node, ast.BoolOp):
            values = [go(v) for v in node.values]
            out = values[0]
            for v in values[1:]:
                out = (out & v) if isinstance(node.op, ast.And) else (out | v)
            return out
        if isinstance(node, ast.UnaryOp):
            v = go(node.operand)
            return ~v if isinstance(node.op, ast.Not) else -v
        if isinstance(node, ast.Compare):
            left = go(node.left)
            result = None
            for op, comp in zip(node.ops, node.comparators, strict=True):
                if isinstance(op, (ast.In, ast.NotIn)):
                    assert isinstance(comp, ast.List)
                    values = [c.value for c in comp.elts if isinstance(c, ast.Constant)]
                    part = left.isin(values)
                    part = ~part if isinstance(op, ast.NotIn) else part
                    right = left
                else:
                    right = go(comp)
                    part = _CMP[type(op)](left, right)
                result = part if result is None else (result & part)
                left = right
            return result
        if isinstance(node, ast.BinOp):
            return _BIN[type(node.op)](go(node.left), go(node.right))
        if isinstance(node, ast.Constant):
            return ibis.literal(node.value)
        if isinstance(node, ast.Name):
            if node.id in params:
                return ibis.literal(params[node.id])
            return table[node.id]
        if isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name)
            if node.func.id in HISTORY_FUNCS:
                call = next(iter(history_calls(ast.Expression(body=node), params)))
                return table[history_column(call)]
            args = [go(a) for a in node.args]
            if node.func.id == "if_else":
                return ibis.ifelse(args[0], args[1], args[2])
            if node.func.id == "coalesce":
                return ibis.coalesce(*args)
            return args[0].isnull()
        raise ConfigError(f"unsupported expression {ast.dump(node)}")  # pragma: no cover

    return go(tree)
