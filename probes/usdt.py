"""User statically-defined tracing: `usdt:BINARY:[PROVIDER:]PROBE`, read from
the binary's .note.stapsdt notes.

A probe may have several sites (one note each: the probe macro inlined in
several places), and each site keeps its arguments where the compiler left
them. So a probe expands to one attach point per site, its `address` the
site's: the context of each carries the site's argument locations
(usdt_arguments.py), and sites with different locations get programs of
their own (codegen/module.py). Each site is a uprobe at its file offset,
with the note's semaphore as the uprobe's reference counter: the kernel
counts it up in every process it attaches to, which enables the probe in
programs that test it (`if (PYTHON_FUNCTION_ENTRY_ENABLED())`).

Like bpftrace, with `-p PID` or `-c CMD` the uprobes are attached to that
process only, and other processes running the binary are untouched (their
semaphores stay 0).
"""

from __future__ import annotations

from typing import Iterator

from . import elf_symbols
from .attach_point import argument_count_error, has_wildcard, matches, split_attach_point
from .base import MissingProbe, ProbeContext, ProbeError, ProbeSpec, Provider
from .spec import Spec
from .uprobe import binaries, file_offset
from .usdt_arguments import ARGUMENT_LOCATIONS, parse_arguments


class UsdtSpec(Spec):
    """One site of a USDT probe (`address` set), named as its probe: the
    `probe` builtin prints `usdt:BINARY:PROVIDER:PROBE` for every site."""

    @property
    def name(self) -> str:
        return ":".join(part for part in (self.provider, self.target, self.usdt_provider, self.function) if part)


class UsdtProvider(Provider):
    name = "usdt"
    aliases = ("U",)
    program_type = "kprobe"
    process_scoped = True  # attach() takes the -p / -c process (runtime/attach.py)

    def parse(self, parts: list[str], text: str) -> ProbeSpec:
        if len(parts) not in (2, 3):
            raise argument_count_error(self.name, len(parts), 2, 3)
        target, probe = parts[0], parts[-1]
        usdt_provider = parts[1] if len(parts) == 3 else ""
        if not probe:
            raise ProbeError("usdt probe must have a target function or wildcard")
        if not has_wildcard(target):
            target = elf_symbols.resolve_binary(target, self.name)
        return UsdtSpec(self.name, target=target, function=probe, usdt_provider=usdt_provider)

    def expand(self, spec: ProbeSpec) -> list[ProbeSpec]:
        # Always expanded: a probe written without its provider gets it from the note.
        found = [
            UsdtSpec(self.name, target=path, usdt_provider=note.provider, function=note.name, address=note.address)
            for path, note in self._matching(spec)
        ]
        if not found:
            written = f"{spec.usdt_provider}:{spec.function}" if spec.usdt_provider else spec.function
            raise ProbeError(f"No usdt probes matched {spec.target}:{written}")
        return list(dict.fromkeys(found))

    def context(self, spec: ProbeSpec) -> ProbeContext:
        if spec.address is None:  # not expanded: what every site has in common
            counts = [note.argument_count for _, note in self._matching(spec)]
            return _context(max(counts, default=0))
        arguments = parse_arguments(self._site(spec).arguments)
        return _context(len(arguments), {ARGUMENT_LOCATIONS: arguments})

    def attach(self, spec: ProbeSpec, program_fd: int, kernel, pid: int | None = None):
        """A uprobe at the site, counting up its semaphore while attached;
        in process `pid` only when given."""
        site = self._site(spec)
        offset = file_offset(spec.target, site.address)
        semaphore = file_offset(spec.target, site.semaphore) if site.semaphore else 0
        return [kernel.attach_uprobe(program_fd, spec.target, offset, pid=pid if pid else -1, ref_ctr_offset=semaphore)]

    def list(self, pattern: str) -> Iterator[str]:
        parts = split_attach_point(pattern)
        if len(parts) not in (2, 3):
            return  # listing needs a binary: `usdt:/usr/bin/python3:*`
        spec = self.parse(parts, pattern)
        seen = dict.fromkeys(f"{self.name}:{path}:{note.provider}:{note.name}" for path, note in self._matching(spec))
        yield from sorted(seen)

    @staticmethod
    def _site(spec: ProbeSpec) -> elf_symbols.UsdtNote:
        """The note of an expanded spec's site."""
        for note in elf_symbols.usdt_notes(spec.target):
            if (note.provider, note.name, note.address) == (spec.usdt_provider, spec.function, spec.address):
                return note
        raise MissingProbe(f"No usdt probe {spec.name} at {spec.address:#x}.")

    @staticmethod
    def _matching(spec: ProbeSpec) -> list[tuple[str, elf_symbols.UsdtNote]]:
        return [
            (path, note)
            for path in binaries(spec.target)
            for note in elf_symbols.usdt_notes(path)
            if matches(spec.usdt_provider or "*", note.provider) and matches(spec.function, note.name)
        ]


def _context(argument_count: int, extra: dict | None = None) -> ProbeContext:
    return ProbeContext(
        builtins=frozenset(f"arg{index}" for index in range(argument_count)),
        max_arg_registers=argument_count,
        extra=extra or {},
    )
