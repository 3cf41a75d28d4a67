"""The kernel functions kprobes and fentry/fexit can attach to, and whether
this kernel has kprobes at all."""

from __future__ import annotations

import functools
import os
from pathlib import Path

from . import tracefs

CORE_MODULE = "vmlinux"


def kprobes_supported() -> bool:
    return Path("/sys/bus/event_source/devices/kprobe").exists() or tracefs.has_file("kprobe_events")


@functools.lru_cache(maxsize=1)
def traceable_functions() -> tuple[tuple[str, str], ...]:
    """(module, function) pairs, sorted, module `vmlinux` for the core kernel,
    from available_filter_functions: the functions ftrace (and so fentry)
    can attach to. Empty when the file is unreadable (no root, lockdown)."""
    text = tracefs.read("available_filter_functions")
    if text is None:
        return ()
    return tuple(sorted({_module_and_function(line.split()) for line in text.splitlines() if line}))


@functools.lru_cache(maxsize=1)
def kprobe_functions() -> tuple[tuple[str, str], ...]:
    """What kprobes can attach to: the traceable functions, else the text
    symbols of /proc/kallsyms (root only: without it kallsyms addresses are
    zero and we list nothing). Empty without kprobe support."""
    if not kprobes_supported():
        return ()
    if traceable_functions():
        return traceable_functions()
    pairs = set()
    if os.geteuid() == 0:
        try:
            lines = Path("/proc/kallsyms").read_text().splitlines()
        except OSError:
            lines = []
        pairs = {
            _module_and_function(fields[2:])
            for fields in (line.split() for line in lines)
            if len(fields) >= 3 and fields[1] in "tT"
        }
    return tuple(sorted(pairs))


def _module_and_function(fields: list[str]) -> tuple[str, str]:
    """`vfs_read` or `nft_do_chain [nf_tables]` split into its fields."""
    module = fields[1].strip("[]") if len(fields) > 1 else CORE_MODULE
    return module, fields[0]
