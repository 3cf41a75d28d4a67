"""Helpers shared by the semantic tests (no tests of its own): analyse a
program text, or render the diagnostics it must fail with."""

from __future__ import annotations

import pytest

from auger.compiler.diagnostics import CompileError, SourceFile, render_all
from auger.compiler.parser import parse
from auger.compiler.semantic import Analysis, AnalysisOptions, analyse


def analysed(text: str, **options) -> Analysis:
    source = SourceFile("stdin", text)
    return analyse(parse(source), source, AnalysisOptions(**options))


def errors(text: str, **options) -> str:
    """The rendered diagnostics of a program that must fail analysis."""
    source = SourceFile("stdin", text)
    program = parse(source)
    with pytest.raises(CompileError) as raised:
        analyse(program, source, AnalysisOptions(**options))
    return render_all(raised.value.diagnostics, source)


def warnings(text: str, **options) -> str:
    source = SourceFile("stdin", text)
    return render_all(analysed(text, **options).warnings, source)
