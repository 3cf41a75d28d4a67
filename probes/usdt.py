"""User statically-defined tracing: `usdt:BINARY:[PROVIDER:]PROBE`, read from
the binary's .note.stapsdt notes."""

from __future__ import annotations

from typing import Iterator

from . import elf_symbols
from .attach_point import argument_count_error, has_wildcard, matches, split_attach_point
from .base import ProbeContext, ProbeError, ProbeSpec, Provider
from .spec import Spec
from .uprobe import binaries


class UsdtProvider(Provider):
    name = "usdt"
    aliases = ("U",)

    def parse(self, parts: list[str], text: str) -> ProbeSpec:
        if len(parts) not in (2, 3):
            raise argument_count_error(self.name, len(parts), 2, 3)
        target, probe = parts[0], parts[-1]
        usdt_provider = parts[1] if len(parts) == 3 else ""
        if not probe:
            raise ProbeError("usdt probe must have a target function or wildcard")
        if not has_wildcard(target):
            target = elf_symbols.resolve_binary(target, self.name)
        return Spec(self.name, target=target, function=probe, usdt_provider=usdt_provider)

    def expand(self, spec: ProbeSpec) -> list[ProbeSpec]:
        # Always expanded: a probe written without its provider gets it from the note.
        found = [
            Spec(self.name, target=path, usdt_provider=note.provider, function=note.name)
            for path, note in self._matching(spec)
        ]
        if not found:
            written = f"{spec.usdt_provider}:{spec.function}" if spec.usdt_provider else spec.function
            raise ProbeError(f"No usdt probes matched {spec.target}:{written}")
        return list(dict.fromkeys(found))  # a probe with several sites is one attach point

    def context(self, spec: ProbeSpec) -> ProbeContext:
        counts = [note.argument_count for _, note in self._matching(spec)]
        arguments = max(counts, default=0)
        return ProbeContext(
            builtins=frozenset(f"arg{index}" for index in range(arguments)),
            max_arg_registers=arguments,
        )

    def list(self, pattern: str) -> Iterator[str]:
        parts = split_attach_point(pattern)
        if len(parts) not in (2, 3):
            return  # listing needs a binary: `usdt:/usr/bin/python3:*`
        spec = self.parse(parts, pattern)
        seen = dict.fromkeys(f"{self.name}:{path}:{note.provider}:{note.name}" for path, note in self._matching(spec))
        yield from sorted(seen)

    @staticmethod
    def _matching(spec: ProbeSpec) -> list[tuple[str, elf_symbols.UsdtNote]]:
        return [
            (path, note)
            for path in binaries(spec.target)
            for note in elf_symbols.usdt_notes(path)
            if matches(spec.usdt_provider or "*", note.provider) and matches(spec.function, note.name)
        ]
