"""The agreement's one regular-expression dialect: RE2 syntax, limited to what PostgreSQL reads alike.

Every pattern of the agreement (`personas[].match.job_title_regex`, a fit rule's `regex`, an engagement
`filter.page`) runs on RE2, whose matching time grows linearly with the text: Python's backtracking
`re` takes about a quarter of an hour for `^(a+)+$` against a 34-character title, doubling with each
added letter. The page filter also runs inside PostgreSQL while
events stream out of the warehouse, so a pattern is accepted only when RE2 compiles it *and* it can be
said in PostgreSQL's ARE syntax with the same meaning (`postgres_pattern` says it). Outside the dialect:
named groups, lookarounds, backreferences, possessive quantifiers, inline flags other than a leading
``(?i)``, ``\\p{..}``/``\\Q..\\E``/``\\z``/hex and octal escapes, counts above 255 (PostgreSQL's limit)
and an unescaped ``{`` that starts no count. Inside it, `.` never matches a line break, and ``\\b``,
``\\d``, ``\\w``, ``\\s`` and ``[:alpha:]``-style classes keep RE2's ASCII meaning in both engines
(PostgreSQL's follow the locale, so `postgres_pattern` spells them out).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

import re2

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

MAX_REPEAT = 255  # PostgreSQL's largest {m,n} count (RE2 allows 1000)
LEADING_FLAGS = "(?i)"  # the only inline flag, and only at the start (PostgreSQL's embedded options)
_WORD, _SPACE = "0-9A-Za-z_", r"\t\n\f\r "  # RE2's \w and \s: ASCII (PostgreSQL's follow the locale)
_W, _NOT_W = f"[{_WORD}]", f"[^{_WORD}]"
_ESCAPES = {  # outside [...]: RE2 escape -> the same test in PostgreSQL, spelled out in ASCII
    "b": f"(?:(?<!{_W})(?={_W})|(?<={_W})(?!{_W}))",
    "B": f"(?:(?<={_W})(?={_W})|(?<!{_W})(?!{_W}))",
    "A": r"\A",
    "d": "[0-9]",
    "D": "[^0-9]",
    "w": _W,
    "W": _NOT_W,
    "s": f"[{_SPACE}]",
    "S": f"[^{_SPACE}]",
}
_CLASS_ESCAPES = {"d": "0-9", "w": _WORD, "s": _SPACE}  # inside [...]
_CHARACTER_ESCAPES = frozenset("tnrfv")  # the same character in both engines, in and out of [...]
_POSIX_CLASSES = {  # [:name:] inside [...]: RE2's ASCII members
    "alpha": "A-Za-z",
    "digit": "0-9",
    "alnum": "0-9A-Za-z",
    "upper": "A-Z",
    "lower": "a-z",
    "word": _WORD,
    "xdigit": "0-9A-Fa-f",
    "space": r"\t\n\v\f\r ",
    "blank": r"\t ",
}
_BOUND = re.compile(r"\{(\d+)(?:(,)(\d*))?\}")


def _unsupported(what: str, advice: str) -> ValueError:
    return ValueError(f"{what} is not part of the agreement's regex dialect: {advice} (docs/agreement.md)")


@cache
def _options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # the error comes back as the exception; no C++ log line on stderr
    return options


@cache  # compiled patterns are immutable and safe to share between threads
def compile_pattern(pattern: str) -> Any:
    """`pattern` compiled by RE2 (`.search(text)` finds a match in linear time); re2.error if invalid."""
    return re2.compile(pattern, options=_options())


def check_pattern(pattern: str) -> str:
    """`pattern` itself when it belongs to the dialect; ValueError saying what does not."""
    postgres_pattern(pattern)  # first: its messages name the construct and what to write instead
    try:
        compile_pattern(pattern)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise ValueError(f"invalid regular expression: {reason}") from None
    return pattern


def postgres_pattern(pattern: str) -> str:
    """The same test in PostgreSQL's ARE syntax (for `~`); ValueError naming what is outside the dialect."""
    parts: list[str] = []
    i = 0
    if pattern.startswith(LEADING_FLAGS):
        parts.append(LEADING_FLAGS)
        i = len(LEADING_FLAGS)
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            text, i = _escape(pattern, i), i + 2
        elif char == "[":
            text, i = _bracket(pattern, i)
        elif char == "(":
            text, i = _group(pattern, i)
        elif char == "{":
            text, i = _bound(pattern, i)
        elif char in "*+?" and pattern[i + 1 : i + 2] == "+":
            raise _unsupported(f"the possessive quantifier {char}+", f"write {char} alone")
        else:
            # RE2's `.` stops at a line break, PostgreSQL's does not.
            text, i = (r"[^\n]" if char == "." else char), i + 1
        parts.append(text)
    return "".join(parts)


def _escape(pattern: str, i: int) -> str:
    char = pattern[i + 1 : i + 2]
    if not char:
        raise ValueError("invalid regular expression: trailing \\")
    if char in _ESCAPES:
        return _ESCAPES[char]
    if char in _CHARACTER_ESCAPES or (char.isascii() and char and not char.isalnum()):
        return "\\" + char
    if char.isdigit():
        raise _unsupported(f"the backreference or octal escape \\{char}", "write the characters themselves")
    advice = "use $ for the end" if char == "z" else "write the characters themselves or a [...] class"
    raise _unsupported(f"the escape \\{char}", advice)


def _bracket(pattern: str, start: int) -> tuple[str, int]:
    """A [...] class from `start` (its '['): the PostgreSQL text and the index after its ']'."""
    parts, i = ["["], start + 1
    if pattern[i : i + 1] == "^":
        parts.append("^")
        i += 1
    if pattern[i : i + 1] == "]":  # a ']' first in the class is a literal in both engines
        parts.append("]")
        i += 1
    while i < len(pattern) and pattern[i] != "]":
        if pattern[i] == "\\":
            parts.append(_class_escape(pattern[i + 1 : i + 2]))
            i += 2
        elif pattern.startswith("[:", i):
            end = pattern.find(":]", i + 2)
            name = pattern[i + 2 : end] if end > 0 else ""
            if name not in _POSIX_CLASSES:
                raise _unsupported(f"the class [:{name}:]", f"use one of {', '.join(_POSIX_CLASSES)}")
            parts.append(_POSIX_CLASSES[name])
            i = end + 2
        else:
            parts.append(pattern[i])
            i += 1
    if i >= len(pattern):
        raise ValueError("invalid regular expression: missing ]")
    parts.append("]")
    return "".join(parts), i + 1


def _class_escape(char: str) -> str:
    if char in _CLASS_ESCAPES:
        return _CLASS_ESCAPES[char]
    if char in _CHARACTER_ESCAPES or (char.isascii() and char and not char.isalnum()):
        return "\\" + char
    raise _unsupported(f"the escape \\{char} inside [...]", "list the characters (e.g. [^0-9] for \\D)")


def _group(pattern: str, i: int) -> tuple[str, int]:
    if not pattern.startswith("(?", i):
        return "(", i + 1
    if pattern.startswith("(?:", i):
        return "(?:", i + 3
    if pattern.startswith(("(?P<", "(?P=", "(?<"), i) and not pattern.startswith(("(?<=", "(?<!"), i):
        raise _unsupported("a named group", "write (...) or (?:...) without a name")
    if pattern.startswith(("(?=", "(?!", "(?<=", "(?<!"), i):
        raise _unsupported("a lookaround", "match the surrounding text itself")
    raise _unsupported(
        "an inline flag group", f"only a leading {LEADING_FLAGS} (ignore case, for the whole pattern)"
    )


def _bound(pattern: str, i: int) -> tuple[str, int]:
    match = _BOUND.match(pattern, i)
    if match is None:
        raise _unsupported("a '{' that starts no count", "write a literal brace as \\{")
    low, _, high = match.groups()
    counts = [int(low)] + ([int(high)] if high else [])
    if max(counts) > MAX_REPEAT:
        raise _unsupported(f"the count {match.group()}", f"counts go up to {MAX_REPEAT} (PostgreSQL's limit)")
    return match.group(), match.end()


def pattern_hits(values: Sequence[object] | pd.Series | pd.Index, pattern: str) -> np.ndarray:
    """Which of `values` (read as text) contain a match of `pattern`: a bool array, False where missing.

    Arrow's kernel runs RE2 over the whole array at once; pass a column's distinct values (factorized)
    when it repeats itself, so each text is searched once.
    """
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    texts = pa.array(pd.Series(values, dtype="string[pyarrow]"))
    found = pc.match_substring_regex(texts, pattern=pattern)
    return np.asarray(found.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
