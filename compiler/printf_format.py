"""printf-style format strings: parse them into literal text and conversion
specifiers, and format values with them.

The analyser uses `parse_format` to check a printf/cat/system call's
arguments against its format; the runtime uses the same parse, once per call
site, and `format_value` to print each argument, so both agree on what a
format means.

Supported: `%%`; flags `-+ #0`; a decimal width and `.precision`; length
modifiers `hh h l ll z j t` (accepted and ignored: every integer reaches
userspace as 64 bits with its own signedness); conversions `d i u x X o c s p`
and bpftrace's `%r` (buffer, hex-escaped), `%rx` (buffer as `\\xNN` escapes) and
`%rh` (buffer as spaced hex bytes).
"""

from __future__ import annotations

import re

from auger.compiler.frozen import Value as FrozenValue, frozen

# What a conversion consumes; the analyser matches argument types against it.
INTEGER = "integer"
STRING = "string"
POINTER = "pointer"
BUFFER = "buffer"

_CONVERSION_KINDS = {
    "d": INTEGER, "i": INTEGER, "u": INTEGER, "x": INTEGER, "X": INTEGER, "o": INTEGER, "c": INTEGER,
    "s": STRING,
    "p": POINTER,
    "r": BUFFER, "rx": BUFFER, "rh": BUFFER,
}

_SPECIFIER = re.compile(
    r"%(?P<flags>[-+ #0]*)(?P<width>\d+)?(?:\.(?P<precision>\d*))?"
    r"(?P<length>hh|h|ll|l|z|j|t)?(?P<conversion>r[xh]?|[a-zA-Z%]?)"
)


class FormatError(Exception):
    """A malformed format string; the message is one line for the user."""


@frozen
class Specifier(FrozenValue):
    """One `%...` conversion. `start`/`end` are its offsets in the format."""

    text: str
    flags: str
    width: int | None
    precision: int | None
    length: str
    conversion: str
    start: int
    end: int

    @property
    def kind(self) -> str:
        """What argument it takes: INTEGER, STRING, POINTER or BUFFER."""
        return _CONVERSION_KINDS[self.conversion]


@frozen
class FormatString(FrozenValue):
    """A parsed format: `pieces` alternate literal text (str, with `%%`
    already turned into `%`) and Specifiers, in order."""

    text: str
    pieces: tuple[str | Specifier, ...]

    @property
    def specifiers(self) -> tuple[Specifier, ...]:
        return tuple(piece for piece in self.pieces if isinstance(piece, Specifier))


# Larger widths and precisions pad one line of output by megabytes (or more
# than memory holds); no real format needs them.
MAX_WIDTH = 4096


def parse_format(text: str) -> FormatString:
    """Split a format string into text and specifiers. Raises FormatError."""
    pieces: list[str | Specifier] = []
    literal: list[str] = []
    position = 0
    while True:
        percent = text.find("%", position)
        if percent < 0:
            literal.append(text[position:])
            break
        literal.append(text[position:percent])
        match = _SPECIFIER.match(text, percent)
        conversion = match.group("conversion")
        if conversion == "%" and match.end() == percent + 2:
            literal.append("%")
            position = match.end()
            continue
        if not conversion:
            raise FormatError(f"incomplete format specifier at the end: {text[percent:]!r}")
        if conversion not in _CONVERSION_KINDS:
            raise FormatError(f"unsupported format specifier: {conversion}")
        if literal:
            pieces.append("".join(literal))
            literal = []
        width = int(match.group("width")) if match.group("width") else None
        precision = match.group("precision")
        precision = int(precision) if precision else (0 if precision == "" else None)
        for name, number in (("width", width), ("precision", precision)):
            if number is not None and number > MAX_WIDTH:
                raise FormatError(f"the {name} in {match.group(0)!r} is above the limit of {MAX_WIDTH}")
        pieces.append(
            Specifier(
                text=match.group(0),
                flags=match.group("flags"),
                width=width,
                precision=precision,
                length=match.group("length") or "",
                conversion=conversion,
                start=percent,
                end=match.end(),
            )
        )
        position = match.end()
    tail = "".join(literal)
    if tail:
        pieces.append(tail)
    return FormatString(text, tuple(pieces))


def format_value(specifier: Specifier, value: int | str | bytes) -> str:
    """One argument formatted as C's printf would: integers are Python ints
    already read with the argument's signedness; `%s` takes str; `%r*` bytes."""
    conversion = specifier.conversion
    if conversion.startswith("r"):
        text = _format_buffer(conversion, bytes(value))
        return _pad(specifier, text)
    if conversion == "p":
        return _pad(specifier, f"0x{value:x}" if value else "(nil)")
    if conversion == "c":
        return _pad(specifier, chr(value & 0xFF))
    if conversion == "s":
        text = str(value)
        if specifier.precision is not None:
            text = text[: specifier.precision]
        return _pad(specifier, text)
    if conversion == "u" and value < 0:
        value += 1 << 64
    if conversion in "xXo" and value < 0:
        value += 1 << 64
    python_conversion = {"i": "d", "u": "d"}.get(conversion, conversion)
    precision = "" if specifier.precision is None else f".{specifier.precision}"
    if precision:
        # Python has no integer precision: emulate it as C's minimum digit count.
        digits = format(abs(value), python_conversion)
        digits = digits.rjust(specifier.precision, "0")
        if "#" in specifier.flags and conversion in "xX":
            digits = ("0x" if conversion == "x" else "0X") + digits
        sign = "-" if value < 0 else ("+" if "+" in specifier.flags else (" " if " " in specifier.flags else ""))
        return _pad(specifier, sign + digits, allow_zero=False)
    flags = specifier.flags
    align = "<" if "-" in flags else ""
    sign = "+" if "+" in flags else (" " if " " in flags else "")
    # C's `%#o` prefixes a single 0, Python's `#o` prefixes `0o`: done by hand.
    alternate = "#" if "#" in flags and conversion != "o" else ""
    zero = "0" if "0" in flags and not align else ""
    width = "" if specifier.width is None else str(specifier.width)
    text = format(value, f"{align}{sign}{alternate}{zero}{width}{python_conversion}")
    if "#" in flags and conversion == "o" and value:
        text = _pad(specifier, "0" + format(value, "o"))
    return text


def _pad(specifier: Specifier, text: str, allow_zero: bool = True) -> str:
    width = specifier.width or 0
    if "-" in specifier.flags:
        return text.ljust(width)
    fill = "0" if allow_zero and "0" in specifier.flags and specifier.conversion not in ("s", "c") else " "
    return text.rjust(width, fill)


def _format_buffer(conversion: str, data: bytes) -> str:
    if conversion == "rx":
        return "".join(f"\\x{byte:02x}" for byte in data)
    if conversion == "rh":
        return " ".join(f"{byte:02x}" for byte in data)
    return "".join(chr(byte) if 32 <= byte < 127 else f"\\x{byte:02x}" for byte in data)
