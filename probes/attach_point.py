"""The text of an attach point: splitting it into parts, positional
parameters, numbers, offsets and wildcards. Every provider parses its parts
with these helpers, so a form means the same thing in every kind."""

from __future__ import annotations

import fnmatch
import re
from typing import Sequence

from .base import ProbeError

WILDCARD_CHARACTERS = "*?["


def split_attach_point(text: str, params: Sequence[str] = ()) -> list[str]:
    """Split at colons outside double quotes, as bpftrace's lexer does.

    Quotes are dropped (a quoted part may hold colons, and `\\x` inside quotes
    is `x`); `$N` outside quotes is replaced by positional parameter N
    (`params[N-1]`, empty when not given). The result has at least one part;
    a trailing colon gives an empty last part."""
    parts: list[str] = []
    current: list[str] = []
    in_quotes = False
    index = 0
    while index < len(text):
        char = text[index]
        if char == ":" and not in_quotes:
            parts.append("".join(current))
            current = []
        elif char == '"':
            in_quotes = not in_quotes
        elif in_quotes and char == "\\" and index + 1 < len(text):
            index += 1
            current.append(text[index])
        elif char == "$" and not in_quotes:
            digits = re.match(r"[1-9][0-9]*", text[index + 1:])
            if digits is None:
                trailing = text[index + 1:index + 2]
                raise ProbeError(
                    f"invalid trailing character for positional param: {trailing}. "
                    f'Try quoting this entire part if this is intentional e.g. "${trailing}".'
                )
            number = int(digits.group())
            current.append(params[number - 1] if number <= len(params) else "")
            index += len(digits.group())
        else:
            current.append(char)
        index += 1
    parts.append("".join(current))
    return parts


def has_wildcard(text: str) -> bool:
    return any(char in text for char in WILDCARD_CHARACTERS)


def matches(pattern: str, name: str) -> bool:
    """Shell-style matching, case-sensitive, as bpftrace matches probe names."""
    return fnmatch.fnmatchcase(name, pattern)


def parse_uint(text: str) -> int | None:
    """An unsigned integer as C's strtoull with base 0 reads it (`0x1f`,
    `017` octal, `42`), plus `_` digit separators and `1e6`; None if `text`
    is not one."""
    text = text.replace("_", "")
    if re.fullmatch(r"0[xX][0-9a-fA-F]+", text):
        return int(text, 16)
    if re.fullmatch(r"0[0-7]+", text):
        return int(text, 8)
    if re.fullmatch(r"[0-9]+", text):
        return int(text)
    scientific = re.fullmatch(r"([0-9]+)[eE]([0-9]+)", text)
    if scientific:
        return int(scientific.group(1)) * 10 ** int(scientific.group(2))
    return None


NANOSECONDS_PER_UNIT = {
    "ns": 1,
    "us": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
    "d": 86_400_000_000_000,
}


def parse_duration_ns(text: str) -> int | None:
    """`1s`, `100ms`, `500us`, or a bare number of nanoseconds; None if not
    a duration."""
    suffixed = re.fullmatch(r"([0-9_]+)(ns|us|ms|s|m|h|d)", text)
    if suffixed:
        count = parse_uint(suffixed.group(1))
        return None if count is None else count * NANOSECONDS_PER_UNIT[suffixed.group(2)]
    return parse_uint(text)


def require_uint(text: str, message: str) -> int:
    """`text` as an unsigned integer, or ProbeError `message: ...`."""
    value = parse_uint(text)
    if value is None:
        raise ProbeError(f"{message}: '{text}' is not a valid unsigned integer")
    return value


def split_function_offset(text: str, allow_offset: bool) -> tuple[str, int]:
    """`func+OFF` into the function and the offset (0 without one)."""
    if "+" not in text:
        return text, 0
    if not allow_offset:
        raise ProbeError("Offset not allowed")
    if text.count("+") != 1:
        raise ProbeError("Cannot take more than one offset")
    function, offset_text = text.split("+")
    if not function or not offset_text:
        raise ProbeError("Invalid offset")
    return function, require_uint(offset_text, "Invalid offset")


def argument_count_error(provider: str, found: int, *expected: int) -> ProbeError:
    """bpftrace's wording for a wrong number of parts after the provider."""
    wanted = " or ".join(str(count) for count in expected)
    return ProbeError(f"{provider} probe type requires {wanted} arguments, found {found}")
