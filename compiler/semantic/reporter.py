"""Collects a pass's diagnostics so that independent errors are reported together."""

from __future__ import annotations

from auger.compiler.diagnostics import CompileError, Diagnostic, Span, error, warning


class Reporter:
    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []

    def error(self, message: str, span: Span | None = None, hint: str | None = None) -> None:
        self.add(error(message, span, hint))

    def warning(self, message: str, span: Span | None = None, hint: str | None = None) -> None:
        self.add(warning(message, span, hint))

    def add(self, diagnostic: Diagnostic) -> None:
        # The fixpoint over map types re-checks code; one report per place is enough.
        if diagnostic not in self.diagnostics:
            self.diagnostics.append(diagnostic)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]

    def raise_if_errors(self) -> None:
        if self.errors:
            raise CompileError(self.diagnostics_sorted(self.errors))

    @staticmethod
    def diagnostics_sorted(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
        """Source order, as a reader meets them."""
        def position(d: Diagnostic):
            return (0, d.span.line, d.span.column) if d.span else (-1, 0, 0)
        return sorted(diagnostics, key=position)
