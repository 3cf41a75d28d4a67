"""The text of an attach point: splitting it into parts, positional
parameters, numbers, offsets and wildcards. Every provider parses its parts
with these helpers, so a form means the same thing in every kind."""

from __future__ import annotations

import fnmatch
import re
from typing import Sequence

from auger.compiler.literals import UINT64_MAX, LiteralError, decode_integer

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


def parse_uint(text: str, what: str) -> int | None:
    """An unsigned integer written as in the language (`0x1f`, `017` octal,
    `0b101`, `1_000`, `1e6`, C and duration suffixes: `100ms` is 100000000);
    None if `text` is not one. Beyond 64 bits it is ProbeError `what: ...`
    in bpftrace's wording."""
    try:
        return decode_integer(text)
    except LiteralError as error:
        # literals.py has one error type; its overflow message is the only one
        # that means "an integer, but too large".
        if "does not fit in 64 bits" in error.message:
            raise ProbeError(f"{what}: overflow error, maximum value is {UINT64_MAX}: {text}") from None
        return None


def require_uint(text: str, what: str) -> int:
    """`text` as an unsigned integer, or ProbeError `what: ...`."""
    value = parse_uint(text, what)
    if value is None:
        raise ProbeError(f"{what}: '{text}' is not a valid unsigned integer")
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
