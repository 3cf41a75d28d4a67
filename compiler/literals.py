"""Decoding literal text: integers (bases, `_`, exponents, C and duration
suffixes) and string escapes. Errors are `LiteralError`s with the offset of the
offending text, which the parser turns into diagnostics with spans."""

from __future__ import annotations

import re

UINT64_MAX = (1 << 64) - 1

# bpftrace turns every duration into nanoseconds.
DURATION_NANOSECONDS = {
    "ns": 1,
    "us": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
    "d": 86400 * 1_000_000_000,
}

# C suffixes are accepted for C compatibility and change nothing.
C_SUFFIXES = frozenset({"u", "l", "ul", "lu", "ll", "ull", "llu"})

_INTEGER = re.compile(
    r"(?P<hex>0[xX][0-9a-fA-F_]+)"
    r"|(?P<binary>0[bB][01_]+)"
    r"|(?P<decimal>[0-9_]+)(?:[eE](?P<exponent>[0-9]+))?"
)

_MAX_DIGITS = 30  # far beyond 64 bits in any base we accept; keeps int() cheap


class LiteralError(Exception):
    """A malformed literal: `offset` and `length` locate the bad part within
    the literal's text."""

    def __init__(self, message: str, offset: int = 0, length: int | None = None):
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.length = length


def decode_integer(text: str) -> int:
    """The value of an integer literal as the lexer matched it."""
    match = _INTEGER.match(text)
    if match is None:
        raise LiteralError(f"invalid integer literal '{text}'")
    suffix = text[match.end():]
    if match["hex"]:
        value = _digits_value(match["hex"][2:], 16, text)
    elif match["binary"]:
        value = _digits_value(match["binary"][2:], 2, text)
    else:
        digits = match["decimal"].replace("_", "")
        if match["exponent"] is not None:
            exponent = int(match["exponent"])
            mantissa = _digits_value(digits, 10, text)
            if mantissa and exponent > 20:
                raise LiteralError(f"integer literal '{text}' does not fit in 64 bits")
            value = mantissa * 10**exponent if mantissa else 0
        elif len(digits) > 1 and digits.startswith("0"):
            if any(d in "89" for d in digits):
                raise LiteralError(f"invalid octal literal '{text}'")
            value = _digits_value(digits[1:], 8, text)
        else:
            value = _digits_value(digits, 10, text)
    if suffix:
        value = _apply_suffix(value, suffix, text, decimal=bool(match["decimal"]))
    if value > UINT64_MAX:
        raise LiteralError(f"integer literal '{text}' does not fit in 64 bits")
    return value


def _digits_value(digits: str, base: int, text: str) -> int:
    digits = digits.replace("_", "").lstrip("0") or "0"
    if len(digits) > _MAX_DIGITS:
        raise LiteralError(f"integer literal '{text}' does not fit in 64 bits")
    return int(digits, base)


def _apply_suffix(value: int, suffix: str, text: str, decimal: bool) -> int:
    offset = len(text) - len(suffix)
    if suffix.lower() in C_SUFFIXES:
        return value
    if decimal and suffix in DURATION_NANOSECONDS:
        return value * DURATION_NANOSECONDS[suffix]
    raise LiteralError(
        f"invalid suffix '{suffix}' on integer literal", offset, len(suffix)
    )


_SIMPLE_ESCAPES = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "\\": "\\",
    '"': '"',
    "'": "'",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
    "e": "\x1b",
}

_ESCAPE = re.compile(r"\\(?:x([0-9a-fA-F]{1,2})|([0-7]{1,3})|(.))", re.DOTALL)


def decode_string(body: str) -> str:
    """The value of a string literal's body (the text between the quotes)."""
    if "\\" not in body:
        return body

    def replace(match: re.Match) -> str:
        hex_digits, octal_digits, other = match.groups()
        if hex_digits is not None:
            return _byte(int(hex_digits, 16))
        if octal_digits is not None:
            value = int(octal_digits, 8)
            if value > 0xFF:
                raise LiteralError(
                    f"octal escape '{match[0]}' is out of range",
                    match.start(),
                    len(match[0]),
                )
            return _byte(value)
        if other in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[other]
        raise LiteralError(
            f"invalid escape character '{match[0]}'", match.start(), len(match[0])
        )

    return _ESCAPE.sub(replace, body)


def _byte(value: int) -> str:
    """A byte escape as one character of the value. Bytes above 0x7F are not
    characters but single bytes (as in C), kept as surrogate escapes so that
    `string_bytes` gives the byte back."""
    return chr(value) if value < 0x80 else chr(0xDC00 + value)


def string_bytes(value: str) -> bytes:
    """The bytes a string value stands for: UTF-8 text, with `\\x80`-`\\xff`
    escapes as the single bytes they name. Every encoding of a string
    literal's value goes through here."""
    return value.encode("utf-8", "surrogateescape")
