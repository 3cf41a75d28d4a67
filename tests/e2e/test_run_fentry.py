"""fentry/fexit: BPF_PROG_TYPE_TRACING programs, loaded for their kernel
function (expected_attach_type, attach_btf_id) and attached with a BPF link.

What happens on this machine is asked of the kernel, not assumed: a kernel
without BPF trampolines (no ftrace direct calls) may refuse the load (this
one refuses it with EPERM before the verifier runs) or only the attach.
Either way the user gets one line, `ERROR: this kernel cannot attach
fentry/fexit programs (...)`, and nothing stays loaded.

Whatever this kernel does with fentry, the programs' reads of the TRACING
context are verified for real: the same code is loaded as a tp_btf program
(the same program type, whose every context read the verifier checks
against a BTF prototype, btf_ctx_access, as for fentry) at a raw tracepoint
whose first arguments are all integers, like the integer slots the
programs read directly (pointers are copied out with probe reads)."""

import io
import os
import subprocess
import sys

import pytest

from auger.compiler.btf import KIND_TYPEDEF, kernel_types
from auger.compiler.codegen import compile_program
from auger.compiler.codegen.loops import callback_section
from auger.compiler.diagnostics import SourceFile
from auger.compiler.parser import parse
from auger.compiler.semantic import analyse
from auger.probes import registry
from auger.runtime import loader
from auger.runtime.attach import AttachError, Detacher, attach_all
from auger.runtime.bpf_object import read_object
from auger.runtime.kernel import Kernel
from auger.runtime.libbcc import AttachType, BpfError, ProgType
from auger.runtime.session import SessionOptions, run

ENTRY = 'fentry:vfs_read { @[comm] = count(); printf("%d\\n", args.count); }'
EXIT = "fexit:vfs_read { @ret = hist(retval); }"
CANNOT_ATTACH = "ERROR: this kernel cannot attach fentry/fexit programs ("
# mm_migrate_pages(succeeded, failed, thp_succeeded, thp_failed, thp_split,
# large_folio_split, mode, reason): eight integers.
INTEGER_TRACEPOINT = "mm_migrate_pages"

needs_btf = pytest.mark.skipif(kernel_types() is None, reason="no kernel BTF (/sys/kernel/btf/vmlinux)")
pytestmark = needs_btf


def _compile(text: str):
    source = SourceFile("stdin", text)
    analysis = analyse(parse(source), source)
    return analysis, compile_program(analysis)


def _tracing_probes(compiled):
    return [probe for probe in compiled.probes if probe.group.program_type == "tracing"]


# --- compiling (no root) --------------------------------------------------------


def test_each_attach_point_is_a_tracing_program_bound_to_its_function():
    _, compiled = _compile("fentry:vfs_read,kfunc:vfs_write { @[probe] = count(); } " + EXIT)
    probes = _tracing_probes(compiled)
    assert [(probe.kind, [spec.name for spec in probe.group.specs]) for probe in probes] == [
        ("fentry", ["fentry:vfs_read"]), ("fentry", ["fentry:vfs_write"]), ("fexit", ["fexit:vfs_read"]),
    ]
    ids = [probe.group.context.extra["btf_id"] for probe in probes]
    assert ids[0] == ids[2] != ids[1] and all(isinstance(type_id, int) and type_id > 0 for type_id in ids)


def test_context_reads():
    # vfs_read(struct file *file, char *buf, size_t count, loff_t *pos) returns ssize_t.
    _, compiled = _compile(
        'fexit:vfs_read { printf("%d %d %d %s\\n", args.count, retval, args.file->f_pos, func); }'
    )
    ir_text = compiled.ir_text
    assert "getelementptr i8, i8* %\".1\", i64 16" in ir_text  # args.count: its slot, read directly
    assert "getelementptr i8, i8* %\".1\", i64 32" in ir_text  # retval: the slot after the 4 arguments
    assert "inttoptr i64 113 to" in ir_text  # the pointer args.file copied out with probe_read_kernel
    assert "inttoptr i64 173 to" in ir_text  # func: bpf_get_func_ip


def test_struct_arguments_take_two_slots():
    # timestamp_truncate(struct timespec64 t, struct inode *inode): t fills slots 0 and 1.
    if kernel_types().function("timestamp_truncate") is None:
        pytest.skip("this kernel has no timestamp_truncate")
    analysis, compiled = _compile('fentry:timestamp_truncate { printf("%d %d\\n", args.t.tv_nsec, args.inode->i_ino); }')
    context = analysis.probes[0].contexts[0]
    assert [(field.name, field.offset) for field in context.args] == [("t", 0), ("inode", 16)]
    assert len(_tracing_probes(compiled)) == 1


def test_module_functions_are_refused_at_compile_time(run_auger):
    result = run_auger("--dry-run", "-e", "fentry:ext4:ext4_file_open { @ = count(); }")
    assert result.returncode == 1
    assert "fentry probes on module functions (ext4:ext4_file_open) are not supported yet" in result.stderr


# --- the verifier, through tp_btf ------------------------------------------------


def _typedef_id(name: str) -> int | None:
    return kernel_types().type_id(name, KIND_TYPEDEF)


def _load_as_tp_btf(kernel: Kernel, compiled, tracepoint_id: int):
    """Every tracing program of `compiled`, loaded as tp_btf programs at the
    raw tracepoint whose btf_trace_ typedef is `tracepoint_id` (log kept)."""
    maps = {plan.symbol: loader.create_map(kernel, plan).fd for plan in compiled.maps}
    bpf_object = read_object(compiled.object_code)
    programs = []
    for probe in _tracing_probes(compiled):
        section = bpf_object.program(probe.section)
        callbacks = bpf_object.section(callback_section(probe.section))
        programs.append(kernel.load_program(
            ProgType.TRACING, section.linked(maps, callbacks), name=probe.name, log_level=1,
            functions=section.function_starts(callbacks),
            attach_type=AttachType.TRACE_RAW_TP, attach_btf_id=tracepoint_id,
        ))  # fmt: skip
    return programs


@pytest.mark.root
@pytest.mark.parametrize("text", [
    ENTRY,
    EXIT,
    "fexit:vfs_read / retval > 0 / { @bytes[comm] = sum(retval); @low = (uint64)args.buf & 0xff; "
    "@flags = args.file->f_flags; @s[kstack] = count(); }",
    'fentry:vfs_read { printf("%s %d %d\\n", str(args.buf), args.file->f_pos, args.pos); @m[1] = 2; '
    "for ($kv : @m) { print($kv); } }",
    "fentry:ksys_write { @[args.fd] = count(); if (args.count > 3) { @big = 1; } }",  # a 32-bit argument
])  # fmt: skip
def test_verifier_accepts_the_tracing_context_reads(text):
    tracepoint_id = _typedef_id(f"btf_trace_{INTEGER_TRACEPOINT}")
    if tracepoint_id is None:
        pytest.skip(f"no raw tracepoint {INTEGER_TRACEPOINT} in this kernel's BTF")
    _, compiled = _compile(text)
    with Kernel() as kernel:
        for program in _load_as_tp_btf(kernel, compiled, tracepoint_id):
            assert program.info().type == ProgType.TRACING
            assert "processed" in program.log


@pytest.mark.root
def test_attach_tracing_links_a_tracing_program():
    """Kernel.attach_tracing, on the tp_btf program type this kernel can attach."""
    tracepoint_id = _typedef_id(f"btf_trace_{INTEGER_TRACEPOINT}")
    if tracepoint_id is None:
        pytest.skip(f"no raw tracepoint {INTEGER_TRACEPOINT} in this kernel's BTF")
    _, compiled = _compile(ENTRY)
    with Kernel() as kernel:
        [program] = _load_as_tp_btf(kernel, compiled, tracepoint_id)
        attachment = kernel.attach_tracing(program, AttachType.TRACE_RAW_TP, f"tp_btf {INTEGER_TRACEPOINT}")
        assert not attachment.closed
        attachment.close()


@pytest.mark.root
def test_an_attach_failure_is_the_cannot_attach_error():
    """The provider's attach path, failing: a program the kernel cannot
    attach as fentry (a raw_tracepoint one: BPF_LINK_CREATE and the
    BPF_RAW_TRACEPOINT_OPEN fallback both refuse it)."""
    return_zero = bytes.fromhex("b700000000000000") + bytes.fromhex("9500000000000000")
    provider = registry.provider("fentry")
    spec = provider.parse(["vfs_read"], "vfs_read")
    with Kernel() as kernel:
        program = kernel.load_program(ProgType.RAW_TRACEPOINT, return_zero, name="auger_not_fentry")
        with pytest.raises(BpfError) as raised:
            provider.attach(spec, program.fd, kernel)
    assert str(raised.value).startswith("this kernel cannot attach fentry/fexit programs (attaching fentry vfs_read: ")


# --- loading and attaching real fentry/fexit programs -----------------------------


@pytest.mark.root
def test_load_and_attach_or_one_clear_error():
    """Load both programs. A kernel that refuses them says why in one line;
    one that loads them has verified them, and attaching then either works or
    names the reason, the same way."""
    _, compiled = _compile(f"{ENTRY} {EXIT}")
    with Kernel() as kernel:
        try:
            loaded = loader.load(kernel, compiled)
        except loader.LoadError as problem:
            message = str(problem)
            assert message.startswith(CANNOT_ATTACH) and message.endswith(")") and "\n" not in message
            assert "it refused to load the program of fentry:vfs_read" in message
            return
        infos = [program.info() for _, program in loaded.programs]
        assert [info.type for info in infos] == [ProgType.TRACING] * 2
        assert all(info.verified_insns > 0 for info in infos)
        detach = Detacher()
        try:
            attach_all(kernel, loaded, detach)
        except AttachError as problem:
            assert str(problem).startswith("ERROR: attaching probe fentry:vfs_read: this kernel cannot attach")
        finally:
            kernel.close()
            detach.close()


def _fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.mark.root
def test_session_stops_cleanly_with_one_line():
    """A tracepoint loads first; the fentry program fails after it: every
    fd of the session is closed again, and the error is one line. (Where
    it attaches, BEGIN ends the session.)"""
    text = f"BEGIN {{ exit(); }} tracepoint:syscalls:sys_enter_getppid {{ @t = count(); }} {ENTRY} END {{ @end = 1; }}"
    analysis, compiled = _compile(text)
    errors = io.StringIO()
    before = _fds()
    status = run(analysis, compiled, SessionOptions(output=io.StringIO(), errors=errors))
    if status == 0:
        pytest.skip("this kernel attaches fentry programs")
    assert status == 1
    assert errors.getvalue().startswith(CANNOT_ATTACH) and errors.getvalue().count("\n") == 1
    assert _fds() == before


@pytest.mark.root
def test_cli_reports_one_line_and_no_traceback():
    program = f"BEGIN {{ exit(); }} {EXIT}"  # where it attaches, BEGIN ends the session
    result = subprocess.run([sys.executable, "-m", "auger", "-e", program], capture_output=True, text=True, timeout=60)
    if result.returncode == 0:
        pytest.skip("this kernel attaches fexit programs")
    assert result.returncode == 1
    assert result.stderr.startswith(CANNOT_ATTACH) and result.stderr.count("\n") == 1, result.stderr
    assert "fexit:vfs_read" in result.stderr and "Traceback" not in result.stderr
