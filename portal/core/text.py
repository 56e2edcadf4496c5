"""Text that came from people, made safe for places that take one line (mail headers, calendar fields)."""

from __future__ import annotations

import re

# Control characters (C0, DEL, C1: U+0085 included) and the line and paragraph separators.
_NOT_IN_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SPACES = re.compile(" {2,}")


def single_line(text: str) -> str:
    """The text as one line: each control character or line/paragraph separator becomes a space, runs of spaces
    one space, no space at either end: "Judo", CR, LF, "basics" -> "Judo basics"."""
    return _SPACES.sub(" ", _NOT_IN_ONE_LINE.sub(" ", text)).strip(" ")
