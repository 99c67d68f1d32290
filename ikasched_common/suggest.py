"""'Did you mean' for unknown names (plans, jobs, contexts): the closest known names."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(name: str, known: Iterable[str], *, limit: int = 3) -> str:
    """' (did you mean 'a' or 'b'?)' for the known names close to `name`; '' when none is."""
    candidates = sorted(set(known))
    close = difflib.get_close_matches(name, candidates, n=limit, cutoff=0.6)
    if not close:
        lowered = name.lower()
        close = [c for c in candidates if lowered and lowered in c.lower()][:limit]
    if not close:
        return ""
    quoted = [repr(c) for c in close]
    text = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return f" (did you mean {text}?)"
