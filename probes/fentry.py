"""BPF trampoline probes on kernel functions: `fentry:[MODULE:]FUNC` and
`fexit:[MODULE:]FUNC` (`kfunc`/`kretfunc` in bpftrace 0.17), with typed
`args` from the kernel's BTF."""

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
ARGUMENT_SLOT_SIZE = 8


def _btf_signature(function: str) -> tuple[tuple[FieldLayout, ...], Type] | None:
    """The function's parameters, as fields of the trampoline's context (one
    8-byte slot each), and its return type, from the kernel's BTF through
    auger.compiler.btf; None when there is no BTF to ask. Imported lazily:
    only fentry/fexit need it, and BTF is large."""
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
    parameters, return_type = signature
    fields = tuple(FieldLayout(name, type_, ARGUMENT_SLOT_SIZE * index) for index, (name, type_) in enumerate(parameters))
    return fields, return_type


class FentryProvider(Provider):
    name = "fentry"
    aliases = ("f", "kfunc")
    is_return = False

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
        signature = None if spec.has_wildcard else _btf_signature(spec.function)
        if signature is None:
            return ProbeContext(builtins=frozenset(builtins), is_return=self.is_return)
        fields, return_type = signature
        return ProbeContext(
            builtins=frozenset(builtins),
            args=fields,
            is_return=self.is_return,
            # fexit's context holds the return value in the slot after the arguments.
            extra={"return_type": return_type, "retval_offset": ARGUMENT_SLOT_SIZE * len(fields)},
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
