"""`auger --emit ast`: the AST as an indented tree, one node per line, each
child two spaces deeper than its parent. Literal values, names and operators
are on the node's line."""

from __future__ import annotations

import json

from . import ast


def format_ast(program: ast.Program) -> str:
    lines: list[str] = []
    # An explicit stack: generated programs can nest deeper than Python recurses.
    stack: list[tuple[int, object]] = [(0, program)]
    while stack:
        depth, item = stack.pop()
        if isinstance(item, str):  # a heading for the children that follow it
            lines.append("  " * depth + item)
            continue
        label, children = _describe(item)
        if label is not None:
            lines.append("  " * depth + label)
            depth += 1
        for child in reversed(children):
            if isinstance(child, _Heading):
                stack.append((depth + 1, child.node))
                stack.append((depth, child.title))
            else:
                stack.append((depth, child))
    return "\n".join(lines) + "\n"


class _Heading:
    """A line naming the role of the node under it (`predicate`, `else`)."""

    def __init__(self, title: str, node: ast.Node):
        self.title = title
        self.node = node


def format_type(type_ref: ast.TypeRef) -> str:
    text = type_ref.name
    if type_ref.pointer_depth:
        text += " " + "*" * type_ref.pointer_depth
    if type_ref.array_length is not None:
        text += f"[{type_ref.array_length or ''}]"
    return text


def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _parameter(param: ast.Expr) -> str:
    match param:
        case ast.Variable():
            return "$" + param.name
        case ast.MapRef():
            return param.display_name
        case ast.Identifier():
            return param.name
    return type(param).__name__


def _describe(node: ast.Node) -> tuple[str | None, list]:
    """The node's own line (None for a node shown only through its children)
    and its children in order."""
    match node:
        case ast.Program():
            return "program", [*node.preprocessor, *node.c_definitions,
                               *([node.config] if node.config else []),
                               *node.map_decls, *node.macros, *node.probes]
        case ast.Preprocessor():
            return f"#{node.directive} {node.text}".rstrip(), []
        case ast.CRecord():
            return f"{node.kind} {node.name}", list(node.fields)
        case ast.CField():
            return f"field {format_type(node.type)} {node.name}", []
        case ast.CEnum():
            return f"enum {node.name}", list(node.members)
        case ast.CEnumMember():
            value = "" if node.value is None else f" = {node.value}"
            return f"{node.name}{value}", []
        case ast.CTypedef():
            return f"typedef {format_type(node.type)} {node.name}", []
        case ast.Config():
            return "config", list(node.entries)
        case ast.ConfigEntry():
            return f"{node.name} =", [node.value]
        case ast.MapDecl():
            return f"let @{node.name} = {node.kind}({node.size})", []
        case ast.Macro():
            params = ", ".join(_parameter(p) for p in node.params)
            return f"macro {node.name}({params})", [node.body]
        case ast.Probe():
            children = [node.body]
            if node.predicate is not None:
                children.insert(0, _Heading("predicate", node.predicate))
            return "probe " + ", ".join(a.text for a in node.attach_points), children
        case ast.Block():
            return "block", list(node.statements)
        case ast.ExprStatement():
            return None, [node.expr]
        case ast.Assignment():
            return f"assign {node.op}", [node.target, node.value]
        case ast.VarDecl():
            declared = f": {format_type(node.type)}" if node.type else ""
            return f"let ${node.variable.name}{declared}", [node.value] if node.value else []
        case ast.If():
            children = [node.condition, node.then]
            if node.otherwise is not None:
                children.append(_Heading("else", node.otherwise))
            return "if", children
        case ast.Unroll():
            return "unroll", [node.count, node.body]
        case ast.While():
            return "while", [node.condition, node.body]
        case ast.ForMap():
            return f"for ${node.variable.name} : @{node.map.name}", [node.map, node.body]
        case ast.ForRange():
            return f"for ${node.variable.name} : range", [node.start, node.end, node.body]
        case ast.Break():
            return "break", []
        case ast.Continue():
            return "continue", []
        case ast.Return():
            return "return", [node.value] if node.value else []
        case ast.IntLiteral():
            written = "" if node.text == str(node.value) else f" ({node.text})"
            return f"int {node.value}{written}", []
        case ast.StringLiteral():
            return f"string {_quoted(node.value)}", []
        case ast.BoolLiteral():
            return f"bool {'true' if node.value else 'false'}", []
        case ast.PositionalParam():
            return f"positional ${node.index}", []
        case ast.PositionalCount():
            return "positional count $#", []
        case ast.Identifier():
            return f"identifier {node.name}", []
        case ast.Variable():
            return f"variable ${node.name}", []
        case ast.MapRef():
            return f"map {node.display_name}", list(node.keys)
        case ast.Call():
            return f"call {node.name}", list(node.args)
        case ast.TypeRef():
            return f"type {format_type(node)}", []
        case ast.Unary():
            return f"unary {node.op}", [node.operand]
        case ast.IncDec():
            return f"{'prefix' if node.prefix else 'postfix'} {node.op}", [node.target]
        case ast.Binary():
            return node.op, [node.left, node.right]
        case ast.Ternary():
            return "?:", [node.condition, node.then, node.otherwise]
        case ast.Cast():
            return f"cast ({format_type(node.type)})", [node.operand]
        case ast.FieldAccess():
            return f"{'->' if node.arrow else '.'} {node.field}", [node.operand]
        case ast.Index():
            return "[]", [node.operand, node.index]
        case ast.TupleExpr():
            return "tuple", list(node.elements)
        case ast.RecordExpr():
            return "record", list(node.fields)
        case ast.RecordField():
            return f"{node.name} =", [node.value]
    return type(node).__name__, list(node.children())
