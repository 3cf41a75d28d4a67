"""The provider interface: what every probe kind (tracepoint, uprobe, ...) offers.

The compiler asks a provider to parse and expand an attach point and to
describe the probe's context (which builtins exist, what `args` holds); the
runtime session asks it to attach a loaded program. Neither side names a kind:
they go through `probes.registry`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator, Mapping

from auger.compiler.types import FieldLayout


class ProbeError(Exception):
    """A bad or unknown attach point; the message is one line for the user.
    `hint` is shown beneath it when set."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


class MissingProbe(ProbeError):
    """A well-formed attach point whose probe this system lacks (a uprobe on a
    symbol the library does not export, say). bpftrace skips such a probe
    with a warning, unless `config = { missing_probes = error }` asks otherwise."""


@dataclass(frozen=True)
class ProbeSpec:
    """One parsed attach point.

    `provider` is the canonical provider name (`tracepoint`, never `t`);
    `target` is the binary, library, tracepoint category or event group;
    `function` the function, tracepoint or event name (may hold wildcards);
    `offset`/`address` for `+OFF` and `0xADDR` forms; `frequency`/`period`
    for profile, interval, software and hardware probes, with `unit` as
    written (`hz`, `s`, `ms`, `us`); `mode`/`length` for watchpoints.
    """

    provider: str
    target: str = ""
    function: str = ""
    offset: int = 0
    address: int | None = None
    unit: str = ""
    rate: int = 0
    length: int = 0
    mode: str = ""
    usdt_provider: str = ""

    @property
    def name(self) -> str:
        """The canonical text, as the `probe` builtin prints it."""
        raise NotImplementedError

    @property
    def has_wildcard(self) -> bool:
        return any(ch in part for part in (self.target, self.function, self.usdt_provider) for ch in "*?[")


@dataclass(frozen=True)
class ProbeContext:
    """What a program attached at this probe may use.

    `builtins`: builtin names allowed beyond the universal ones (e.g. `retval`,
    `args`, `arg0`..`argN`, `func`); `args`: the fields of `args` with their
    types and offsets in the probe's context record (a tracepoint's
    `__data_loc char[]` field has type `SpecialType("data_loc", 4)`), or None
    when the probe has no `args`; `is_return`: a return probe.
    """

    builtins: frozenset[str] = frozenset()
    args: tuple[FieldLayout, ...] | None = None
    is_return: bool = False
    max_arg_registers: int = 0
    extra: Mapping[str, object] = field(default_factory=dict)


class Provider:
    """A probe kind. Subclasses set `name` and `aliases` and override the
    methods that apply to them."""

    name: str = ""
    aliases: tuple[str, ...] = ()

    def parse(self, parts: list[str], text: str) -> ProbeSpec:
        """Parse an attach point already split at top-level colons (the
        provider part removed). Raises ProbeError."""
        raise NotImplementedError

    def expand(self, spec: ProbeSpec) -> list[ProbeSpec]:
        """Wildcards resolved against the running system; a spec without
        wildcards is returned as is. Raises ProbeError when nothing matches."""
        return [spec]

    def context(self, spec: ProbeSpec) -> ProbeContext:
        return ProbeContext()

    def list(self, pattern: str) -> Iterator[str]:
        """Names of probes of this kind on this system that match `pattern`."""
        return iter(())

    def attach(self, spec: ProbeSpec, program_fd: int, kernel) -> Iterable["Attachment"]:
        """Attach a loaded program to one attach point; returns the
        `auger.runtime.kernel.Attachment`s that keep it attached (one per
        CPU for per-CPU perf events). `kernel` is the session's
        `auger.runtime.kernel.Kernel`, which owns them; raises its BpfError.

        A provider whose probes can be attached also sets the class
        attributes `program_type` (the BPF program type its programs are
        loaded as: "tracepoint", "raw_tracepoint", "kprobe" or
        "perf_event") and, when `-p PID` must not filter it, `pid_filtered
        = False`."""
        raise ProbeError(f"attaching {self.name} probes is not supported yet")
