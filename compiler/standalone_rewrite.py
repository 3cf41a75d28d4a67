"""Start-up cuts to lark's generated standalone parser module.

lark's standalone generator writes one module holding both the parser code
and its tables, and importing it also imports `logging` (~4 ms). Two changes,
each checked against the text lark writes, so a lark upgrade that changes it
fails the generation instead of producing a broken module:

  - the tables (DATA, MEMO) move to a sibling module that is imported only
    when the parser is built from them, that is when the pickled parser
    (compiler/parser_cache.py) is missing: a cached start-up skips them;
  - `logger` becomes a stand-in that imports `logging` on first use; lark
    logs only while building a grammar, which the standalone module never
    does, or at levels below the CRITICAL it sets.
"""

from __future__ import annotations

TABLES_MODULE = "auger_parser_tables"

_LOGGING_SETUP = """import logging
from dataclasses import dataclass
from typing import Generic, AnyStr

logger: logging.Logger = logging.getLogger("lark")
logger.addHandler(logging.StreamHandler())
##

##

logger.setLevel(logging.CRITICAL)
"""

_LAZY_LOGGING_SETUP = '''from dataclasses import dataclass
from typing import Generic, AnyStr


class _LazyLogger:
    """lark's logger, set up as lark does when first used."""

    def __getattr__(self, name):
        import logging

        real = logging.getLogger("lark")
        if not real.handlers:
            real.addHandler(logging.StreamHandler())
            real.setLevel(logging.CRITICAL)
        return getattr(real, name)


logger = _LazyLogger()
'''

_TABLES_START = "import pickle, zlib, base64\nDATA = (\n"
_TABLES_END = "Shift = 0\nReduce = 1\n"
_LOADER = "def Lark_StandAlone(**kwargs):\n  return Lark._load_from_dict(DATA, MEMO, **kwargs)\n"
_LAZY_LOADER = (
    "def Lark_StandAlone(**kwargs):\n"
    f"  from .{TABLES_MODULE} import DATA, MEMO\n"
    "  return Lark._load_from_dict(DATA, MEMO, **kwargs)\n"
)


def rewrite(module: str, header: str) -> tuple[str, str]:
    """The parser module and its tables module, from lark's one module."""
    if module.count(_LOGGING_SETUP) != 1 or module.count(_TABLES_START) != 1 or module.count(_LOADER) != 1:
        raise RuntimeError("lark's standalone module is not laid out as compiler/standalone_rewrite.py expects")
    module = module.replace(_LOGGING_SETUP, _LAZY_LOGGING_SETUP)
    code, tables_and_rest = module.split(_TABLES_START)
    tables, rest = tables_and_rest.split(_TABLES_END)
    tables_module = header + "DATA = (\n" + tables
    # `pickle` stays for lark's own (unused here) cache and save paths.
    code += "import pickle\n" + _TABLES_END + rest.replace(_LOADER, _LAZY_LOADER)
    return code, tables_module
