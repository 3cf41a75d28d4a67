"""Regression tests for the front-end review: deep nesting, lost C-definition
errors, long map chains, #define ranges, bitfields, duplicate members."""

import pytest

from auger.compiler.diagnostics import CompileError, SourceFile
from auger.compiler.parser import MAX_NESTING, parse
from auger.compiler.pipeline import compile_source
from test_semantic_support import analysed, errors

DEEP_PROGRAMS = [
    "BEGIN { " + "if (1) { " * 200 + "}" * 200 + " }",
    "BEGIN { @ = " + "+".join(["1"] * 600) + "; }",
    "BEGIN { $x = " + "(1," * 300 + "1" + ")" * 300 + "; }",
    'BEGIN { printf("%s", ' + "str(" * 300 + '"a"' + ")" * 300 + "); }",
    "BEGIN { @ = " + "1 ? " * 300 + "1" + " : 2" * 300 + "; }",
]


@pytest.mark.parametrize("text", DEEP_PROGRAMS, ids=["if", "plus", "tuple", "str", "ternary"])
def test_deep_nesting_is_one_diagnostic(text):
    with pytest.raises(CompileError) as raised:
        parse(SourceFile("stdin", text))
    (diagnostic,) = raised.value.diagnostics
    assert "nested too deeply" in diagnostic.message


def test_nesting_at_the_limit_survives_every_pass():
    # The deepest accepted program must get through analysis (and codegen,
    # where it supports the constructs) without a RecursionError.
    terms = MAX_NESTING - 10
    text = "BEGIN { @ = " + "+".join(["1"] * terms) + "; }"
    compile_source(SourceFile("stdin", text))
    ifs = (MAX_NESTING - 10) // 2
    compile_source(SourceFile("stdin", "BEGIN { " + "if (1) { " * ifs + "}" * ifs + " }"))


def test_long_chain_of_by_value_structs():
    text = "".join(f"struct S{i} {{ struct S{i + 1} x; }} " for i in range(3000))
    text += "struct S3000 { int y; } BEGIN { @ = sizeof(struct S0); }"
    assert str(analysed(text).maps[""].value) == "uint64"


def test_c_definition_errors_survive_a_second_round():
    text = "struct Foo { int x; } struct Foo { long y; } BEGIN { @x = sizeof(struct Foo); }"
    assert 'Redefinition of "struct Foo"' in errors(text)


def test_c_definition_errors_reported_when_no_check_needs_types():
    assert 'Redefinition of enumerator "A"' in errors("enum E { A, A } BEGIN { }")


def test_duplicate_members():
    assert 'Duplicate member "f" in "struct A"' in errors("struct A { int f; long f; } BEGIN { }")


def test_long_map_chain_is_inferred():
    chain = " ".join(f"@a{i} = @a{i + 1};" for i in range(40))
    analysis = analysed(f"BEGIN {{ {chain} @a40 = 1; }}")
    assert str(analysis.maps["a0"].value) == "int64"


def test_define_outside_64_bits():
    text = "#define X 99999999999999999999999999999\nBEGIN { @ = 1; }"
    assert "the value of X (99999999999999999999999999999) does not fit in 64 bits" in errors(text)


def test_define_nested_too_deeply_is_not_a_constant():
    text = "#define X " + "+".join(["1"] * 3000) + "\nBEGIN { @ = X; }"
    assert "Unknown identifier: 'X'" in errors(text)


def test_bitfields_are_laid_out():
    # Bitfields used to be rejected; tests/compiler/test_cdefs.py checks their layout.
    analysis = analysed("struct A { int f:3; int g:5; } BEGIN { $a = (struct A *)0; @ = $a->g; }")
    assert str(analysis.maps[""].value) == "int32"


def test_byte_escapes_are_single_bytes():
    from auger.compiler.literals import decode_string, string_bytes

    assert string_bytes(decode_string(r"\xff\x41\377é")) == b"\xffA\xff" + "é".encode()
    assert str(analysed('BEGIN { $s = "\\xff"; @ = sizeof($s); }').maps[""].value) == "uint64"
