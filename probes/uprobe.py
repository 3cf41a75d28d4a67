"""User-space dynamic probes: `uprobe:BINARY:FUNC[+OFFSET]`,
`uprobe:BINARY:0xADDRESS`, `uretprobe:BINARY:FUNC`. BINARY may be a path, a
program on $PATH or a library name (`libc`)."""

from __future__ import annotations

import glob
from typing import Iterator

from auger.compiler.elf import SHT_PROGBITS, ElfError, ElfFile

from . import elf_symbols
from .attach_point import argument_count_error, has_wildcard, matches, parse_uint, split_attach_point, split_function_offset
from .base import MissingProbe, ProbeContext, ProbeError, ProbeSpec, Provider
from .kprobe import dynamic_probe_context
from .spec import Spec


def binaries(target: str) -> list[str]:
    """The ELF files a (possibly wildcarded) target names, sorted."""
    if not has_wildcard(target):
        return [target]
    return sorted(path for path in glob.glob(target) if elf_symbols.function_symbols(path))


def file_offset(path: str, address: int) -> int:
    """The file offset of a virtual address in an ELF file: uprobes are
    placed by file offset, symbols give addresses. Raises ProbeError when
    no section of the file holds the address."""
    try:
        elf = ElfFile.read(path)
    except ElfError as error:
        raise ProbeError(f"cannot read {path}: {error}") from None
    for section in elf.sections:
        if section.type == SHT_PROGBITS and section.address <= address < section.address + section.size:
            return address - section.address + section.offset
    raise ProbeError(f"address {address:#x} is in no section of {path}")


class UprobeProvider(Provider):
    name = "uprobe"
    aliases = ("u",)
    is_return = False
    program_type = "kprobe"

    def attach(self, spec: ProbeSpec, program_fd: int, kernel):
        if spec.address is not None:
            address = spec.address
        else:
            symbols = elf_symbols.function_symbols(spec.target)
            if spec.function not in symbols:
                raise MissingProbe(f"No matches for uprobe {spec.target}:{spec.function}.")
            address = symbols[spec.function] + spec.offset
        offset = file_offset(spec.target, address)
        return [kernel.attach_uprobe(program_fd, spec.target, offset, retprobe=self.is_return)]

    def parse(self, parts: list[str], text: str) -> ProbeSpec:
        if len(parts) != 2:
            raise argument_count_error(self.name, len(parts), 2)
        target, location = parts
        if not target:
            raise ProbeError(f"{self.name} should have a target")
        if not has_wildcard(target):
            target = elf_symbols.resolve_binary(target, self.name)
        address = parse_uint(location, "Invalid function/address argument") if "+" not in location else None
        if address is not None:
            if has_wildcard(target):
                raise ProbeError("Cannot use wildcards with absolute address")
            return Spec(self.name, target=target, address=address)
        function, offset = split_function_offset(location, allow_offset=not self.is_return)
        if not function:
            raise ProbeError(f"{self.name} should be attached to a function and/or address")
        return Spec(self.name, target=target, function=function, offset=offset)

    def expand(self, spec: ProbeSpec) -> list[ProbeSpec]:
        if spec.address is not None:
            return [spec]
        if not spec.has_wildcard:
            if spec.function not in elf_symbols.function_symbols(spec.target):
                raise MissingProbe(f"No matches for uprobe {spec.target}:{spec.function}.")
            return [spec]
        found = [Spec(self.name, target=path, function=function, offset=spec.offset) for path, function in self._matching(spec)]
        if not found:
            raise ProbeError(f"No {self.name}s matched {spec.target}:{spec.function}")
        return found

    def context(self, spec: ProbeSpec) -> ProbeContext:
        return dynamic_probe_context(self.is_return)

    def list(self, pattern: str) -> Iterator[str]:
        parts = split_attach_point(pattern)
        if len(parts) != 2:
            return  # listing needs a binary: `uprobe:/bin/bash:*`
        spec = self.parse(parts, pattern)
        for path, function in self._matching(spec):
            yield f"{self.name}:{path}:{function}"

    @staticmethod
    def _matching(spec: ProbeSpec) -> list[tuple[str, str]]:
        return [
            (path, function)
            for path in binaries(spec.target)
            for function in sorted(elf_symbols.function_symbols(path))
            if matches(spec.function, function)
        ]


class UretprobeProvider(UprobeProvider):
    name = "uretprobe"
    aliases = ("ur",)
    is_return = True
