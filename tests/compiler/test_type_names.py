"""resolve_type: written type names -> type objects."""

import pytest

from auger.compiler import ast, btf
from auger.compiler.diagnostics import Span, SourceFile, render
from auger.compiler.type_names import c_integer, resolve_type, unknown_type
from auger.compiler.type_sources import TypeSourceChain
from auger.compiler.types import (
    BOOL,
    VOID,
    ArrayType,
    EnumType,
    IntType,
    PointerType,
    RecordType,
    StringType,
)

SPAN = Span(1, 15, 1, 27)
EMPTY = TypeSourceChain(())


def ref(name, pointer_depth=0, array_length=None):
    return ast.TypeRef(SPAN, name, pointer_depth, array_length)


@pytest.mark.parametrize("name, expected", [
    ("int8", IntType(8, True)),
    ("uint64", IntType(64, False)),
    ("char", IntType(8, True)),
    ("unsigned char", IntType(8, False)),
    ("long unsigned int", IntType(64, False)),
    ("short unsigned int", IntType(16, False)),
    ("unsigned", IntType(32, False)),
    ("long long", IntType(64, True)),
    ("bool", BOOL),
    ("_Bool", BOOL),
    ("void", VOID),
])
def test_builtin_names(name, expected):
    assert resolve_type(ref(name), EMPTY) == expected


def test_c_integer_rejects_other_words():
    assert c_integer("unsigned foo") is None
    assert c_integer("") is None


def test_pointers_arrays_and_strings():
    assert resolve_type(ref("void", 1), EMPTY) == PointerType(VOID)
    assert resolve_type(ref("uint8", 2), EMPTY) == PointerType(PointerType(IntType(8, False)))
    assert resolve_type(ref("uint8", 0, 4), EMPTY) == ArrayType(IntType(8, False), 4)
    assert resolve_type(ref("char", 1, 3), EMPTY) == ArrayType(PointerType(IntType(8, True)), 3)
    assert resolve_type(ref("string", 0, 16), EMPTY) == StringType(16)
    assert resolve_type(ref("string"), EMPTY) == StringType(64)
    assert resolve_type(ref("string"), EMPTY, string_length=200) == StringType(200)


def test_unknown_names():
    assert resolve_type(ref("struct foo", 1), EMPTY) is None
    assert resolve_type(ref("foo_t"), EMPTY) is None
    assert resolve_type(ref("enum foo"), EMPTY) is None
    assert resolve_type(ref("struct foo", 1), EMPTY, allow_incomplete=True) == \
        PointerType(RecordType("struct", "foo", 0))
    assert resolve_type(ref("struct foo"), EMPTY, allow_incomplete=True) is None  # by value


def test_unknown_type_diagnostic_matches_bpftrace():
    source = SourceFile("stdin", "BEGIN { $x = (struct foo *)0; }")
    assert render(unknown_type(ref("struct foo", 1)), source) == (
        'stdin:1:15-27: ERROR: Cannot resolve unknown type "struct foo"\n'
        "BEGIN { $x = (struct foo *)0; }\n"
        "              ~~~~~~~~~~~~")


@pytest.fixture(scope="module")
def kernel():
    types = btf.kernel_types()
    if types is None:
        pytest.skip(f"no readable kernel BTF at {btf.VMLINUX_PATH}")
    return TypeSourceChain((types,))


def test_kernel_names(kernel):
    task = resolve_type(ref("struct task_struct", 1), kernel)
    assert isinstance(task, PointerType) and task.target.name == "task_struct"
    assert resolve_type(ref("pid_t"), kernel) == IntType(32, True)
    assert resolve_type(ref("u64", 0, 2), kernel) == ArrayType(IntType(64, False), 2)
    assert resolve_type(ref("union no_such_union"), kernel) is None
    state = resolve_type(ref("enum bpf_map_type"), kernel)
    assert isinstance(state, EnumType) and state.name == "bpf_map_type"
