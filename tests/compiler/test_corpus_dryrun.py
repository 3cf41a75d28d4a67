"""Every bpftrace tool that Debian ships (/usr/sbin/*.bt) and attaches no
kernel-function probe (kprobe, kretprobe, fentry/kfunc, fexit/kretfunc: this
machine has none) compiles to a BPF object, as `auger --dry-run` does it.
Kernel types, struct casts and kernel `#include`s resolve from BTF."""

import re
from pathlib import Path

import pytest

from auger.cli import DRY_RUN_UNTIL
from auger.compiler.btf import kernel_types
from auger.compiler.diagnostics import CompileError, SourceFile
from auger.compiler.parser import parse
from auger.compiler.pipeline import CompileOptions, compile_source
from auger.probes import registry
from auger.probes.attach_point import split_attach_point
from auger.probes.base import ProbeError

TOOLS = sorted(Path("/usr/sbin").glob("*.bt"))
KERNEL_FUNCTION_PROVIDERS = {"kprobe", "kretprobe", "fentry", "fexit"}
# The Debian package's file list: present when the tools came from it.
DEBIAN_LIST = Path("/var/lib/dpkg/info/bpftrace.list")


def _provider(attach_point: str) -> str:
    try:
        return registry.provider(split_attach_point(attach_point)[0]).name
    except ProbeError:
        return ""


def uses_kernel_functions(path: Path) -> bool:
    program = parse(SourceFile(str(path), path.read_text()))
    return any(
        _provider(point.text) in KERNEL_FUNCTION_PROVIDERS
        for probe in program.probes
        for point in probe.attach_points
    )


NO_KPROBE_TOOLS = [path for path in TOOLS if not uses_kernel_functions(path)]

_MISSING_FIELD = re.compile(r"Struct/union of type '(struct|union) (\w+)' does not contain a field named '(\w+)'")
_MISSING_SYMBOL = re.compile(r"Failed to resolve kernel symbol: (\w+)")


def _kernel_symbols() -> set[str]:
    with open("/proc/kallsyms") as symbols:
        return {line.split()[2] for line in symbols}


def _environment_reason(message: str) -> str | None:
    """Why an error is this machine's and not the front end's, or None.
    Each reason is checked against the machine, not taken on trust."""
    match = _MISSING_FIELD.fullmatch(message)
    if match:
        kind, name, field = match.groups()
        btf = kernel_types()
        record = btf.record(kind, name) if btf else None
        if record is not None and field not in {f.name for f in btf.fields(record)}:
            # e.g. cfs_rq.nr_running became nr_queued in Linux 6.14; bpftrace
            # 0.17 and 0.27 reject the tool on this kernel too.
            return f"the running kernel's {kind} {name} has no member {field}"
    match = _MISSING_SYMBOL.fullmatch(message)
    if match and match.group(1) not in _kernel_symbols():
        # Data symbols (loads.bt's avenrun) are listed only with
        # CONFIG_KALLSYMS_ALL; bpftrace 0.17 fails the same way without it.
        return f"the running kernel lists no symbol {match.group(1)} in /proc/kallsyms"
    return None


@pytest.mark.skipif(not DEBIAN_LIST.exists() or not TOOLS, reason="Debian's bpftrace package is not installed")
def test_debian_ships_21_tools_without_kernel_function_probes():
    assert len(TOOLS) == 38
    assert len(NO_KPROBE_TOOLS) == 21


@pytest.mark.skipif(not TOOLS, reason="no bpftrace tools in /usr/sbin (package bpftrace)")
@pytest.mark.parametrize("path", NO_KPROBE_TOOLS, ids=lambda p: p.name)
def test_tool_passes_the_dry_run(path):
    source = SourceFile(str(path), path.read_text())
    try:
        compiled = compile_source(source, CompileOptions(), DRY_RUN_UNTIL).compiled
        assert compiled.object_code[:4] == b"\x7fELF"
    except CompileError as failure:
        reasons = [_environment_reason(d.message) for d in failure.diagnostics]
        if all(reasons):
            pytest.xfail("; ".join(sorted(set(reasons))))
        raise
