"""Diagnostics: errors and warnings as values with source spans, rendered in one place.

Every pass reports problems by creating `Diagnostic`s; a pass that cannot go on
raises `CompileError` with all it found. Only `render` turns them into text, in
bpftrace's shape:

    stdin:1:9-12: ERROR: Unknown function: foo
    BEGIN { foo(); }
            ~~~
    HINT: did you mean ...?
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Iterable


@dataclass(frozen=True)
class Span:
    """A region of source text. Lines and columns start at 1; the end column is
    exclusive, as bpftrace prints it (`1:9-12` covers columns 9, 10 and 11)."""

    line: int
    column: int
    end_line: int
    end_column: int

    @staticmethod
    def point(line: int, column: int) -> "Span":
        return Span(line, column, line, column + 1)

    def to(self, other: "Span") -> "Span":
        """The span from the start of this one to the end of `other`."""
        return Span(self.line, self.column, other.end_line, other.end_column)


@dataclass(frozen=True)
class SourceFile:
    """The program text and the name diagnostics call it by (`stdin` for -e)."""

    name: str
    text: str
    lines: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "lines", tuple(self.text.split("\n")))

    def line(self, number: int) -> str:
        if 1 <= number <= len(self.lines):
            return self.lines[number - 1]
        return ""


ERROR = "ERROR"
WARNING = "WARNING"


@dataclass(frozen=True)
class Diagnostic:
    message: str
    span: Span | None = None
    severity: str = ERROR
    hint: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR


class CompileError(Exception):
    """Raised by a pass that found errors; carries every diagnostic it made."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = tuple(diagnostics)
        super().__init__("; ".join(d.message for d in self.diagnostics))


def error(message: str, span: Span | None = None, hint: str | None = None) -> Diagnostic:
    return Diagnostic(message, span, ERROR, hint)


def warning(message: str, span: Span | None = None, hint: str | None = None) -> Diagnostic:
    return Diagnostic(message, span, WARNING, hint)


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """A `did you mean X?` hint for a near-miss name, or None."""
    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.75)
    return f"did you mean {matches[0]}?" if matches else None


def render(diagnostic: Diagnostic, source: SourceFile | None) -> str:
    """The text of one diagnostic: location line, source line, underline, hint."""
    span = diagnostic.span
    if span is None or source is None:
        text = f"{diagnostic.severity}: {diagnostic.message}"
        if source is not None and span is None:
            text = f"{source.name}: {text}"
    else:
        line_text = source.line(span.line)
        # A span over several lines is underlined to the end of its first line.
        last = span.end_column if span.end_line == span.line else len(line_text) + 1
        last = max(last, span.column + 1)
        location = f"{source.name}:{span.line}:{span.column}-{last}"
        # Tabs keep their width in the underline so the tildes sit under the text.
        lead = "".join("\t" if ch == "\t" else " " for ch in line_text[: span.column - 1])
        underline = lead + "~" * (last - span.column)
        text = f"{location}: {diagnostic.severity}: {diagnostic.message}\n{line_text}\n{underline}"
    if diagnostic.hint:
        text += f"\nHINT: {diagnostic.hint}"
    return text


def render_all(diagnostics: Iterable[Diagnostic], source: SourceFile | None) -> str:
    return "\n".join(render(d, source) for d in diagnostics)
