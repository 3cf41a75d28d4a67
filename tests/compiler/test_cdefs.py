"""Script C definitions: LP64 layouts, enums, typedefs, diagnostics, #define."""

import pytest

from auger.compiler import ast, btf
from auger.compiler.cdefs import ScriptTypes, define_constants, script_type_source
from auger.compiler.diagnostics import CompileError, Span, SourceFile, render
from auger.compiler.parser import parse
from auger.compiler.types import (
    ArrayType,
    EnumType,
    FieldLayout,
    IntType,
    PointerType,
    RecordType,
)

SPAN = Span(1, 1, 1, 2)
CHAR, SHORT, INT, LONG = IntType(8, True), IntType(16, True), IntType(32, True), IntType(64, True)


def ref(name, pointer_depth=0, array_length=None, span=SPAN):
    return ast.TypeRef(span, name, pointer_depth, array_length)


def record(kind, name, *members):
    """members: (type name, field name) or (type name, field name, pointer depth, array length)."""
    fields = tuple(ast.CField(SPAN, ref(m[0], *m[2:]), m[1]) for m in members)
    return ast.CRecord(SPAN, kind, name, fields)


def layout(types, kind, name):
    found = types.record(kind, name)
    return found.byte_size, [(f.name, f.offset) for f in types.fields(found)]


def test_scalar_alignment():
    types = ScriptTypes([record("struct", "s", ("char", "a"), ("int", "b"), ("char", "c"),
                               ("long", "d"), ("char", "e", 1), ("short", "f"))])
    assert not types.diagnostics
    assert layout(types, "struct", "s") == (40, [("a", 0), ("b", 4), ("c", 8), ("d", 16),
                                                 ("e", 24), ("f", 32)])
    assert types.fields(types.record("struct", "s"))[4] == FieldLayout("e", PointerType(CHAR), 24)


def test_arrays():
    types = ScriptTypes([record("struct", "a", ("char", "c", 0, 3), ("short", "s"),
                               ("int", "i", 0, 2), ("char", "tail"))])
    assert layout(types, "struct", "a") == (20, [("c", 0), ("s", 4), ("i", 8), ("tail", 16)])
    assert types.fields(types.record("struct", "a"))[0].type == ArrayType(CHAR, 3)


def test_nested_struct_and_union():
    types = ScriptTypes([
        record("struct", "outer", ("char", "x"), ("struct inner", "in"), ("union u", "u")),
        record("struct", "inner", ("char", "a"), ("long", "b")),  # defined after its use
        record("union", "u", ("char", "bytes", 0, 5), ("int", "word")),
    ])
    assert not types.diagnostics
    assert layout(types, "union", "u") == (8, [("bytes", 0), ("word", 0)])
    assert layout(types, "struct", "inner") == (16, [("a", 0), ("b", 8)])
    assert layout(types, "struct", "outer") == (32, [("x", 0), ("in", 8), ("u", 24)])


def test_self_and_mutual_pointers():
    types = ScriptTypes([
        record("struct", "node", ("struct node", "next", 1), ("struct leaf", "leaf", 1), ("int", "v")),
        record("struct", "leaf", ("struct node", "parent", 1)),
        ast.CTypedef(SPAN, ref("struct node", 1), "node_p"),
        record("struct", "holder", ("node_p", "head"), ("char", "c")),
    ])
    assert not types.diagnostics
    node = types.record("struct", "node")
    assert node == RecordType("struct", "node", 24)
    assert types.fields(node)[0].type == PointerType(node)
    assert layout(types, "struct", "holder") == (16, [("head", 0), ("c", 8)])
    assert types.typedef("node_p") == PointerType(node)


def test_enums_and_typedefs():
    types = ScriptTypes([
        ast.CEnum(SPAN, "color", (ast.CEnumMember(SPAN, "RED", None), ast.CEnumMember(SPAN, "GREEN", 5),
                                  ast.CEnumMember(SPAN, "BLUE", None))),
        ast.CEnum(SPAN, "sign", (ast.CEnumMember(SPAN, "NEG", -1),)),
        ast.CTypedef(SPAN, ref("unsigned int"), "u32_t"),
        ast.CTypedef(SPAN, ref("u32_t", 0, 4), "quad_t"),
        record("struct", "s", ("char", "c"), ("enum color", "col"), ("quad_t", "q")),
    ])
    assert not types.diagnostics
    color = EnumType("color", 32, False)
    assert types.enum("color") == color
    assert [types.enum_constant(n) for n in ("RED", "GREEN", "BLUE")] == [(color, 0), (color, 5), (color, 6)]
    assert types.enum_constant("NEG") == (EnumType("sign", 32, True), -1)
    assert types.typedef("quad_t") == ArrayType(IntType(32, False), 4)
    assert layout(types, "struct", "s") == (24, [("c", 0), ("col", 4), ("q", 8)])


def test_unknown_types_are_all_reported():
    text = "struct s { struct foo f; foo_t g; struct bar *ok; }"
    source = SourceFile("stdin", text)
    types = ScriptTypes([ast.CRecord(SPAN, "struct", "s", (
        ast.CField(SPAN, ref("struct foo", span=Span(1, 12, 1, 22)), "f"),
        ast.CField(SPAN, ref("foo_t", span=Span(1, 26, 1, 31)), "g"),
        ast.CField(SPAN, ref("struct bar", 1, span=Span(1, 35, 1, 45)), "ok"),
    ))])
    assert [render(d, source) for d in types.diagnostics] == [
        f'stdin:1:12-22: ERROR: Cannot resolve unknown type "struct foo"\n{text}\n' + " " * 11 + "~" * 10,
        f'stdin:1:26-31: ERROR: Cannot resolve unknown type "foo_t"\n{text}\n' + " " * 25 + "~" * 5,
    ]
    # The faulty members are left out; a pointer to an undefined struct is C.
    assert types.fields(types.record("struct", "s")) == (
        FieldLayout("ok", PointerType(RecordType("struct", "bar", 0)), 0),)


def test_containing_itself_and_redefinition():
    types = ScriptTypes([
        record("struct", "loop", ("int", "a"), ("struct loop", "again")),
        record("struct", "loop", ("int", "b")),
    ])
    assert [d.message for d in types.diagnostics] == [
        'Redefinition of "struct loop"',
        'Field "again" has incomplete type "struct loop"',
    ]
    assert layout(types, "struct", "loop") == (4, [("a", 0)])


@pytest.fixture(scope="module")
def kernel():
    types = btf.kernel_types()
    if types is None:
        pytest.skip(f"no readable kernel BTF at {btf.VMLINUX_PATH}")
    return types


def test_members_of_kernel_types(kernel):
    chain, diagnostics = script_type_source([
        record("struct", "event", ("char", "flag"), ("pid_t", "pid"), ("struct task_struct", "task", 1),
               ("atomic_t", "count"), ("struct list_head", "link")),
    ], kernel)
    assert not diagnostics
    event = chain.record("struct", "event")
    # atomic_t is a 4-byte struct aligned to 4; list_head two pointers, aligned to 8.
    assert layout(chain, "struct", "event") == (40, [("flag", 0), ("pid", 4), ("task", 8),
                                                     ("count", 16), ("link", 24)])
    task = chain.fields(event)[2].type
    assert isinstance(task.target, RecordType) and chain.fields(task.target)  # BTF lays it out


def test_script_record_shadows_kernel_one(kernel):
    chain, _ = script_type_source([record("struct", "file", ("int", "only"))], kernel)
    assert chain.record("struct", "file") == RecordType("struct", "file", 4)
    assert [f.name for f in chain.fields(chain.record("struct", "file"))] == ["only"]
    kernel_file = kernel.record("struct", "file")
    assert len(chain.fields(kernel_file)) > 1  # BTF's own struct file still lays out
    assert chain.typedef("pid_t") == INT
    assert chain.enum_constant("TCP_ESTABLISHED")[1] == 1


def test_define_constants():
    def define(text):
        return ast.Preprocessor(SPAN, "define", text)

    constants = define_constants([
        define("A 10"), define("B (A << 2) | 0x1UL /* low bit */"), define("C -7 / 2"),
        define("D -7 % 2 // trailing"), define("E 0755"), define("F(x) (x)"), define('G "text"'),
        define("H ~0"), define("I 1 << 99"), define("J A * B"), define("K UNKNOWN + 1"),
        ast.Preprocessor(SPAN, "include", "<linux/sched.h>"),
    ])
    assert constants == {"A": 10, "B": 41, "C": -3, "D": -1, "E": 0o755, "H": -1, "J": 410}


def _parsed_types(text):
    program = parse(SourceFile("stdin", text + " BEGIN { }"))
    return ScriptTypes(program.c_definitions)


def test_bitfields_follow_system_v_layout():
    # Bit positions checked against gcc on x86-64 (each field set to all ones).
    types = _parsed_types(
        "struct A { char c; unsigned int a : 3; unsigned int b : 30; unsigned short s : 9; long l; }"
        "struct B { unsigned char x : 7; unsigned char y : 2; }"
        "union U { int a : 3; char b; }"
        "struct C { char c; int x : 24; }")
    assert not types.diagnostics

    def bits(kind, name):
        found = types.record(kind, name)
        return found.byte_size, [(f.name, 8 * f.offset + f.bit_offset, f.bit_size) for f in types.fields(found)]

    assert bits("struct", "A") == (24, [("c", 0, 0), ("a", 8, 3), ("b", 32, 30), ("s", 64, 9), ("l", 128, 0)])
    assert bits("struct", "B") == (2, [("x", 0, 7), ("y", 8, 2)])
    assert bits("union", "U") == (4, [("a", 0, 3), ("b", 0, 0)])
    assert bits("struct", "C") == (4, [("c", 0, 0), ("x", 8, 24)])


@pytest.mark.parametrize("member, message", [
    ("int f : 33;", 'Width of bitfield "f" must be between 1 and 32 (33 given)'),
    ("int f : 0;", 'Width of bitfield "f" must be between 1 and 32 (0 given)'),
    ("int *f : 3;", 'Bitfield "f" must have an integer type'),
    ("struct A *f : 3;", 'Bitfield "f" must have an integer type'),
])
def test_bad_bitfields(member, message):
    types = _parsed_types(f"struct A {{ {member} int g; }}")
    assert [d.message for d in types.diagnostics] == [message]
    assert [f.name for f in types.fields(types.record("struct", "A"))] == ["g"]


def test_typedef_cannot_have_a_width():
    with pytest.raises(CompileError) as raised:
        parse(SourceFile("stdin", "typedef int T : 3; BEGIN { }"))
    assert raised.value.diagnostics[0].message == 'typedef "T" cannot have a bit width'
