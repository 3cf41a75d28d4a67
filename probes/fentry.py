"""BPF trampoline probes on kernel functions: `fentry:[MODULE:]FUNC` and
`fexit:[MODULE:]FUNC` (`kfunc`/`kretfunc` in bpftrace 0.17), with typed
`args` from the kernel's BTF.

Each attach point is a BPF_PROG_TYPE_TRACING program of its own: the kernel
binds it to its function when it is loaded (expected_attach_type, and the
function's BTF type id, which the context carries in `extra["btf_id"]`),
then a BPF link attaches it. Its context is the function's arguments as an
array of u64 slots (a struct passed by value takes ceil(size / 8) of them),
then, for fexit, the return value. Functions of modules need the module's
BTF: only vmlinux functions are supported."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Iterator

from auger.compiler.types import FieldLayout, Type

from .attach_point import argument_count_error, matches, split_attach_point
from .base import ProbeContext, ProbeError, ProbeSpec, Provider
from .kernel_functions import traceable_functions
from .spec import Spec

VMLINUX_BTF = Path("/sys/kernel/btf/vmlinux")
UNSUPPORTED_KERNEL = "this kernel cannot attach fentry/fexit programs"
ARGUMENT_SLOT_SIZE = 8
CORE_TARGETS = ("", "vmlinux")


def _btf_signature(function: str) -> tuple[tuple[FieldLayout, ...], int, Type, int] | None:
    """The function's parameters, as fields of the trampoline's context (8
    bytes a slot), the offset of the slot after them (fexit's return value),
    the return type and the function's BTF type id, from the kernel's BTF
    through auger.compiler.btf; None when there is no BTF to ask.
    Imported lazily: only fentry/fexit need it, and BTF is large."""
    try:
        btf = importlib.import_module("auger.compiler.btf")
        kernel_types = btf.kernel_types()
    except (ImportError, AttributeError):
        return None
    if kernel_types is None:
        return None
    signature = kernel_types.function(function)
    if signature is None:
        raise ProbeError(f"No BTF found for {function}")
    type_id = kernel_types.type_id(function, btf.KIND_FUNC)
    parameters, return_type = signature
    fields, offset = [], 0
    for name, type_ in parameters:
        fields.append(FieldLayout(name, type_, offset))
        # A struct passed by value (up to 16 bytes, Linux >= 6.1) takes two slots.
        offset += ARGUMENT_SLOT_SIZE * max(1, -(-type_.size // ARGUMENT_SLOT_SIZE))
    return tuple(fields), offset, return_type, type_id


class FentryProvider(Provider):
    name = "fentry"
    aliases = ("f", "kfunc")
    is_return = False
    program_type = "tracing"

    def attach(self, spec: ProbeSpec, program_fd: int, kernel):
        from auger.runtime.libbcc import AttachType, BpfError

        attach_type = AttachType.TRACE_FEXIT if self.is_return else AttachType.TRACE_FENTRY
        try:
            return [kernel.attach_tracing(program_fd, attach_type, f"{self.name} {spec.function}")]
        except BpfError as problem:
            raise BpfError(f"{UNSUPPORTED_KERNEL} ({problem})", problem.errno) from None

    def parse(self, parts: list[str], text: str) -> ProbeSpec:
        if len(parts) not in (1, 2):
            raise argument_count_error(self.name, len(parts), 1, 2)
        if not parts[-1]:
            raise ProbeError("fentry/fexit should specify a function")
        return Spec(self.name, target=parts[0] if len(parts) == 2 else "", function=parts[-1])

    def expand(self, spec: ProbeSpec) -> list[ProbeSpec]:
        if not spec.has_wildcard:
            return [spec]
        found = [Spec(self.name, target=module, function=function) for module, function in self._matching(spec)]
        if not found:
            raise ProbeError(f"No {self.name} probes matched {spec.name.split(':', 1)[1]}")
        return found

    def context(self, spec: ProbeSpec) -> ProbeContext:
        builtins = {"func", "args"} | ({"retval"} if self.is_return else set())
        if spec.target not in CORE_TARGETS:
            raise ProbeError(f"{self.name} probes on module functions ({spec.target}:{spec.function}) are not supported yet",
                             hint="only vmlinux functions can be traced with fentry/fexit for now")
        signature = None if spec.has_wildcard else _btf_signature(spec.function)
        if signature is None:
            return ProbeContext(builtins=frozenset(builtins), is_return=self.is_return)
        fields, retval_offset, return_type, type_id = signature
        return ProbeContext(
            builtins=frozenset(builtins),
            args=fields,
            is_return=self.is_return,
            extra={"return_type": return_type, "retval_offset": retval_offset, "btf_id": type_id},
        )

    def list(self, pattern: str) -> Iterator[str]:
        spec = self.parse(split_attach_point(pattern), pattern)
        for module, function in self._matching(spec):
            yield f"{self.name}:{module}:{function}"

    @staticmethod
    def _matching(spec: ProbeSpec) -> list[tuple[str, str]]:
        if not VMLINUX_BTF.exists():
            return []
        module_pattern = spec.target or "*"
        return [
            (module, function)
            for module, function in traceable_functions()
            if matches(module_pattern, module) and matches(spec.function, function)
        ]


class FexitProvider(FentryProvider):
    name = "fexit"
    aliases = ("fr", "kretfunc")
    is_return = True
