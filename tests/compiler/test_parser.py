"""The parser: every construct of the surface syntax becomes the right AST."""

import pytest

from auger.compiler import ast
from auger.compiler.ast_printer import format_ast
from auger.compiler.diagnostics import SourceFile, Span
from auger.compiler.parser import GENERATED_PATH, GRAMMAR_PATH, MAX_NESTING, _grammar_hash, parse


def program(text: str) -> ast.Program:
    return parse(SourceFile("stdin", text))


def statements(body: str) -> tuple[ast.Statement, ...]:
    return program("BEGIN { " + body + " }").probes[0].body.statements


def statement(body: str) -> ast.Statement:
    (only,) = statements(body)
    return only


def expr(text: str) -> ast.Expr:
    node = statement(text)
    assert isinstance(node, ast.ExprStatement)
    return node.expr


def shape(node) -> object:
    """A compact structure for asserting on trees: ops, names and values."""
    match node:
        case ast.Binary():
            return (node.op, shape(node.left), shape(node.right))
        case ast.Unary():
            return (node.op, shape(node.operand))
        case ast.IntLiteral():
            return node.value
        case ast.Identifier():
            return node.name
        case ast.Variable():
            return "$" + node.name
        case ast.Ternary():
            return ("?:", shape(node.condition), shape(node.then), shape(node.otherwise))
        case ast.Cast():
            return ("cast", node.type.name, node.type.pointer_depth, shape(node.operand))
        case ast.FieldAccess():
            return ("->" if node.arrow else ".", shape(node.operand), node.field)
        case ast.Index():
            return ("[]", shape(node.operand), shape(node.index))
        case ast.Call():
            return ("call", node.name, *map(shape, node.args))
        case ast.MapRef():
            return ("@" + node.name, *map(shape, node.keys))
        case ast.IncDec():
            return (("pre" if node.prefix else "post") + node.op, shape(node.target))
    return node


def test_generated_parser_matches_grammar():
    generated = GENERATED_PATH.read_text()
    assert f'GRAMMAR_SHA256 = "{_grammar_hash(GRAMMAR_PATH.read_text())}"' in generated, (
        "grammar/auger_parser.py is stale: run `python -m auger.compiler.parser`"
    )


# ---------------------------------------------------------------- top level


def test_probe_with_attach_points_predicate_and_block():
    probe = program("tracepoint:syscalls:sys_enter_read,\n  k:vfs_read+8 /pid == 1/ { exit() }").probes[0]
    assert [a.text for a in probe.attach_points] == ["tracepoint:syscalls:sys_enter_read", "k:vfs_read+8"]
    assert shape(probe.predicate) == ("==", "pid", 1)
    assert probe.attach_points[1].span == Span(2, 3, 2, 15)
    assert isinstance(probe.body.statements[0].expr, ast.Call)


@pytest.mark.parametrize(
    "text",
    [
        "uprobe:/bin/bash:readline",
        "tracepoint:syscalls:sys_enter_*",
        "k:vfs_read+8",
        "profile:hz:99",
        "interval:1s",
        "interval:s:1",
        "usdt:/usr/lib/libc.so.6:libc:setjmp",
        "watchpoint:0x1000:8:rw",
        "BEGIN",
        "end",
        "kprobe:*",
        'uprobe:"/path with space":f',
        'uprobe:/bin/x:"ns::f"',
        "uprobe:./a.out:main",
        "uprobe:$1:main",
        "uprobe:/lib/x86_64-linux-gnu/libc.so.6:malloc",
        "software:cpu-clock:100000",
        "uprobe:/bin/x:0x1234",
    ],
)
def test_attach_point_text_is_kept_verbatim(text):
    (probe,) = program(text + " { }").probes
    assert [a.text for a in probe.attach_points] == [text]


def test_attach_point_followed_by_predicate_without_space():
    probe = program("k:f/pid == 1/{}").probes[0]
    assert probe.attach_points[0].text == "k:f"
    assert shape(probe.predicate) == ("==", "pid", 1)


def test_division_inside_predicate():
    probe = program("k:f / $x / 2 > 1 / { }").probes[0]
    assert shape(probe.predicate) == (">", ("/", "$x", 2), 1)


def test_predicate_closing_before_comment_and_newline():
    probe = program("k:f /pid/ // why\n{ }").probes[0]
    assert shape(probe.predicate) == "pid"


def test_shebang_comments_and_several_probes():
    text = "#!/usr/bin/env bpftrace\n// line\n/* block\n comment */ BEGIN { 1 } END { /* in */ 2 }"
    prog = program(text)
    assert [p.attach_points[0].text for p in prog.probes] == ["BEGIN", "END"]


def test_preprocessor_lines():
    prog = program("#include <linux/sched.h>\n#define RED \"\\033[31m\"\n#define LONG 1 + \\\n 2\n#ifndef X\n#endif\nBEGIN {}")
    got = [(p.directive, p.text) for p in prog.preprocessor]
    assert got == [
        ("include", "<linux/sched.h>"),
        ("define", 'RED "\\033[31m"'),
        ("define", "LONG 1 +  2"),
        ("ifndef", "X"),
        ("endif", ""),
    ]


def test_c_struct_definition_fields():
    prog = program(
        "struct cfs_rq {\n\tstruct load_weight load;\n\tunsigned long runnable_weight;\n"
        "\tchar comm[16];\n\tstruct task_struct *curr, **pp;\n\tconst char *name;\n\tu64 x;\n"
        "\tint grid[2][3];\n};\nBEGIN {}"
    )
    (record,) = prog.c_definitions
    assert record.kind == "struct" and record.name == "cfs_rq"
    got = [(f.name, f.type.name, f.type.pointer_depth, f.type.array_length) for f in record.fields]
    assert got == [
        ("load", "struct load_weight", 0, None),
        ("runnable_weight", "unsigned long", 0, None),
        ("comm", "char", 0, 16),
        ("curr", "struct task_struct", 1, None),
        ("pp", "struct task_struct", 2, None),
        ("name", "char", 1, None),
        ("x", "u64", 0, None),
        ("grid", "int", 0, 6),
    ]


def test_c_union_enum_and_typedef():
    prog = program(
        "union u { int a; long b; }\nenum color { RED, GREEN = 5, BLUE = -1, };\n"
        "typedef unsigned int u32;\nBEGIN {}"
    )
    union, enum, typedef = prog.c_definitions
    assert union.kind == "union" and [f.name for f in union.fields] == ["a", "b"]
    assert [(m.name, m.value) for m in enum.members] == [("RED", None), ("GREEN", 5), ("BLUE", -1)]
    assert (typedef.name, typedef.type.name) == ("u32", "unsigned int")


def test_config_block():
    prog = program("config = { max_strlen = 128; stack_mode = perf; ; }\nBEGIN {}")
    entries = prog.config.entries
    assert [(e.name, type(e.value)) for e in entries] == [
        ("max_strlen", ast.IntLiteral),
        ("stack_mode", ast.Identifier),
    ]


def test_macro_definition():
    (macro,) = program("macro add($a, @m, x) { $a += 1; x + 1 }\nBEGIN {}").macros
    assert macro.name == "add"
    assert [type(p) for p in macro.params] == [ast.Variable, ast.MapRef, ast.Identifier]
    assert shape(macro.body.statements[-1].expr) == ("+", "x", 1)


def test_top_level_map_declaration():
    (decl,) = program("let @m = lruhash(100);\nBEGIN {}").map_decls
    assert (decl.name, decl.kind, decl.size) == ("m", "lruhash", 100)


# ---------------------------------------------------------------- statements


def test_semicolons_between_and_after_statements():
    assert len(statements("1; 2")) == 2
    assert len(statements("1; 2;")) == 2
    assert len(statements(";; 1;; if (1) { } 2 ;")) == 3
    assert statements("") == ()


def test_block_statements_need_no_semicolon():
    got = statements("if (1) { } { 2 } while (1) { } unroll(2) { } 3")
    assert [type(s) for s in got] == [ast.If, ast.Block, ast.While, ast.Unroll, ast.ExprStatement]


@pytest.mark.parametrize("op", ["=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>="])
def test_assignments(op):
    node = statement(f"@m[1, 2] {op} 3")
    assert isinstance(node, ast.Assignment) and node.op == op
    assert shape(node.target) == ("@m", 1, 2)
    assert shape(statement(f"$x {op} 1").target) == "$x"


def test_let_declarations():
    plain, typed, both, pointer = statements(
        "let $x; let $y: uint32; let $z: uint32 = 1; let $p: struct sock * = 0"
    )
    assert (plain.variable.name, plain.type, plain.value) == ("x", None, None)
    assert typed.type.name == "uint32" and typed.value is None
    assert both.type.name == "uint32" and shape(both.value) == 1
    assert (pointer.type.name, pointer.type.pointer_depth) == ("struct sock", 1)


def test_if_else_if_else_with_and_without_parentheses():
    node = statement("if (1) { 1 } else if 2 { 2 } else { 3 }")
    assert shape(node.condition) == 1
    assert isinstance(node.otherwise, ast.If) and shape(node.otherwise.condition) == 2
    assert isinstance(node.otherwise.otherwise, ast.Block)
    assert statement("if $x > 1 { }").otherwise is None
    assert shape(statement("if $x > 1 { }").condition) == (">", "$x", 1)


def test_loops():
    unroll, loop, for_map, for_range = statements(
        "unroll(3) { } while ($i < 10) { $i++ } for ($kv : @m) { break; } for ($i : 0..$n) { continue }"
    )
    assert shape(unroll.count) == 3
    assert shape(loop.condition) == ("<", "$i", 10)
    assert for_map.variable.name == "kv" and for_map.map.name == "m"
    assert isinstance(for_map.body.statements[0], ast.Break)
    assert (shape(for_range.start), shape(for_range.end)) == (0, "$n")
    assert isinstance(for_range.body.statements[0], ast.Continue)


def test_return():
    bare, valued = statements("return; return 1 + 2")
    assert bare.value is None and shape(valued.value) == ("+", 1, 2)


# ---------------------------------------------------------------- expressions


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1 + 2 * 3", ("+", 1, ("*", 2, 3))),
        ("1 - 2 - 3", ("-", ("-", 1, 2), 3)),
        ("1 << 2 + 3", ("<<", 1, ("+", 2, 3))),
        ("1 < 2 == 3 > 4", ("==", ("<", 1, 2), (">", 3, 4))),
        ("1 & 2 ^ 3 | 4", ("|", ("^", ("&", 1, 2), 3), 4)),
        ("1 || 2 && 3", ("||", 1, ("&&", 2, 3))),
        ("1 == 2 & 3", ("&", ("==", 1, 2), 3)),
        ("1 ? 2 : 3 ? 4 : 5", ("?:", 1, 2, ("?:", 3, 4, 5))),
        ("1 || 2 ? 3 : 4", ("?:", ("||", 1, 2), 3, 4)),
        ("-1 * -2", ("*", ("-", 1), ("-", 2))),
        ("!~$x", ("!", ("~", "$x"))),
        ("*$p + 1", ("+", ("*", "$p"), 1)),
        ("&$x", ("&", "$x")),
        ("+1", ("+", 1)),
        ("10 % 3 / 2", ("/", ("%", 10, 3), 2)),
        ("1 >= 2 != 3 <= 4", ("!=", (">=", 1, 2), ("<=", 3, 4))),
        ("(1 + 2) * 3", ("*", ("+", 1, 2), 3)),
        ("$a >> 1", (">>", "$a", 1)),
    ],
)
def test_precedence_and_associativity(text, expected):
    assert shape(expr(text)) == expected


def test_increment_and_decrement():
    assert shape(expr("$x++")) == ("post++", "$x")
    assert shape(expr("--@m[1]")) == ("pre--", ("@m", 1))
    assert shape(expr("@x--")) == ("post--", ("@x",))
    assert shape(expr("++$x")) == ("pre++", "$x")


@pytest.mark.parametrize(
    "text, name, depth, length",
    [
        ("(uint32)$x", "uint32", 0, None),
        ("(int8 *)$p", "int8", 1, None),
        ("(struct sock *)arg0", "struct sock", 1, None),
        ("(union u **)arg0", "union u", 2, None),
        ("(enum e)1", "enum e", 0, None),
        ("(uint8[4])$x", "uint8", 0, 4),
        ("(int8[])\"abc\"", "int8", 0, 0),
        ("(unsigned long)$x", "unsigned long", 0, None),
        ("(bool)$x", "bool", 0, None),
        ("(string)$x", "string", 0, None),
        ("(uint64_t)1", "uint64_t", 0, None),
        ("(const char *)$p", "char", 1, None),
        ("(void *)0", "void", 1, None),
    ],
)
def test_casts(text, name, depth, length):
    node = expr(text)
    assert isinstance(node, ast.Cast)
    assert (node.type.name, node.type.pointer_depth, node.type.array_length) == (name, depth, length)


def test_cast_binds_tighter_than_binary_and_looser_than_postfix():
    assert shape(expr("(uint32)$x + 1")) == ("+", ("cast", "uint32", 0, "$x"), 1)
    assert shape(expr("(struct sock *)arg0->sk")) == ("cast", "struct sock", 1, ("->", "arg0", "sk"))
    assert shape(expr("((struct sock *)arg0)->sk")) == ("->", ("cast", "struct sock", 1, "arg0"), "sk")


def test_parenthesised_name_is_not_a_cast():
    assert shape(expr("(x) - 1")) == ("-", "x", 1)


def test_calls_with_type_arguments():
    sizeof_struct, sizeof_int, sizeof_var, offsetof = statements(
        "sizeof(struct sock); sizeof(uint32); sizeof($x); offsetof(struct sock, sk_flags)"
    )
    assert sizeof_struct.expr.args[0] == ast.TypeRef(Span(1, 16, 1, 27), "struct sock")
    assert sizeof_int.expr.args[0].name == "uint32"
    assert shape(sizeof_var.expr) == ("call", "sizeof", "$x")
    assert isinstance(offsetof.expr.args[0], ast.TypeRef)
    assert shape(offsetof.expr.args[1]) == "sk_flags"


def test_postfix_chains():
    assert shape(expr("args->field")) == ("->", "args", "field")
    assert shape(expr("args.filename")) == (".", "args", "filename")
    assert shape(expr("$kv.0.1")) == (".", (".", "$kv", "0"), "1")
    assert shape(expr("$a[1][2]")) == ("[]", ("[]", "$a", 1), 2)
    assert shape(expr("@m[1].x")) == (".", ("@m", 1), "x")
    assert shape(expr("str(args.s)[0]")) == ("[]", ("call", "str", (".", "args", "s")), 0)


def test_keywords_are_field_names_after_dot_and_arrow():
    for keyword in ("if", "struct", "config", "macro", "let", "for", "int", "string", "true"):
        assert shape(expr(f"$x.{keyword}")) == (".", "$x", keyword)
        assert shape(expr(f"$x->{keyword}")) == ("->", "$x", keyword)


def test_tuples_and_records():
    pair = expr('(1, "a")')
    assert isinstance(pair, ast.TupleExpr) and [type(e) for e in pair.elements] == [ast.IntLiteral, ast.StringLiteral]
    assert len(expr("(1,)").elements) == 1
    record = expr('(a = 1, b = "x")')
    assert isinstance(record, ast.RecordExpr) and [f.name for f in record.fields] == ["a", "b"]


def test_variables_maps_and_positional_parameters():
    assert expr("$1") == ast.PositionalParam(Span(1, 9, 1, 11), 1)
    assert isinstance(expr("$#"), ast.PositionalCount)
    assert expr("@").name == "" and expr("@").keys == ()
    assert shape(expr("@[1]")) == ("@", 1)
    assert shape(expr("@m[1, $x]")) == ("@m", 1, "$x")
    assert isinstance(expr("true"), ast.BoolLiteral) and expr("false").value is False
    assert shape(expr("arg0")) == "arg0"


# ---------------------------------------------------------------- literals


@pytest.mark.parametrize(
    "text, value",
    [
        ("0", 0),
        ("42", 42),
        ("0x1F", 31),
        ("0X10", 16),
        ("0b101", 5),
        ("017", 15),
        ("1_000_000", 1000000),
        ("1e6", 1000000),
        ("2e3", 2000),
        ("123UL", 123),
        ("123u", 123),
        ("123LL", 123),
        ("5ull", 5),
        ("0xffu", 255),
        ("1ns", 1),
        ("1us", 1000),
        ("1ms", 1000000),
        ("1s", 1000000000),
        ("1m", 60000000000),
        ("1h", 3600000000000),
        ("1d", 86400000000000),
        ("18446744073709551615", 2**64 - 1),
    ],
)
def test_integer_literals(text, value):
    node = expr(text)
    assert node == ast.IntLiteral(node.span, value, text)


@pytest.mark.parametrize(
    "text, value",
    [
        (r'"plain"', "plain"),
        (r'"a\nb\tc\rd"', "a\nb\tc\rd"),
        (r'"q\"q\\"', 'q"q\\'),
        (r'"\x41\x4a"', "AJ"),
        (r'"\101\0"', "A\0"),
        (r'"\033[31m"', "\x1b[31m"),
        ('"é"', "é"),
    ],
)
def test_string_literals(text, value):
    assert expr(text).value == value


# ---------------------------------------------------------------- spans


def test_spans():
    call = expr("printf(\"%d\", $x)")
    assert call.span == Span(1, 9, 1, 25)
    assert call.args[1].span == Span(1, 22, 1, 24)
    assert expr("@m[1, 2]").span == Span(1, 9, 1, 17)
    binary = expr("1 +\n  22")
    assert binary.span == Span(1, 9, 2, 5)
    assert binary.right.span == Span(2, 3, 2, 5)
    probe = program("BEGIN { }").probes[0]
    assert probe.span == Span(1, 1, 1, 10)


# ---------------------------------------------------------------- printing


def test_format_ast_is_an_indented_tree():
    text = 'tracepoint:syscalls:sys_enter_read /pid == 1/ { @x[comm] = count(); $s = "a"; }'
    assert format_ast(program(text)) == (
        "program\n"
        "  probe tracepoint:syscalls:sys_enter_read\n"
        "    predicate\n"
        "      ==\n"
        "        identifier pid\n"
        "        int 1\n"
        "    block\n"
        "      assign =\n"
        "        map @x\n"
        "          identifier comm\n"
        "        call count\n"
        "      assign =\n"
        "        variable $s\n"
        '        string "a"\n'
    )


def test_format_ast_survives_the_deepest_nesting_accepted():
    terms = MAX_NESTING - 5
    text = "BEGIN { $x = " + " + ".join(["1"] * terms) + " }"
    assert format_ast(program(text)).count("int 1") == terms
