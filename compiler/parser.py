"""Source text to AST.

The grammar is grammar/auger.lark. At run time the parser is lark's standalone
LALR(1) module generated from it (grammar/auger_parser.py), which saves the
`import lark` on every start-up; `python -m auger.compiler.parser` regenerates
it after a grammar change. The lark tree is converted to compiler/ast.py nodes
here, once; no lark type leaves this module. Every problem with the input is a
`CompileError`.
"""

from __future__ import annotations

from pathlib import Path

from . import ast
from .cdefs import CBitField
from .diagnostics import CompileError, SourceFile, Span, error
from .literals import LiteralError, decode_integer, decode_string
from .parser_cache import cached
from .standalone_rewrite import TABLES_MODULE, rewrite
from ..grammar import auger_parser as _lark

GRAMMAR_PATH = Path(__file__).resolve().parent.parent / "grammar" / "auger.lark"
GENERATED_PATH = GRAMMAR_PATH.with_name("auger_parser.py")
GENERATED_TABLES_PATH = GRAMMAR_PATH.with_name(f"{TABLES_MODULE}.py")

# The deepest AST the front end accepts. Analysis and codegen walk the AST
# recursively, a few Python frames per level; this keeps the deepest walk well
# inside the default recursion limit of 1000.
MAX_NESTING = 150


def parse(source: SourceFile) -> ast.Program:
    """Parse a whole program; raises CompileError for any problem in the text."""
    try:
        tree = _parser().parse(source.text)
        return _ToAst().transform(tree)
    except _lark.VisitError as wrapped:
        if isinstance(wrapped.orig_exc, CompileError):
            raise wrapped.orig_exc from None
        if isinstance(wrapped.orig_exc, RecursionError):
            raise _too_deep(source) from None
        raise
    except _LexicalError as problem:
        raise CompileError([error(problem.message, _token_span(problem.token))]) from None
    except _lark.UnexpectedInput as problem:
        raise CompileError([_syntax_error(problem, source)]) from None
    except RecursionError:
        raise _too_deep(source) from None


# ---------------------------------------------------------------- the parser object

_instance = None


def _parser():
    global _instance
    if _instance is None:
        # Whether the generated module matches the grammar is checked by
        # tests/compiler/test_parser.py, not on every start-up.
        _instance = cached(
            f"{_lark.GRAMMAR_SHA256[:16]}-lark{_lark.__version__}", _build_parser, _build_scanners
        )
    return _instance


def _build_scanners(parser) -> None:
    """Compile every lexer state's scanner, as parsing would on first use of
    the state: a first parse spends most of its time compiling them, and
    built now they are kept in the cache (compiler/parser_cache.py keeps
    compiled regexes as such). Another lark may lay its lexer out otherwise;
    then the scanners are left to be built lazily as before."""
    lexer = getattr(getattr(parser, "parser", None), "lexer", None)
    for state_lexer in (*getattr(lexer, "lexers", {}).values(), getattr(lexer, "root_lexer", None)):
        getattr(state_lexer, "scanner", None)


def _build_parser():
    return _lark.Lark_StandAlone(
        lexer_callbacks={
            "UNTERMINATED_STRING": _Unterminated("unterminated string"),
            "UNTERMINATED_COMMENT": _Unterminated("end of file during comment"),
        }
    )


def _grammar_hash(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


def generate_standalone() -> tuple[str, str]:
    """The sources of grammar/auger_parser.py and of its tables module for the
    current grammar (needs lark)."""
    import io

    import lark
    from lark.tools.standalone import gen_standalone

    text = GRAMMAR_PATH.read_text()
    grammar = lark.Lark(
        text, parser="lalr", lexer="contextual", propagate_positions=True
    )
    out = io.StringIO()
    gen_standalone(grammar, out=out)
    header = (
        "# Generated from auger.lark by `python -m auger.compiler.parser`; do not edit.\n"
        f'GRAMMAR_SHA256 = "{_grammar_hash(text)}"\n'
    )
    code, tables = rewrite(out.getvalue(), header)
    return header + code, tables


class _LexicalError(Exception):
    def __init__(self, message: str, token):
        super().__init__(message)
        self.message = message
        self.token = token


class _Unterminated:
    """The lexer callback for a token that must not occur: an unterminated
    string or comment. A class, not a closure, so the built parser pickles."""

    def __init__(self, message: str):
        self.message = message

    def __call__(self, token):
        raise _LexicalError(self.message, token)


# ---------------------------------------------------------------- syntax errors

# How terminals read in messages; string terminals read as themselves.
_TERMINAL_NAMES = {
    "$END": "end of file",
    "NAME": "identifier",
    "TYPEDEF_NAME": "type name",
    "NUMBER": "integer",
    "STRING_LIT": "string",
    "VARIABLE": "variable",
    "POSITIONAL": "positional parameter",
    "MAP_NAME": "map",
    "ATTACH_POINT": "attach point",
    "PRED_END": "/",
    "PREPROC": "preprocessor directive",
    "COMPOUND_ASSIGN": "compound assignment",
}

# Terminals that can only continue an expression: left out of "expecting ..."
# lists, which would otherwise name every operator.
_EXPRESSION_CONTINUATIONS = frozenset(
    "OROR ANDAND PIPE CARET AMP EQ NE LT LE GT GE SHL SHR PLUS MINUS STAR SLASH "
    "PERCENT QMARK DOT ARROW LSQB INC DEC PRED_END".split()
)
# Terminals that can start an expression: shown together as "expression".
_EXPRESSION_STARTS = frozenset(
    "NUMBER STRING_LIT TRUE FALSE POSITIONAL POSITIONAL_COUNT VARIABLE MAP_NAME "
    "NAME LPAR MINUS PLUS BANG TILDE STAR AMP INC DEC".split()
)
_MAX_EXPECTED = 4


def _syntax_error(problem, source: SourceFile):
    if isinstance(problem, _lark.UnexpectedCharacters):
        char = source.text[problem.pos_in_stream]
        shown = char if char.isprintable() else repr(char)[1:-1]
        return error(f"invalid character '{shown}'", Span.point(problem.line, problem.column))
    token = getattr(problem, "token", None)
    if token is None or token.type == "$END":
        message, span = "syntax error, unexpected end of file", _end_span(source)
    else:
        message, span = f"syntax error, unexpected {_describe(token)}", _token_span(token)
    expected = _expected_names(_acceptable(problem))
    if expected:
        message += ", expecting " + " or ".join(expected)
    return error(message, span)


def _acceptable(problem) -> set[str]:
    """The terminals the parser could have taken where it failed. The error's
    own `expected` comes from a state whose lookaheads LALR merged across
    contexts; trying each terminal on a copy of the parser is exact."""
    interactive = getattr(problem, "interactive_parser", None)
    if interactive is not None:
        return interactive.accepts()
    return set(getattr(problem, "expected", None) or ())


def _describe(token) -> str:
    kind = _TERMINAL_NAMES.get(token.type)
    if kind is None or token.type == "PRED_END":
        return str(token)
    return f"{kind} '{token}'"


def _expected_names(terminals) -> list[str]:
    terminals = set(terminals)
    names = set()
    if {"NUMBER", "NAME", "VARIABLE"} <= terminals:
        terminals -= _EXPRESSION_STARTS
        names.add("expression")
    terminals -= _EXPRESSION_CONTINUATIONS
    names |= {_terminal_text(name) for name in terminals}
    return sorted(names) if 0 < len(names) <= _MAX_EXPECTED else []


def _terminal_text(name: str) -> str:
    if name in _TERMINAL_NAMES:
        return _TERMINAL_NAMES[name]
    terminal = next((t for t in _parser().terminals if t.name == name), None)
    if terminal is not None and terminal.pattern.type == "str":
        return terminal.pattern.value
    return name.lower()


def _end_span(source: SourceFile) -> Span:
    text = source.text.rstrip()
    line = text.count("\n") + 1
    column = len(text) - (text.rfind("\n") + 1) + 1
    return Span.point(line, column)


def _too_deep(source: SourceFile) -> CompileError:
    return CompileError([error(f"{source.name}: the program is nested too deeply to compile")])


# ---------------------------------------------------------------- tree to AST


def _token_span(token) -> Span:
    return Span(token.line, token.column, token.end_line, token.end_column)


def _span(meta) -> Span:
    return Span(meta.line, meta.column, meta.end_line, meta.end_column)


def _is_token(value) -> bool:
    return isinstance(value, _lark.Token)


def _literal_error(token, problem: LiteralError) -> CompileError:
    """A diagnostic for a malformed literal, underlining the bad part when the
    literal sits on one line."""
    span = _token_span(token)
    if problem.length is not None and span.line == span.end_line:
        # String tokens start with their quote; integer tokens do not.
        start = span.column + problem.offset + (1 if token.type == "STRING_LIT" else 0)
        span = Span(span.line, start, span.line, start + problem.length)
    return CompileError([error(problem.message, span)])


@_lark.v_args(meta=True)
class _ToAst(_lark.Transformer):
    """One method per grammar rule (or alias); each gets the rule's position
    and its children (tokens, already converted nodes, or plain values)."""

    def transform(self, tree):
        # Bottom-up without recursion: a long `1 + 1 + ...` chain nests deeper
        # than Python's recursion limit. (lark's own Transformer_NonRecursive
        # does not survive the standalone generator.)
        postorder = []
        pending = [tree]
        while pending:
            node = pending.pop()
            postorder.append(node)
            if isinstance(node, _lark.Tree):
                pending.extend(node.children)
        # Each value carries its AST nesting depth: later passes (analysis,
        # codegen) recurse over the AST, so the bound set here is what keeps
        # every one of them inside Python's recursion limit.
        values, depths = [], []
        for node in reversed(postorder):
            if isinstance(node, _lark.Tree):
                count = len(node.children)
                children = values[len(values) - count:]
                depth = max(depths[len(depths) - count:], default=0)
                del values[len(values) - count:], depths[len(depths) - count:]
                value = self._call_userfunc(node, children)
                if isinstance(value, ast.Node):
                    depth += 1
                    if depth > MAX_NESTING:
                        raise CompileError([error(
                            f"the program is nested too deeply (more than {MAX_NESTING} levels)",
                            value.span,
                        )])
                values.append(value)
                depths.append(depth)
            else:
                values.append(node)
                depths.append(0)
        (result,) = values
        return result

    # ------------------------------------------------------------ top level

    def start(self, meta, children):
        items = {kind: [] for kind in ("pre", "c", "config", "map", "macro", "probe")}
        kinds = (
            (ast.Preprocessor, "pre"), ((ast.CRecord, ast.CEnum, ast.CTypedef), "c"),
            (ast.Config, "config"), (ast.MapDecl, "map"), (ast.Macro, "macro"),
            (ast.Probe, "probe"),
        )
        for child in children:
            for node_type, kind in kinds:
                if isinstance(child, node_type):
                    items[kind].append(child)
        if len(items["config"]) > 1:
            raise CompileError(
                [error("only one config block is allowed", items["config"][1].span)]
            )
        if not items["probe"]:
            raise CompileError([error("syntax error, the program has no probes", Span(1, 1, 1, 2))])
        span = _span(meta)
        return ast.Program(
            span,
            tuple(items["pre"]),
            tuple(items["c"]),
            items["config"][0] if items["config"] else None,
            tuple(items["map"]),
            tuple(items["macro"]),
            tuple(items["probe"]),
        )

    def preprocessor(self, meta, children):
        line = str(children[0])[1:].replace("\\\n", "").lstrip()
        directive, _, text = line.partition(" ")
        if "\t" in directive:
            directive, _, rest = directive.partition("\t")
            text = rest + " " + text if text else rest
        return ast.Preprocessor(_span(meta), directive, text.strip())

    # ------------------------------------------------------------ C declarations

    def c_record(self, meta, children):
        kind, name, *members = children
        fields = tuple(field for member in members for field in member)
        return ast.CRecord(_span(meta), str(kind), str(name), fields)

    def c_member(self, meta, children):
        base, *declarators = children
        return [self._declared(base, declarator) for declarator in declarators]

    @staticmethod
    def _declared(base: ast.TypeRef, declarator) -> ast.CField:
        pointer_depth, name, array_length, width, span = declarator
        type_ref = ast.TypeRef(base.span, base.name, pointer_depth, array_length)
        if width is not None:
            return CBitField(span, type_ref, name, width)
        return ast.CField(span, type_ref, name)

    def c_declarator(self, meta, children):
        width = next((c for c in children if _is_token(c) and c.type == "NUMBER"), None)
        pointer_depth = sum(1 for c in children if _is_token(c) and c.type == "STAR")
        name = next(c for c in children if _is_token(c) and c.type == "NAME")
        dims = [c for c in children if isinstance(c, int) and not _is_token(c)]
        array_length = None
        for dim in dims:
            array_length = dim if array_length is None else array_length * dim
        return pointer_depth, str(name), array_length, width if width is None else self._number(width), _span(meta)

    def c_array_dim(self, meta, children):
        return self._number(children[0]) if children else 0

    def c_type(self, meta, children):
        return ast.TypeRef(_span(meta), str(children[0]))

    def c_enum(self, meta, children):
        name, *members = children
        return ast.CEnum(_span(meta), str(name), tuple(members))

    def c_enum_member(self, meta, children):
        value = None
        if len(children) > 1:
            value = self._number(children[-1])
            if children[1].type == "MINUS":
                value = -value
        return ast.CEnumMember(_span(meta), str(children[0]), value)

    def c_typedef(self, meta, children):
        base, declarator = children
        field = self._declared(base, declarator)
        if isinstance(field, CBitField):
            raise CompileError([error(f'typedef "{field.name}" cannot have a bit width', field.span)])
        return ast.CTypedef(_span(meta), field.type, field.name)

    # ------------------------------------------------------------ preamble

    def config(self, meta, children):
        return ast.Config(_span(meta), tuple(children))

    def config_entry(self, meta, children):
        name, value = children
        return ast.ConfigEntry(_span(meta), str(name), value)

    def map_decl(self, meta, children):
        name, kind, size = children
        return ast.MapDecl(_span(meta), str(name)[1:], str(kind), self._number(size))

    def macro(self, meta, children):
        name, *params, body = children
        return ast.Macro(_span(meta), str(name), tuple(params), body)

    # ------------------------------------------------------------ probes

    def probe(self, meta, children):
        attach_points = tuple(
            ast.AttachPoint(_token_span(c), str(c)) for c in children if _is_token(c)
        )
        predicate = children[-2] if isinstance(children[-2], ast.Expr) else None
        return ast.Probe(_span(meta), attach_points, predicate, children[-1])

    def predicate(self, meta, children):
        return children[1]

    # ------------------------------------------------------------ statements

    def block(self, meta, children):
        return ast.Block(_span(meta), tuple(children))

    def expr_stmt(self, meta, children):
        return ast.ExprStatement(_span(meta), children[0])

    def assignment(self, meta, children):
        target, op, value = children
        return ast.Assignment(_span(meta), target, str(op), value)

    def var_decl(self, meta, children):
        variable = children[0]
        type_ref = next((c for c in children[1:] if isinstance(c, ast.TypeRef)), None)
        value = children[-1] if isinstance(children[-1], ast.Expr) and len(children) > 1 else None
        return ast.VarDecl(_span(meta), variable, type_ref, value)

    def break_stmt(self, meta, children):
        return ast.Break(_span(meta))

    def continue_stmt(self, meta, children):
        return ast.Continue(_span(meta))

    def return_stmt(self, meta, children):
        return ast.Return(_span(meta), children[0] if children else None)

    def if_stmt(self, meta, children):
        condition, then, *otherwise = children
        return ast.If(_span(meta), condition, then, otherwise[0] if otherwise else None)

    def unroll_stmt(self, meta, children):
        return ast.Unroll(_span(meta), children[0], children[1])

    def while_stmt(self, meta, children):
        return ast.While(_span(meta), children[0], children[1])

    def for_map(self, meta, children):
        return ast.ForMap(_span(meta), *children)

    def for_range(self, meta, children):
        variable, start, _dotdot, end, body = children
        return ast.ForRange(_span(meta), variable, start, end, body)

    # ------------------------------------------------------------ operators

    def ternary(self, meta, children):
        return ast.Ternary(_span(meta), *children)

    def binary(self, meta, children):
        left, op, right = children
        return ast.Binary(_span(meta), str(op), left, right)

    def unary_op(self, meta, children):
        op, operand = children
        return ast.Unary(_span(meta), str(op), operand)

    def pre_incdec(self, meta, children):
        op, target = children
        return ast.IncDec(_span(meta), str(op), True, target)

    def post_incdec(self, meta, children):
        target, op = children
        return ast.IncDec(_span(meta), str(op), False, target)

    def cast(self, meta, children):
        return ast.Cast(_span(meta), children[0], children[1])

    def name_cast(self, meta, children):
        name, operand = children
        return ast.Cast(_span(meta), ast.TypeRef(_token_span(name), str(name)), operand)

    def dot(self, meta, children):
        operand, field = children
        if field.type == "NUMBER" and not field.isdigit():
            raise CompileError([error(f"invalid tuple index '{field}'", _token_span(field))])
        return ast.FieldAccess(_span(meta), operand, str(field), False)

    def arrow(self, meta, children):
        return ast.FieldAccess(_span(meta), children[0], str(children[2]), True)

    def index(self, meta, children):
        return ast.Index(_span(meta), children[0], children[1])

    # ------------------------------------------------------------ primaries

    def int_literal(self, meta, children):
        token = children[0]
        return ast.IntLiteral(_span(meta), self._number(token), str(token))

    @staticmethod
    def _number(token) -> int:
        try:
            return decode_integer(str(token))
        except LiteralError as problem:
            raise _literal_error(token, problem) from None

    def string_literal(self, meta, children):
        token = children[0]
        try:
            value = decode_string(str(token)[1:-1])
        except LiteralError as problem:
            raise _literal_error(token, problem) from None
        return ast.StringLiteral(_span(meta), value)

    def true_literal(self, meta, children):
        return ast.BoolLiteral(_span(meta), True)

    def false_literal(self, meta, children):
        return ast.BoolLiteral(_span(meta), False)

    def positional(self, meta, children):
        return ast.PositionalParam(_span(meta), int(str(children[0])[1:]))

    def positional_count(self, meta, children):
        return ast.PositionalCount(_span(meta))

    def variable(self, meta, children):
        return ast.Variable(_span(meta), str(children[0])[1:])

    def map_ref(self, meta, children):
        name, *keys = children
        return ast.MapRef(_span(meta), str(name)[1:], tuple(keys))

    def identifier(self, meta, children):
        # The name's own span, also for a parenthesised `(name)`.
        return ast.Identifier(_token_span(children[0]), str(children[0]))

    def call(self, meta, children):
        name, *args = children
        return ast.Call(_span(meta), str(name), tuple(args))

    def tuple(self, meta, children):
        return ast.TupleExpr(_span(meta), tuple(children))

    def record(self, meta, children):
        return ast.RecordExpr(_span(meta), tuple(children))

    def record_field(self, meta, children):
        name, _assign, value = children
        return ast.RecordField(_span(meta), str(name), value)

    # ------------------------------------------------------------ types

    def cast_type(self, meta, children):
        return self._type_ref(meta, children)

    def decl_type(self, meta, children):
        return self._type_ref(meta, children)

    @staticmethod
    def _type_ref(meta, children) -> ast.TypeRef:
        base = str(children[0])
        pointer_depth = sum(1 for c in children[1:] if _is_token(c) and c.type == "STAR")
        array_length = children[-1] if isinstance(children[-1], int) and len(children) > 1 else None
        return ast.TypeRef(_span(meta), base, pointer_depth, array_length)

    def array_suffix(self, meta, children):
        return self._number(children[0]) if children else 0

    def builtin_type(self, meta, children):
        return str(children[0])

    def c_specifiers(self, meta, children):
        return " ".join(str(c) for c in children)

    def record_type(self, meta, children):
        return f"{children[0]} {children[1]}"


if __name__ == "__main__":
    code, tables = generate_standalone()
    GENERATED_TABLES_PATH.write_text(tables)
    GENERATED_PATH.write_text(code)
    print(f"wrote {GENERATED_PATH} and {GENERATED_TABLES_PATH}")
