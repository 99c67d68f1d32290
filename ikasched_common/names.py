"""What a name or identifier may hold: no control characters, no bidi controls, not blank.

Names (plans, contexts, jobs, agents, locks, parameters, token subjects) end up in logs, in
the CLI's tables and in the store's keys; a NUL, an escape sequence or a bidi override makes
them lie to the operator who reads them, and a whitespace-only name is one nobody can type.
`name_problem` says why a value is not a usable name (or None); the plan validator and the
API edge (ikasched_dashboard.services.request_guard) both refuse through it.
"""

from __future__ import annotations

import unicodedata

__all__ = ["BIDI_CONTROLS", "name_problem"]

#: Format characters (Unicode category Cf) that reorder or isolate text: they can make a
#: name display as another one.
BIDI_CONTROLS: frozenset[str] = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def name_problem(value: str) -> str | None:
    """Why `value` is not a usable name, or None. The empty string is left to the callers
    (some names are optional)."""
    if not value:
        return None
    for position, char in enumerate(value):
        if unicodedata.category(char) == "Cc":
            return f"holds control character U+{ord(char):04X} at position {position}"
        if char in BIDI_CONTROLS:
            return f"holds bidi control character U+{ord(char):04X} at position {position}"
        if char in "\u2028\u2029":
            return f"holds line separator U+{ord(char):04X} at position {position}"
    if not value.strip():
        return "is only whitespace"
    return None
