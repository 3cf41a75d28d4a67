"""Each semantic diagnostic, with its exact rendered text (bpftrace's wording
and underline where bpftrace has one)."""

import pytest

from auger.probes import tracefs
from test_semantic_support import errors, warnings


def test_unknown_function_with_hint():
    assert errors("BEGIN { prnt(1); }") == (
        "stdin:1:9-16: ERROR: Unknown function: 'prnt'\n"
        "BEGIN { prnt(1); }\n"
        "        ~~~~~~~\n"
        "HINT: did you mean print?"
    )


def test_wrong_arity_underlines_the_call():
    assert errors("BEGIN { @x = count(1); }") == (
        "stdin:1:14-22: ERROR: count() requires no arguments (1 provided)\n"
        "BEGIN { @x = count(1); }\n"
        "             ~~~~~~~~"
    )


@pytest.mark.parametrize("call, message", [
    ("hist(1, 2, 3)", "hist() takes up to 2 arguments (3 provided)"),
    ("lhist(1, 0, 10)", "lhist() requires 4 arguments (3 provided)"),
    ("sum()", "sum() requires one argument (0 provided)"),
])
def test_arity_messages(call, message):
    assert f"ERROR: {message}" in errors(f"BEGIN {{ @x = {call}; }}")


def test_exit_takes_up_to_one_argument():
    assert "ERROR: exit() takes up to one argument (2 provided)" in errors("BEGIN { exit(1, 2); }")


def test_map_value_type_clash():
    assert errors('BEGIN { @x = 1; @x = "ab"; }') == (
        "stdin:1:17-26: ERROR: Type mismatch for @x: trying to assign value of type 'string[3]' "
        "when map already contains a value of type 'int64'\n"
        'BEGIN { @x = 1; @x = "ab"; }\n'
        "                ~~~~~~~~~"
    )


def test_map_clash_across_probes_found_by_the_fixpoint():
    # @x is read in BEGIN before END (textually later) assigns it a string.
    text = 'BEGIN { @y = @x + 1; } END { @x = "s"; }'
    assert "Type mismatch for '+': comparing 'string[2]' with 'int64'" in errors(text)


def test_aggregation_kinds_must_agree():
    assert errors("BEGIN { @x = count(); @x = sum(1); }") == (
        "stdin:1:23-34: ERROR: Type mismatch for @x: trying to assign value of type 'sum_t' "
        "when map already contains a value of type 'count_t'\n"
        "BEGIN { @x = count(); @x = sum(1); }\n"
        "                      ~~~~~~~~~~~"
    )


def test_map_key_type_clash():
    assert errors('BEGIN { @x[1] = 1; @x["a"] = 1; }') == (
        "stdin:1:20-27: ERROR: Argument mismatch for @x: trying to access with arguments: "
        "'string[2]' when map expects arguments: 'int64'\n"
        'BEGIN { @x[1] = 1; @x["a"] = 1; }\n'
        "                   ~~~~~~~"
    )


def test_map_with_and_without_keys():
    assert "Argument mismatch for @x: trying to access with no arguments when map expects arguments: 'int64'" in errors(
        "BEGIN { @x[1] = 1; @x = 2; }")


def test_printf_argument_type():
    assert errors('BEGIN { printf("%d\\n", "s"); }') == (
        "stdin:1:9-28: ERROR: printf: %d specifier expects a value of type integer (string supplied)\n"
        'BEGIN { printf("%d\\n", "s"); }\n'
        "        ~~~~~~~~~~~~~~~~~~~"
    )


def test_printf_argument_count():
    assert errors('BEGIN { printf("%d %d\\n", 1); }') == (
        "stdin:1:9-29: ERROR: printf: Not enough arguments for format string (1 supplied, 2 expected)\n"
        'BEGIN { printf("%d %d\\n", 1); }\n'
        "        ~~~~~~~~~~~~~~~~~~~~"
    )
    assert "printf: Too many arguments for format string (2 supplied, 1 expected)" in errors(
        'BEGIN { printf("%d\\n", 1, 2); }')


def test_printf_format_must_be_a_literal():
    assert "ERROR: printf() expects a string literal (integer provided)" in errors("BEGIN { $a = 1; printf($a); }")


def test_printf_unsupported_specifier():
    assert "ERROR: printf: unsupported format specifier: f" in errors('BEGIN { printf("%f", 1); }')


@pytest.mark.skipif(not tracefs.accessible(), reason="tracefs is not accessible (needs root)")
def test_unknown_tracepoint_field():
    assert errors("tracepoint:syscalls:sys_enter_openat { args.nope }") == (
        "stdin:1:40-49: ERROR: Struct/union of type 'struct tracepoint:syscalls:sys_enter_openat_args' "
        "does not contain a field named 'nope'\n"
        "tracepoint:syscalls:sys_enter_openat { args.nope }\n"
        "                                       ~~~~~~~~~"
    )


def test_unknown_probe_type():
    assert errors("foo:bar { 1 }") == (
        "stdin:1:1-8: ERROR: Invalid probe type: foo\n"
        "foo:bar { 1 }\n"
        "~~~~~~~"
    )


def test_retval_in_begin():
    assert errors("BEGIN { print(retval); }") == (
        "stdin:1:15-21: ERROR: The retval builtin can only be used with 'kretprobe' and 'uretprobe' and 'fentry' probes\n"
        "BEGIN { print(retval); }\n"
        "              ~~~~~~"
    )


def test_arg_in_begin():
    assert "The arg0 builtin can only be used with 'kprobes', 'uprobes' and 'usdt' probes" in errors(
        "BEGIN { print(arg0); }")


def test_cpid_without_child():
    assert errors("BEGIN { print(cpid); }") == (
        "stdin:1:15-19: ERROR: cpid cannot be used without child command\n"
        "BEGIN { print(cpid); }\n"
        "              ~~~~"
    )


def test_unsafe_functions():
    assert errors('BEGIN { system("ls"); }') == (
        "stdin:1:9-21: ERROR: system() is an unsafe function being used in safe mode\n"
        'BEGIN { system("ls"); }\n'
        "        ~~~~~~~~~~~~"
    )
    assert "signal() is an unsafe function being used in safe mode" in errors("BEGIN { signal(9); }")


def test_lhist_bounds_must_be_literals():
    assert errors("BEGIN { $a = 1; @x = lhist(1, $a, 10, 1); }") == (
        "stdin:1:22-41: ERROR: lhist: invalid min value (must be non-negative literal)\n"
        "BEGIN { $a = 1; @x = lhist(1, $a, 10, 1); }\n"
        "                     ~~~~~~~~~~~~~~~~~~~"
    )


def test_hist_bits_range():
    assert "ERROR: hist: bits 6 must be 0..5" in errors("BEGIN { @x = hist(1, 6); }")


def test_unroll_out_of_range():
    assert errors("BEGIN { unroll(101) { } }") == (
        "stdin:1:9-19: ERROR: unroll maximum value is 100\n"
        "BEGIN { unroll(101) { } }\n"
        "        ~~~~~~~~~~"
    )
    assert "unroll minimum value is 1" in errors("BEGIN { unroll(0) { } }")


def test_undefined_map_with_hint():
    assert errors("BEGIN { @count = 1; print(@cout); }") == (
        "stdin:1:27-32: ERROR: Undefined map: @cout\n"
        "BEGIN { @count = 1; print(@cout); }\n"
        "                          ~~~~~\n"
        "HINT: did you mean @count?"
    )


def test_undeclared_variable():
    assert errors("BEGIN { print($x); }") == (
        "stdin:1:15-17: ERROR: Undefined or undeclared variable: $x\n"
        "BEGIN { print($x); }\n"
        "              ~~"
    )


def test_variables_are_per_probe_and_per_block():
    assert "Undefined or undeclared variable: $x" in errors("BEGIN { $x = 1; } END { print($x); }")
    assert "Undefined or undeclared variable: $x" in errors("BEGIN { if (1) { let $x = 1; } print($x); }")


def test_variable_type_clash():
    assert errors('BEGIN { $x = 1; $x = "a"; }') == (
        "stdin:1:17-25: ERROR: Type mismatch for $x: trying to assign value of type 'string[2]' "
        "when variable already contains a value of type 'int64'\n"
        'BEGIN { $x = 1; $x = "a"; }\n'
        "                ~~~~~~~~"
    )


def test_string_compared_with_integer():
    assert "ERROR: Type mismatch for '==': comparing 'string[2]' with 'int64'" in errors('BEGIN { $x = "a" == 1; }')


def test_ternary_branches_must_agree():
    assert "Ternary operator must return the same type: have 'int64' and 'string[2]'" in errors(
        'BEGIN { $x = 1 ? 2 : "a"; }')


def test_aggregation_must_be_assigned_to_a_map():
    assert errors("BEGIN { $x = count(); }") == (
        "stdin:1:14-21: ERROR: count() must be assigned directly to a map\n"
        "BEGIN { $x = count(); }\n"
        "             ~~~~~~~"
    )


def test_tuple_index_out_of_range():
    assert 'Invalid tuple index: 2. Found 2 elements in tuple.' in errors('BEGIN { $x = (1, "a"); print($x.2); }')


def test_field_on_integer():
    assert "Can not access field 'foo' on expression of type 'int64'" in errors("BEGIN { $x = 1; print($x->foo); }")


def test_strftime_format_must_be_literal():
    assert "strftime() expects a string literal (string provided)" in errors(
        'BEGIN { $a = "%H"; print(strftime($a, 1)); }')


def test_break_outside_loop():
    assert "'break' statement is not allowed outside of a loop" in errors("BEGIN { break; }")


def test_unknown_config_variable_with_hint():
    assert errors("config = { max_strln = 10 } BEGIN { }") == (
        "stdin:1:12-26: ERROR: Unrecognized config variable: max_strln\n"
        "config = { max_strln = 10 } BEGIN { }\n"
        "           ~~~~~~~~~~~~~~\n"
        "HINT: did you mean max_strlen?"
    )


def test_bad_config_value():
    assert "Invalid value for stack_mode: expected one of bpftrace, perf, raw" in errors(
        "config = { stack_mode = fast } BEGIN { }")


def test_unknown_cast_type():
    assert 'Cannot resolve unknown type "struct no_such_struct"' in errors(
        "BEGIN { print(((struct no_such_struct *)0)->x); }")


def test_several_errors_are_reported_together_in_source_order():
    text = 'BEGIN { foo(); @x = 1; @x = "ab"; print($nope); } END { retval }'
    rendered = errors(text)
    assert [line.split(": ERROR: ")[1] for line in rendered.splitlines() if ": ERROR: " in line] == [
        "Unknown function: 'foo'",
        "Type mismatch for @x: trying to assign value of type 'string[3]' when map already contains a value of type 'int64'",
        "Undefined or undeclared variable: $nope",
        "The retval builtin can only be used with 'kretprobe' and 'uretprobe' and 'fentry' probes",
    ]


def test_macro_arity_and_recursion():
    assert "Call to macro 'one' has the wrong number of arguments: 1 expected, 2 provided" in errors(
        "macro one($a) { $a } BEGIN { print(one(1, 2)); }")
    assert "Recursive macro call detected: f -> g -> f" in errors(
        "macro f($a) { g($a) } macro g($a) { f($a) } BEGIN { print(f(1)); }")


def test_macro_map_parameter_needs_a_map():
    assert "Macro 'm' expects a map for parameter @x" in errors("macro m(@x) { @x = 1; } BEGIN { m(1); }")


def test_missing_positional_warns():
    assert warnings('BEGIN { printf("%d\\n", $1); }') == (
        "stdin:1:24-26: WARNING: Positional parameter $1 is empty or not provided.\n"
        'BEGIN { printf("%d\\n", $1); }\n'
        "                       ~~"
    )


def test_discarded_value_warns():
    assert "WARNING: Return value discarded." in warnings("BEGIN { pid; }")


def test_sign_compare_warns():
    assert "comparison of integers of different signs: 'int64' and 'uint64'" in warnings(
        "BEGIN { $a = 1; if ($a < nsecs) { } }")


def test_signal_and_override_need_suitable_probes():
    text = "BEGIN { signal(9); override(1); }"
    rendered = errors(text, unsafe=True)
    assert 'signal can not be used with "BEGIN" probes' in rendered
    assert "override can only be used with kprobes." in rendered
