"""Syntax and lexical errors: one clear diagnostic, rendered bpftrace style,
and never anything but CompileError for any text."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auger.compiler.diagnostics import CompileError, SourceFile, render
from auger.compiler.parser import parse


def rendered(text: str) -> str:
    source = SourceFile("stdin", text)
    with pytest.raises(CompileError) as caught:
        parse(source)
    (diagnostic,) = caught.value.diagnostics
    return render(diagnostic, source)


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "BEGIN { $x = 1 +; }",
            "stdin:1:17-18: ERROR: syntax error, unexpected ;, expecting expression\n"
            "BEGIN { $x = 1 +; }\n"
            "                ~",
        ),
        (
            'BEGIN { printf("x")',
            "stdin:1:20-21: ERROR: syntax error, unexpected end of file, expecting ; or }\n"
            'BEGIN { printf("x")\n'
            "                   ~",
        ),
        (
            "BEGIN { if (1) { } else }",
            "stdin:1:25-26: ERROR: syntax error, unexpected }, expecting if or {\n"
            "BEGIN { if (1) { } else }\n"
            "                        ~",
        ),
        (
            "BEGIN { foo bar }",
            "stdin:1:13-16: ERROR: syntax error, unexpected identifier 'bar', expecting ( or ; or }\n"
            "BEGIN { foo bar }\n"
            "            ~~~",
        ),
        (
            "BEGIN { for ($x : 1) {} }",
            "stdin:1:20-21: ERROR: syntax error, unexpected ), expecting ..\n"
            "BEGIN { for ($x : 1) {} }\n"
            "                   ~",
        ),
        (
            "k:f { } k:g }",
            "stdin:1:13-14: ERROR: syntax error, unexpected }, expecting , or {\n"
            "k:f { } k:g }\n"
            "            ~",
        ),
        (
            'BEGIN { @x = "abc }',
            "stdin:1:14-20: ERROR: unterminated string\n"
            'BEGIN { @x = "abc }\n'
            "             ~~~~~~",
        ),
        (
            "BEGIN { $x = 1 } /* x",
            "stdin:1:18-22: ERROR: end of file during comment\n"
            "BEGIN { $x = 1 } /* x\n"
            "                 ~~~~",
        ),
        (
            "BEGIN { $x = `; }",
            "stdin:1:14-15: ERROR: invalid character '`'\n"
            "BEGIN { $x = `; }\n"
            "             ~",
        ),
        (
            "BEGIN { $x = \0; }",
            "stdin:1:14-15: ERROR: invalid character '\\x00'\n"
            "BEGIN { $x = \0; }\n"
            "             ~",
        ),
        (
            "BEGIN { $x = é; }",
            "stdin:1:14-15: ERROR: invalid character 'é'\n"
            "BEGIN { $x = é; }\n"
            "             ~",
        ),
        (
            'BEGIN { $x = "a\\q"; }',
            "stdin:1:16-18: ERROR: invalid escape character '\\q'\n"
            'BEGIN { $x = "a\\q"; }\n'
            "               ~~",
        ),
        (
            'BEGIN { $x = "\\777"; }',
            "stdin:1:15-19: ERROR: octal escape '\\777' is out of range\n"
            'BEGIN { $x = "\\777"; }\n'
            "              ~~~~",
        ),
        (
            "BEGIN { $x = 18446744073709551616; }",
            "stdin:1:14-34: ERROR: integer literal '18446744073709551616' does not fit in 64 bits\n"
            "BEGIN { $x = 18446744073709551616; }\n"
            "             ~~~~~~~~~~~~~~~~~~~~",
        ),
        (
            "BEGIN { $x = 1e99; }",
            "stdin:1:14-18: ERROR: integer literal '1e99' does not fit in 64 bits\n"
            "BEGIN { $x = 1e99; }\n"
            "             ~~~~",
        ),
        (
            "BEGIN { $x = 10zz; }",
            "stdin:1:16-18: ERROR: invalid suffix 'zz' on integer literal\n"
            "BEGIN { $x = 10zz; }\n"
            "               ~~",
        ),
        (
            "BEGIN { $x = 0x10s; }",
            "stdin:1:18-19: ERROR: invalid suffix 's' on integer literal\n"
            "BEGIN { $x = 0x10s; }\n"
            "                 ~",
        ),
        (
            "BEGIN { $x = 089; }",
            "stdin:1:14-17: ERROR: invalid octal literal '089'\n"
            "BEGIN { $x = 089; }\n"
            "             ~~~",
        ),
        (
            "BEGIN { $t.0x1 }",
            "stdin:1:12-15: ERROR: invalid tuple index '0x1'\n"
            "BEGIN { $t.0x1 }\n"
            "           ~~~",
        ),
        (
            "config = { a = 1 }\nconfig = { b = 2 }\nBEGIN { }",
            "stdin:2:1-19: ERROR: only one config block is allowed\n"
            "config = { b = 2 }\n"
            "~~~~~~~~~~~~~~~~~~",
        ),
        (
            "config = { a = 1 }",
            "stdin:1:1-2: ERROR: syntax error, the program has no probes\n"
            "config = { a = 1 }\n"
            "~",
        ),
        (
            "BEGIN { #x\n}",
            "stdin:1:9-11: ERROR: syntax error, unexpected preprocessor directive '#x'\n"
            "BEGIN { #x\n"
            "        ~~",
        ),
    ],
)
def test_diagnostic_text(text, expected):
    assert rendered(text) == expected


def test_deep_nesting_is_a_diagnostic_or_a_program():
    text = "BEGIN { $x = " + "(" * 5000 + "1" + ")" * 5000 + " }"
    try:
        parse(SourceFile("stdin", text))
    except CompileError:
        pass


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(alphabet=st.sampled_from(list("BEGIN{}()[]/*;$@#\"\\:,.=+-<>!~&|^%?x1 \n\t\0é")), max_size=60))
def test_any_text_gives_a_program_or_compile_error(text):
    try:
        parse(SourceFile("stdin", text))
    except CompileError:
        pass
