"""Classify the value of a deal's `roistat` column (DESIGN.md §4).

The column holds the visit number a web form wrote, or a "promo code" a
manager typed from a phone call (the same number, with spaces, dashes and
typos), or the tracker's `nocookie` placeholder, or a channel marker typed
for an offline deal (roistat-domain.md §1.3). The caller always keeps the raw
value; this module only says what it is. Classifying never raises: a value
that fits no kind is `invalid`.

The rules, in order, on the value with blank characters trimmed from both ends
(Unicode spaces and invisible formatting characters such as the zero-width
space, the byte-order mark and bidirectional marks):

- nothing left: `empty`;
- longer than 50 characters (the width of the CRM column): `invalid`;
- `nocookie` in any case: `nocookie`;
- decimal digits once spaces, invisible characters and dashes (hyphen,
  hyphen-minus, en and em dashes, the minus sign, ...) are removed: `visit`,
  when the number is between 1 and 2**63 - 1 (a PostgreSQL bigint); leading
  zeros are dropped (`007` is visit 7), an all-zero number is `invalid`;
- a `marker`: words of letters (with combining marks) or of ASCII digits,
  joined by single spaces, `_`, `-` or `.`, starting with a letter, where a
  word of digits never follows a space and no word mixes letters and digits.
  So `offline_expo`, `радио`, `сарафанное радио` and `выставка_2024` are
  markers, while `Промокод 12345` (a label and a visit number), `12З45` and
  `I2345` (visit numbers with a letter typed for a digit) are `invalid`. The
  marker text is stored lowercased, NFC-normalized, with runs of spaces
  collapsed to one, so `Radio` and `radio ` are the same channel. A marker is
  short: at most 32 characters and at most 3 space-separated words, so a
  sentence a manager typed into the column (`пожалуйста перезвоните после
  обеда`) is `invalid`, not a channel;
- anything else (`{visit}`, `abc123!`, control characters, NUL): `invalid`.
"""

from __future__ import annotations

import enum
import unicodedata
from typing import NamedTuple

MAX_ROISTAT_CHARS = 50
MAX_VISIT_ID = 2**63 - 1
# Channel markers are short codes (`offline_expo`, `сарафанное радио`); longer
# text in the column is a note someone typed, not a channel.
MAX_MARKER_CHARS = 32
MAX_MARKER_WORDS = 3

# Invisible characters that arrive with copy and paste and mean nothing here:
# zero-width space and joiners, word joiner, BOM, soft hyphen, bidi marks.
_INVISIBLE = frozenset(
    "\u00ad\u200b\u200c\u200d\u200e\u200f\u2060\ufeff"
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
# Dashes that are not in category Pd but look like one.
_EXTRA_DASHES = frozenset("\u2212\u2796\ufe63")
_MARKER_JOINERS = frozenset("_-.")


class RoistatKind(enum.StrEnum):
    """What the roistat column holds; the values are stored in `roistat_kind`."""

    VISIT = "visit"
    NOCOOKIE = "nocookie"
    EMPTY = "empty"
    MARKER = "marker"
    INVALID = "invalid"


class RoistatValue(NamedTuple):
    """A classified roistat value: its kind, and the visit id or marker when it has one."""

    kind: RoistatKind
    visit_id: int | None = None
    marker: str | None = None


_EMPTY = RoistatValue(RoistatKind.EMPTY)
_INVALID = RoistatValue(RoistatKind.INVALID)


def classify_roistat_value(raw: object) -> RoistatValue:
    """Return the kind of a raw roistat value, with its visit id or marker text.

    `raw` is the column's JSON value: a string or null; an integer (not a
    boolean) is read as its decimal digits, any other type is `invalid`.
    """
    if raw is None:
        return _EMPTY
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str):
        return _INVALID

    value = _trim(raw)
    if not value:
        return _EMPTY
    if len(value) > MAX_ROISTAT_CHARS:
        return _INVALID
    if value.casefold() == "nocookie":
        return RoistatValue(RoistatKind.NOCOOKIE)

    number = _spelled_number(value)
    if number is not None:
        if 1 <= number <= MAX_VISIT_ID:
            return RoistatValue(RoistatKind.VISIT, visit_id=number)
        return _INVALID

    marker = _marker(value)
    if marker is not None:
        return RoistatValue(RoistatKind.MARKER, marker=marker)
    return _INVALID


def _is_blank(char: str) -> bool:
    """Say whether a character is whitespace or an invisible formatting mark."""
    return char.isspace() or char in _INVISIBLE


def _is_inline_blank(char: str) -> bool:
    """Say whether a character may separate digits or words inside a value.

    Line and paragraph breaks and other vertical whitespace are not: a value
    with a line break in the middle is two values pasted together.
    """
    return char == "\t" or unicodedata.category(char) == "Zs" or char in _INVISIBLE


def _is_dash(char: str) -> bool:
    """Say whether a character is a dash, hyphen or minus of any kind."""
    return char in _EXTRA_DASHES or unicodedata.category(char) == "Pd"


def _trim(value: str) -> str:
    """Strip whitespace and invisible characters from both ends."""
    start, end = 0, len(value)
    while start < end and _is_blank(value[start]):
        start += 1
    while end > start and _is_blank(value[end - 1]):
        end -= 1
    return value[start:end]


def _spelled_number(value: str) -> int | None:
    """Return the number the value spells with spaces and dashes removed, or None."""
    if value.isdecimal():  # the usual visit id, nothing to remove
        return int(value)
    digits = "".join(char for char in value if not (_is_inline_blank(char) or _is_dash(char)))
    if not digits or not all(char.isdecimal() for char in digits):
        return None
    # int() reads decimal digits of any script, as a phone keyboard may type them.
    return int(digits)


def _marker(value: str) -> str | None:
    """Return the normalized marker text, or None when the value is not a marker."""
    if len(value) > MAX_MARKER_CHARS:
        return None
    words: list[str] = []
    joiners: list[str] = []
    word = ""
    for char in unicodedata.normalize("NFC", value):
        if _is_inline_blank(char) or char in _MARKER_JOINERS:
            joiner = " " if _is_inline_blank(char) else char
            if not word:
                # Runs of spaces collapse; any other pair of joiners is junk.
                if joiner == " " and joiners and joiners[-1] == " ":
                    continue
                return None
            words.append(word)
            joiners.append(joiner)
            word = ""
        else:
            word += char
    if not word:
        return None
    words.append(word)

    if not _is_letter_word(words[0]) or joiners.count(" ") >= MAX_MARKER_WORDS:
        return None
    for joiner, following in zip(joiners, words[1:], strict=True):
        if _is_letter_word(following):
            continue
        if not (following.isascii() and following.isdigit()) or joiner == " ":
            return None
    return "".join(w + j for w, j in zip(words, [*joiners, ""], strict=True)).lower()


def _is_letter_word(word: str) -> bool:
    """Say whether a word is letters, each possibly followed by combining marks."""
    if not unicodedata.category(word[0]).startswith("L"):
        return False
    return all(unicodedata.category(char)[0] in "LM" for char in word)
