"""The ELF reader (compiler/elf.py) and the probes that read user binaries
with it: truncated and corrupted files are "not ELF", never a crash."""

import os
import random
import shutil
import subprocess
import sys

import pytest

from auger.compiler.elf import SHT_DYNSYM, ElfError, ElfFile
from auger.probes import elf_symbols
from auger.probes.base import ProbeError
from auger.probes.registry import expand, parse_attach_point

BASH = "/bin/bash"


@pytest.fixture
def truncated_binary(tmp_path):
    """The first 100 bytes of a real executable: a header whose section
    table lies past the end of the file."""
    path = tmp_path / "t"
    with open(BASH, "rb") as source:
        path.write_bytes(source.read(100))
    path.chmod(0o755)
    return str(path)


def test_reads_sections_and_symbols_of_a_real_binary():
    elf = ElfFile.read(BASH)
    assert elf.section(".text") is not None
    dynamic = elf.sections_of_type(SHT_DYNSYM)
    assert dynamic and any(symbol.name == "readline" for symbol in elf.symbols(dynamic[0]))


def test_what_is_not_elf_raises_elf_error(tmp_path):
    with pytest.raises(ElfError, match="not an ELF file"):
        ElfFile(b"hello")
    with pytest.raises(ElfError):
        ElfFile.read(str(tmp_path / "missing"))


def test_every_truncation_raises_elf_error_or_reads():
    data = open(BASH, "rb").read()
    for length in [0, 4, 63, 64, 100, 4096, len(data) // 2, len(data) - 1]:
        try:
            elf = ElfFile(data[:length])
        except ElfError:
            continue
        for section in elf.sections:
            try:
                elf.contents(section)
            except ElfError:
                pass


def test_corrupted_bytes_never_escape_as_other_errors(tmp_path):
    data = bytearray(open(BASH, "rb").read())
    header_and_tables = [range(0, 64), range(len(data) - 4096, len(data))]
    generator = random.Random(7)
    for attempt in range(40):
        corrupt = bytearray(data)
        for _ in range(8):
            region = header_and_tables[attempt % 2]
            corrupt[generator.choice(region)] = generator.randrange(256)
        path = tmp_path / f"corrupt{attempt}"
        path.write_bytes(corrupt)
        elf_symbols.function_symbols(str(path))  # must not raise
        elf_symbols.usdt_notes(str(path))


def test_truncated_binary_has_no_symbols(truncated_binary):
    assert elf_symbols.function_symbols(truncated_binary) == {}
    assert elf_symbols.usdt_notes(truncated_binary) == ()


@pytest.mark.parametrize("kind", ["uprobe", "usdt"])
def test_naming_a_truncated_binary_is_a_probe_error(kind, truncated_binary):
    message = f"^{kind} target file '{truncated_binary}' does not exist or is not executable$"
    with pytest.raises(ProbeError, match=message):
        expand(parse_attach_point(f"{kind}:{truncated_binary}:foo"))


def test_wildcard_skips_a_malformed_file(tmp_path, truncated_binary):
    directory = tmp_path / "bin"
    directory.mkdir()
    shutil.copy(truncated_binary, directory / "bad")
    shutil.copy(BASH, directory / "bash")
    names = [spec.name for spec in expand(parse_attach_point(f"uprobe:{directory}/*:readline"))]
    assert names == [f"uprobe:{directory}/bash:readline"]


def test_cli_reports_a_truncated_binary_cleanly(truncated_binary):
    result = subprocess.run(
        [sys.executable, "-m", "auger", "--dry-run", "-e", f"uprobe:{truncated_binary}:foo {{ }}"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert result.returncode == 1
    assert "does not exist or is not executable" in result.stderr
    assert "Traceback" not in result.stderr
