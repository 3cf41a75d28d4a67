"""Macro expansion: `macro name($v, @m, ident) { ...; value }` calls are
replaced by the macro's body, before anything else checks the program.

A call inside a statement puts the body's statements just before that
statement and stands for the body's final expression (its value). Arguments
bind by kind: a `$v` parameter aliases a variable argument, or takes any other
expression's value once in a fresh variable; an `@m` parameter renames the
map argument; a bare `ident` parameter is replaced by the argument expression.
Variables the body assigns are renamed apart (`$__macro1_x`) so a macro never
touches its caller's variables except through parameters. The new tree is
built with `dataclasses.replace`; the input is not changed.
"""

from __future__ import annotations

import dataclasses
import itertools

from auger.compiler import ast

from .reporter import Reporter
from .rewrite import rewrite


class _Expander:
    def __init__(self, macros: dict[str, ast.Macro], reporter: Reporter) -> None:
        self.macros = macros
        self.reporter = reporter
        self.active: list[str] = []  # the expansion stack, to catch recursion
        self.counter = itertools.count(1)

    def block(self, block: ast.Block) -> ast.Block:
        statements: list[ast.Statement] = []
        for statement in block.statements:
            if _is_macro_statement(statement, self.macros):
                prelude, value = self.call(statement.expr, need_value=False)
                statements.extend(prelude)
                if value is not None:
                    statements.append(ast.ExprStatement(statement.span, value))
                continue
            prelude: list[ast.Statement] = []
            expanded = self.statement(statement, prelude)
            statements.extend(prelude)
            statements.append(expanded)
        return dataclasses.replace(block, statements=tuple(statements))

    def statement(self, statement: ast.Statement, prelude: list[ast.Statement]) -> ast.Statement:
        if isinstance(statement, ast.While):
            # The condition runs on every iteration: no statements may precede it.
            return dataclasses.replace(statement, condition=self.expression(statement.condition, None),
                                       body=self.block(statement.body))
        return rewrite(statement, lambda node: self._replace(node, prelude))

    def expression(self, expr: ast.Expr, prelude: list[ast.Statement] | None) -> ast.Expr:
        """`expr` with macro calls expanded; with no prelude allowed (a
        predicate, a loop condition) a macro with statements is an error."""
        collected: list[ast.Statement] = []
        expanded = rewrite(expr, lambda node: self._replace(node, collected))
        if collected and prelude is None:
            self.reporter.error("A macro with statements cannot be used in a predicate or loop condition", expr.span)
        elif prelude is not None:
            prelude.extend(collected)
        return expanded

    def _replace(self, node: ast.Node, prelude: list[ast.Statement]) -> ast.Node | None:
        if isinstance(node, ast.Block):
            return self.block(node)
        if isinstance(node, ast.Call) and node.name in self.macros:
            statements, value = self.call(node, need_value=True)
            prelude.extend(statements)
            return value if value is not None else ast.IntLiteral(node.span, 0, "0")
        return None

    def call(self, call: ast.Call, need_value: bool) -> tuple[list[ast.Statement], ast.Expr | None]:
        macro = self.macros[call.name]
        if call.name in self.active:
            chain = " -> ".join([*self.active[self.active.index(call.name):], call.name])
            self.reporter.error(f"Recursive macro call detected: {chain}", call.span)
            return [], None
        if len(call.args) != len(macro.params):
            self.reporter.error(
                f"Call to macro '{macro.name}' has the wrong number of arguments: "
                f"{len(macro.params)} expected, {len(call.args)} provided",
                call.span,
            )
            return [], None
        prelude: list[ast.Statement] = []
        arguments = [self.expression(argument, prelude) if isinstance(argument, ast.Expr) else argument
                     for argument in call.args]
        number = next(self.counter)
        bindings = self._bind(macro, call, arguments, number, prelude)
        if bindings is None:
            return prelude, None
        body = _substitute(macro.body, bindings, number)
        self.active.append(call.name)
        try:
            body = self.block(body)
        finally:
            self.active.pop()
        statements = list(body.statements)
        value = None
        if statements and isinstance(statements[-1], ast.ExprStatement):
            value = statements.pop().expr
        elif need_value:
            self.reporter.error(f"Macro '{macro.name}' has no value: its body does not end with an expression", call.span)
        return prelude + statements, value

    def _bind(self, macro: ast.Macro, call: ast.Call, arguments, number: int,
              prelude: list[ast.Statement]) -> dict[tuple[type, str], ast.Expr] | None:
        bindings: dict[tuple[type, str], ast.Expr] = {}
        ok = True
        for parameter, argument in zip(macro.params, arguments):
            if isinstance(parameter, ast.MapRef):
                if not (isinstance(argument, ast.MapRef) and not argument.keys):
                    self.reporter.error(
                        f"Macro '{macro.name}' expects a map for parameter {parameter.display_name}", argument.span)
                    ok = False
                    continue
                bindings[(ast.MapRef, parameter.name)] = argument
            elif isinstance(parameter, ast.Variable):
                if isinstance(argument, ast.Variable):
                    bindings[(ast.Variable, parameter.name)] = argument
                    continue
                fresh = ast.Variable(argument.span, _fresh_name(number, parameter.name))
                prelude.append(ast.Assignment(argument.span, fresh, "=", argument))
                bindings[(ast.Variable, parameter.name)] = fresh
            else:
                bindings[(ast.Identifier, parameter.name)] = argument
        return bindings if ok else None


def expand_macros(program: ast.Program, reporter: Reporter) -> ast.Program:
    macros: dict[str, ast.Macro] = {}
    for macro in program.macros:
        if macro.name in macros:
            reporter.error(f"Redefinition of macro: {macro.name}", macro.span)
        macros.setdefault(macro.name, macro)
    expander = _Expander(macros, reporter)
    probes = []
    for probe in program.probes:
        predicate = expander.expression(probe.predicate, None) if probe.predicate is not None else None
        probes.append(dataclasses.replace(probe, predicate=predicate, body=expander.block(probe.body)))
    return dataclasses.replace(program, macros=(), probes=tuple(probes))


def _is_macro_statement(statement: ast.Statement, macros: dict[str, ast.Macro]) -> bool:
    return (isinstance(statement, ast.ExprStatement) and isinstance(statement.expr, ast.Call)
            and statement.expr.name in macros)


def _fresh_name(number: int, name: str) -> str:
    return f"__macro{number}_{name}"


def _substitute(body: ast.Block, bindings: dict[tuple[type, str], ast.Expr], number: int) -> ast.Block:
    """The body with parameters replaced and its own variables renamed apart."""
    def replace(node: ast.Node) -> ast.Node | None:
        if isinstance(node, ast.MapRef) and (ast.MapRef, node.name) in bindings:
            keys = tuple(rewrite(key, replace) for key in node.keys)
            return dataclasses.replace(node, name=bindings[(ast.MapRef, node.name)].name, keys=keys)
        if isinstance(node, ast.Variable):
            bound = bindings.get((ast.Variable, node.name))
            if bound is not None:
                return dataclasses.replace(node, name=bound.name)
            return dataclasses.replace(node, name=_fresh_name(number, node.name))
        if isinstance(node, ast.Identifier) and (ast.Identifier, node.name) in bindings:
            return bindings[(ast.Identifier, node.name)]
        return None

    return rewrite(body, replace)
