"""Probe contexts: which builtins a kind offers and what `args` holds."""

import pytest

from auger.compiler.types import ArrayType, FieldLayout, IntType, PointerType, SpecialType
from auger.probes.base import ProbeError
from auger.probes.registry import context, parse_attach_point
from auger.probes.tracefs import parse_format


def context_of(text):
    return context(parse_attach_point(text))


@pytest.mark.parametrize(
    "text, is_return",
    [
        ("kprobe:vfs_read", False),
        ("kretprobe:vfs_read", True),
        ("uprobe:/bin/bash:readline", False),
        ("uretprobe:/bin/bash:readline", True),
        ("fentry:vfs_read", False),
        ("fexit:vfs_read", True),
        ("rawtracepoint:sched_switch", False),
        ("interval:s:1", False),
        ("BEGIN", False),
        ("software:faults", False),
    ],
)
def test_retval_only_on_return_probes(text, is_return):
    found = context_of(text)
    assert ("retval" in found.builtins) == is_return
    assert found.is_return == is_return


def test_entry_probes_have_registers_and_func():
    for text in ("kprobe:vfs_read", "uprobe:/bin/bash:readline"):
        found = context_of(text)
        assert {"func", "arg0", "arg5", "sarg0"} <= found.builtins
        assert "arg6" not in found.builtins and found.max_arg_registers == 6
    returning = context_of("uretprobe:/bin/bash:readline")
    assert "func" in returning.builtins and "arg0" not in returning.builtins


def test_rawtracepoint_has_args_registers_only():
    found = context_of("rawtracepoint:sched_switch")
    assert "arg0" in found.builtins and "args" not in found.builtins and found.args is None


def test_usdt_arguments_come_from_the_note():
    found = context_of("usdt:/usr/bin/python3:python:function__entry")
    assert found.max_arg_registers == 3
    assert found.builtins == {"arg0", "arg1", "arg2"}


def test_perf_event_numbers():
    assert context_of("software:faults").extra == {"perf_type": 1, "perf_config": 2, "period": 100}
    assert context_of("software:cs:7").extra == {"perf_type": 1, "perf_config": 3, "period": 7}
    assert context_of("hardware:cycles").extra == {"perf_type": 0, "perf_config": 0, "period": 1000000}


def test_sys_enter_openat_args(tracing):
    # Syscall arguments sit in 8-byte slots but keep their declared types:
    # the slot's upper half is whatever the register held, so AT_FDCWD reads
    # as -100 only as the declared 32-bit int. bpftrace types them as 64-bit
    # and shows the sign only because its %d cuts to 32 bits; as a map key
    # it prints 4294967196.
    found = context_of("tracepoint:syscalls:sys_enter_openat")
    assert "args" in found.builtins
    assert found.args == (
        FieldLayout("__syscall_nr", IntType(32, True), 8),
        FieldLayout("dfd", IntType(32, True), 16),
        FieldLayout("filename", PointerType(IntType(8, True)), 24),
        FieldLayout("flags", IntType(32, True), 32),
        FieldLayout("mode", IntType(16, False), 40),
    )


def test_data_loc_field(tracing):
    found = context_of("tracepoint:sched:sched_process_exec")
    assert found.args[0] == FieldLayout("filename", SpecialType("data_loc", 4), 8)
    assert [field.name for field in found.args] == ["filename", "pid", "old_pid"]


def test_unknown_tracepoint(tracing):
    with pytest.raises(ProbeError) as raised:
        context_of("tracepoint:syscall:sys_enter_read")
    assert str(raised.value) == "tracepoint not found: syscall:sys_enter_read"
    assert raised.value.hint == "Did you mean syscalls:sys_enter_read?"


def test_format_parsing_of_arrays_and_records():
    fields = parse_format(
        "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
        "\tfield:char comm[16];\toffset:8;\tsize:16;\tsigned:1;\n"
        "\tfield:__u8 saddr[4];\toffset:24;\tsize:4;\tsigned:0;\n"
        "\tfield:struct sockaddr * addr;\toffset:32;\tsize:8;\tsigned:0;\n"
        "\tfield:u64 count;\toffset:40;\tsize:8;\tsigned:0;\n"
        "\tfield:__data_loc u8[] buf;\toffset:48;\tsize:4;\tsigned:0;\n"
    )
    assert [(field.name, field.offset) for field in fields] == [
        ("comm", 8), ("saddr", 24), ("addr", 32), ("count", 40), ("buf", 48)
    ]
    assert fields[0].type == ArrayType(IntType(8, True), 16)
    assert fields[1].type == ArrayType(IntType(8, False), 4)
    assert str(fields[2].type) == "struct sockaddr *"
    assert fields[3].type == IntType(64, False)
    assert fields[4].type == SpecialType("data_loc", 4)


def test_fentry_args_from_btf():
    btf = pytest.importorskip("auger.compiler.btf")
    if btf.kernel_types() is None:
        pytest.skip("no kernel BTF")
    found = context_of("fexit:vfs_read")
    assert [field.name for field in found.args] == ["file", "buf", "count", "pos"]
    assert [field.offset for field in found.args] == [0, 8, 16, 24]
    assert found.extra["retval_offset"] == 32
