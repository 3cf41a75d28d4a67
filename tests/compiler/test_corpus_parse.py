"""Every bpftrace tool that Debian ships (/usr/sbin/*.bt) parses and prints."""

from pathlib import Path

import pytest

from auger.compiler.ast_printer import format_ast
from auger.compiler.diagnostics import SourceFile
from auger.compiler.parser import parse

TOOLS = sorted(Path("/usr/sbin").glob("*.bt"))


@pytest.mark.skipif(not TOOLS, reason="no bpftrace tools in /usr/sbin (package bpftrace)")
@pytest.mark.parametrize("path", TOOLS, ids=lambda p: p.name)
def test_tool_parses_and_prints(path):
    program = parse(SourceFile(str(path), path.read_text()))
    assert program.probes
    assert format_ast(program).startswith("program\n  ")
