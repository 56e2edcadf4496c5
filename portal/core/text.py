"""Text that came from people, made safe where it goes: one line (mail headers, calendar fields), or a spreadsheet
cell (CSV exports)."""

from __future__ import annotations

import re

# Control characters (C0, DEL, C1: U+0085 included) and the line and paragraph separators.
_NOT_IN_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SPACES = re.compile(" {2,}")


def single_line(text: str) -> str:
    """The text as one line: each control character or line/paragraph separator becomes a space, runs of spaces
    one space, no space at either end: "Judo", CR, LF, "basics" -> "Judo basics"."""
    return _SPACES.sub(" ", _NOT_IN_ONE_LINE.sub(" ", text)).strip(" ")


# A spreadsheet runs a cell that starts with = + - @ as a formula, spaces or a quote before it or not.
FORMULA_START = re.compile(r'[\s"]*[=+\-@]')
# Where a spreadsheet may start a new cell inside our text: the separators of the common locales (, ; tab),
# whatever the file's own separator and quoting, and line ends.
CELL_BREAK = re.compile(r"([,;\t\r\n])")


def spreadsheet_safe(text: str) -> str:
    """Text defused so that no part of it can start a formula: "x;=1+1" opened where ; separates cells is two
    cells, the second of which would run. Every piece a separator could cut off that starts like a formula gets a
    leading ' (a spreadsheet's mark for text); so does a cell that starts with a tab or CR."""
    pieces = CELL_BREAK.split(text)  # text, break, text, break, ...: the texts are at the even places
    for i in range(0, len(pieces), 2):
        if FORMULA_START.match(pieces[i]):
            pieces[i] = "'" + pieces[i]
    defused = "".join(pieces)
    return "'" + defused if defused[:1] in ("\t", "\r") else defused
