"""Filter deals by the regular expression in the settings (`filter.value`).

Roistat documents neither the flavour nor the anchoring of its filtration
value (roistat-domain.md §2.2), so ours is stated here:

- The value is a Python `re` pattern and means what it means in Python on
  any script: `\\w \\W \\d \\D \\s \\S` are Unicode-aware, `(?i)` folds case
  on Cyrillic, Greek and the rest, `$` also matches before a final newline,
  `(?x)`, `(?s)`, `(?m)` and scoped flags work.
- It is searched for anywhere in the field (`re.search`): anchor with `^...$`
  to require the whole value.
- A deal whose field is empty or null is tested as the empty string, so it
  passes only a pattern that matches the empty string.

Every deal is tested against the pattern, so a pattern must not be able to
hang a task: it runs on RE2 (google-re2), whose matching time is linear in
the text. `compile_filter` parses the pattern with Python's own parser and
rewrites it into RE2 syntax, because RE2's `\\w \\d \\s \\b` are ASCII-only
and its `$` differs. Constructs RE2 cannot run are refused with a message
that says why and what to write instead: backreferences, lookahead and
lookbehind, conditionals, atomic groups and possessive quantifiers, repeat
counts above 1000, `(?a)`, and the word boundaries `\\b` and `\\B`.

Known differences, all rare in a filter on CRM fields:

- RE2's Unicode tables are newer than Python 3.11's, so letters and digits
  added to Unicode after version 14 count as `\\w`/`\\d` here and not in Python.
- Case folding is Unicode's simple case folding (RE2's). On the Latin,
  Greek, Cyrillic, Armenian and Georgian letters it agrees with Python except
  for the Turkish `İ` and `ı`, which Python's `(?i)` also matches to `i` and
  `I` and this filter does not.
- `$` (without `(?m)`) is emulated by matching an optional final newline,
  so a pattern that must match a newline *after* `$`, like `$\\n`, fails here.
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Sequence

# The rewrite walks Python's own parse tree, so the pattern means exactly what
# `re` would make of it. `re._parser` is private but stable across 3.11-3.13;
# the package supports 3.11 only (pyproject.toml), and the tests pin the shapes.
from re import _constants as sre
from re import _parser as sre_parser
from typing import NoReturn

import re2

from roistat.rules.rule_errors import FilterPatternError

MAX_PATTERN_CHARS = 10_000
RE2_MAX_REPEAT = 1000
MAX_EXPLICIT_CLASSES = 8

# RE2 class contents equal to Python's Unicode categories; the tests compare
# them with `re` over every code point.
_WORD = r"\p{L}\p{N}_"
_DIGIT = r"\p{Nd}"
_NOT_DIGIT = r"\P{Nd}"
# Python's `\s` on str: the characters for which str.isspace() is true.
SPACE_RANGES = (
    (0x09, 0x0D),
    (0x1C, 0x20),
    (0x85, 0x85),
    (0xA0, 0xA0),
    (0x1680, 0x1680),
    (0x2000, 0x200A),
    (0x2028, 0x2029),
    (0x202F, 0x202F),
    (0x205F, 0x205F),
    (0x3000, 0x3000),
)
_ANYTHING = r"(?s:.)"
_NOTHING = r"[^\x{0}-\x{10FFFF}]"
_SURROGATES = (0xD800, 0xDFFF)
_SURROGATE = re.compile("[\ud800-\udfff]")

_CATEGORY_SYNTAX = {
    sre.CATEGORY_DIGIT: r"\d",
    sre.CATEGORY_NOT_DIGIT: r"\D",
    sre.CATEGORY_SPACE: r"\s",
    sre.CATEGORY_NOT_SPACE: r"\S",
    sre.CATEGORY_WORD: r"\w",
    sre.CATEGORY_NOT_WORD: r"\W",
}
_COMPLEMENTS = frozenset((sre.CATEGORY_NOT_WORD, sre.CATEGORY_NOT_SPACE))
_INLINE_FLAGS = ((re.IGNORECASE, "i"), (re.MULTILINE, "m"), (re.DOTALL, "s"))
# What is left of `\w` once the other items of `[^\W...]` are taken out:
# Python's `\w` is exactly these five disjoint parts.
_WORD_PARTS = {"L": r"\p{L}", "Nd": r"\p{Nd}", "Nl": r"\p{Nl}", "No": r"\p{No}", "_": "_"}

_BOUNDARY_HELP = (
    r"\b and \B are not supported: RE2's word boundaries see only ASCII letters, so "
    r"\bромашка\b would never match; write (?:^|\W)ромашка(?:\W|$) instead"
)


class DealFilter:
    """A compiled deal filter; `matches` says whether a field value passes it."""

    __slots__ = ("_regex", "engine_pattern", "pattern")

    def __init__(self, pattern: str, engine_pattern: str, regex: re2._Regexp) -> None:
        self.pattern = pattern
        self.engine_pattern = engine_pattern
        self._regex = regex

    def __repr__(self) -> str:
        return f"DealFilter({self.pattern!r})"

    def matches(self, value: str | None) -> bool:
        """Say whether the pattern occurs in the value; None is tested as ''.

        Unpaired surrogates, which UTF-8 cannot carry, are tested as U+FFFD.
        """
        if value is None:
            value = ""
        elif not isinstance(value, str):
            raise TypeError(f"a filter tests text, got {type(value).__name__}")
        try:
            return self._regex.search(value) is not None
        except UnicodeEncodeError:
            return self._regex.search(_SURROGATE.sub("\ufffd", value)) is not None


def compile_filter(pattern: str) -> DealFilter:
    """Return a DealFilter for a Python regular expression from the settings.

    Raises FilterPatternError, quoting the pattern, when it is empty, too long,
    invalid in Python, or uses a construct the linear-time engine cannot run.
    """
    if not isinstance(pattern, str):
        raise FilterPatternError(pattern, f"expected a string, got {type(pattern).__name__}")
    if not pattern:
        raise FilterPatternError(
            pattern, "the pattern is empty; to export every deal, turn the filter off"
        )
    if len(pattern) > MAX_PATTERN_CHARS:
        raise FilterPatternError(pattern, f"longer than {MAX_PATTERN_CHARS} characters")

    try:
        with warnings.catch_warnings():
            # "Possible nested set" warnings: the parse below is what `re` does today.
            warnings.simplefilter("ignore")
            parsed = sre_parser.parse(pattern)
    except (re.error, OverflowError) as exc:
        raise FilterPatternError(pattern, f"not a valid regular expression: {exc}") from None
    except RecursionError:
        raise FilterPatternError(pattern, "groups are nested too deeply") from None

    engine_pattern = _Translator(pattern).translate(parsed)

    options = re2.Options()
    options.log_errors = False
    options.never_capture = True
    try:
        regex = re2.compile(engine_pattern, options)
    except re2.error as exc:
        reason = exc.args[0].decode() if isinstance(exc.args[0], bytes) else str(exc)
        raise FilterPatternError(
            pattern, f"the linear-time engine (RE2) cannot run it: {reason}"
        ) from None
    return DealFilter(pattern, engine_pattern, regex)


class _Translator:
    """Rewrite a parsed Python pattern into RE2 syntax with the same meaning."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._explicit_classes = 0

    def translate(self, parsed: sre_parser.SubPattern) -> str:
        """Return the RE2 pattern for a whole parsed pattern."""
        flags = parsed.state.flags
        if flags & re.ASCII:
            self._refuse(r"(?a) is not supported; write ASCII classes such as [A-Za-z0-9_]")
        prefix = "".join(letter for flag, letter in _INLINE_FLAGS if flags & flag)
        body = self._sequence(parsed, flags)
        return f"(?{prefix}){body}" if prefix else body

    def _refuse(self, problem: str) -> NoReturn:
        raise FilterPatternError(self.pattern, problem)

    def _sequence(self, items: sre_parser.SubPattern | list, flags: int) -> str:
        return "".join(self._item(op, av, flags) for op, av in items)

    def _item(self, op: object, av: object, flags: int) -> str:
        if op is sre.LITERAL:
            return self._char(av)
        if op is sre.NOT_LITERAL:
            return f"[^{self._char(av)}]"
        if op is sre.ANY:
            return "."
        if op is sre.IN:
            return self._char_class(list(av), flags)
        if op is sre.AT:
            return self._anchor(av, flags)
        if op is sre.BRANCH:
            _, alternatives = av
            return "(?:" + "|".join(self._sequence(alt, flags) for alt in alternatives) + ")"
        if op is sre.SUBPATTERN:
            return self._group(av, flags)
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
            return self._repeat(op, av, flags)
        if op is sre.POSSESSIVE_REPEAT or op is sre.ATOMIC_GROUP:
            self._refuse(
                "atomic groups (?>...) and possessive quantifiers (*+, ++, ?+) are not "
                "supported by the linear-time engine (RE2); use the plain group or quantifier"
            )
        if op is sre.GROUPREF or op is sre.GROUPREF_EXISTS:
            self._refuse(
                r"backreferences (\1, (?P=name)) and conditionals (?(1)...) are not supported "
                "by the linear-time engine (RE2); spell the repeated text out"
            )
        if op in (sre.ASSERT, sre.ASSERT_NOT):
            kind = "lookahead (?=...) (?!...)" if av[0] == 1 else "lookbehind (?<=...) (?<!...)"
            self._refuse(
                f"{kind} is not supported by the linear-time engine (RE2); "
                "match the surrounding text instead"
            )
        self._refuse(f"the construct {op} is not supported")

    def _char(self, code: int) -> str:
        if _SURROGATES[0] <= code <= _SURROGATES[1]:
            self._refuse(f"the surrogate U+{code:04X} can never occur in stored text")
        char = chr(code)
        if char.isalnum() or char == "_":
            return char
        return f"\\x{{{code:X}}}"

    def _anchor(self, at: object, flags: int) -> str:
        if at is sre.AT_BEGINNING:
            return "^"  # RE2's (?m) gives ^ the same meaning as Python's
        if at is sre.AT_BEGINNING_STRING:
            return r"\A"
        if at is sre.AT_END_STRING:
            return r"\z"
        if at is sre.AT_END:
            # Python's $ also matches before a final newline; RE2's does not.
            return "$" if flags & re.MULTILINE else r"(?:\n?\z)"
        if at in (sre.AT_BOUNDARY, sre.AT_NON_BOUNDARY):
            self._refuse(_BOUNDARY_HELP)
        self._refuse(f"the anchor {at} is not supported")

    def _group(self, av: tuple, flags: int) -> str:
        _, add_flags, del_flags, body = av
        if add_flags & re.ASCII:
            self._refuse(r"(?a:...) is not supported; write ASCII classes such as [A-Za-z0-9_]")
        on = "".join(letter for flag, letter in _INLINE_FLAGS if add_flags & flag)
        off = "".join(letter for flag, letter in _INLINE_FLAGS if del_flags & flag)
        inner = self._sequence(body, (flags | add_flags) & ~del_flags)
        switch = on + (f"-{off}" if off else "")
        return f"(?{switch}:{inner})"

    def _repeat(self, op: object, av: tuple, flags: int) -> str:
        low, high, body = av
        unbounded = high is sre.MAXREPEAT
        for count in (low,) if unbounded else (low, high):
            if count > RE2_MAX_REPEAT:
                self._refuse(
                    f"the repeat count {count} is above the linear-time engine's limit of "
                    f"{RE2_MAX_REPEAT}"
                )
        if (low, unbounded) == (0, True):
            quantifier = "*"
        elif (low, unbounded) == (1, True):
            quantifier = "+"
        elif unbounded:
            quantifier = f"{{{low},}}"
        elif (low, high) == (0, 1):
            quantifier = "?"
        elif low == high:
            quantifier = f"{{{low}}}"
        else:
            quantifier = f"{{{low},{high}}}"
        lazy = "?" if op is sre.MIN_REPEAT else ""
        return f"(?:{self._sequence(body, flags)}){quantifier}{lazy}"

    def _char_class(self, items: list, flags: int) -> str:
        """Return RE2 for a Python character class `[...]` (or a lone `\\w` and the like)."""
        negated = bool(items) and items[0][0] is sre.NEGATE
        if negated:
            items = items[1:]
        ignorecase = bool(flags & re.IGNORECASE)
        categories = {av for op, av in items if op is sre.CATEGORY}
        complements = categories & _COMPLEMENTS
        plain = [(op, av) for op, av in items if not (op is sre.CATEGORY and av in _COMPLEMENTS)]

        if not negated:
            return self._positive_class(plain, complements, ignorecase)
        if complements:
            return self._negated_complement_class(items, plain, complements, ignorecase)
        if not categories or not ignorecase:
            return f"[^{self._class_body(plain)}]"
        if all(op is sre.CATEGORY or _is_caseless_ascii(op, av) for op, av in plain):
            # Categories must not be case-folded (RE2 would fold U+0345 into \w).
            return f"(?-i:[^{self._class_body(plain)}])"
        return self._explicit_class(items, ignorecase=ignorecase)

    def _positive_class(self, plain: list, complements: set, ignorecase: bool) -> str:
        """Return RE2 for a non-negated class: the union of its items."""
        parts = []
        if complements:
            excluded = self._complement_base(complements)
            if excluded is None:
                return _ANYTHING
            parts.append(_case_sensitive(f"[^{excluded}]", ignorecase))

        categories = [item for item in plain if item[0] is sre.CATEGORY]
        others = [item for item in plain if item[0] is not sre.CATEGORY]
        if categories and ignorecase:
            parts.append(_case_sensitive(f"[{self._class_body(categories)}]", ignorecase))
            if others:
                parts.append(f"[{self._class_body(others)}]")
        elif plain:
            parts.append(f"[{self._class_body(plain)}]")

        if not parts:
            return _NOTHING
        return parts[0] if len(parts) == 1 else "(?:" + "|".join(parts) + ")"

    def _negated_complement_class(
        self, items: list, plain: list, complements: set, ignorecase: bool
    ) -> str:
        """Return RE2 for `[^\\W...]` or `[^\\S...]`: what the complement leaves out."""
        if len(complements) == 2:
            return _NOTHING  # \W and \S together cover every character

        if sre.CATEGORY_NOT_SPACE in complements:
            # [^\S...] is the whitespace not listed among the other items.
            listed = _python_class(plain, negated=False, ignorecase=ignorecase)
            left = [
                code
                for low, high in SPACE_RANGES
                for code in range(low, high + 1)
                if not listed.fullmatch(chr(code))
            ]
            return f"[{_ranges_body([(code, code) for code in left])}]" if left else _NOTHING

        # [^\W...] is \w minus the other items: drop whole parts of \w where the
        # items are categories or `_`; list code points when they are letters.
        parts = dict(_WORD_PARTS)
        for op, av in plain:
            if av is sre.CATEGORY_DIGIT:
                parts.pop("Nd", None)
            elif av is sre.CATEGORY_NOT_DIGIT:
                parts = {key: part for key, part in parts.items() if key == "Nd"}
            elif av is sre.CATEGORY_WORD:
                parts = {}
            elif av is sre.CATEGORY_SPACE:
                continue  # no whitespace is in \w
            elif _is_caseless_ascii(op, av) and not _has_ascii_alnum(op, av):
                if ord("_") in _item_codes(op, av):
                    parts.pop("_", None)
            else:
                return self._explicit_class(items, ignorecase=ignorecase)
        if not parts:
            return _NOTHING
        return _case_sensitive(f"[{''.join(parts.values())}]", ignorecase)

    def _complement_base(self, complements: set) -> str | None:
        """Return the RE2 class body whose complement is the union of \\W and/or \\S."""
        if len(complements) == 2:
            return None
        if sre.CATEGORY_NOT_WORD in complements:
            return _WORD
        return _ranges_body(SPACE_RANGES)

    def _class_body(self, items: list) -> str:
        parts = []
        for op, av in items:
            if op is sre.LITERAL:
                parts.append(self._char(av))
            elif op is sre.RANGE:
                low, high = av
                parts.append(f"\\x{{{low:X}}}-\\x{{{high:X}}}")
            elif av is sre.CATEGORY_WORD:
                parts.append(_WORD)
            elif av is sre.CATEGORY_DIGIT:
                parts.append(_DIGIT)
            elif av is sre.CATEGORY_NOT_DIGIT:
                parts.append(_NOT_DIGIT)
            elif av is sre.CATEGORY_SPACE:
                parts.append(_ranges_body(SPACE_RANGES))
            else:
                self._refuse(f"the class item {op} {av} is not supported")
        return "".join(parts)

    def _explicit_class(self, items: list, *, ignorecase: bool) -> str:
        """Return a negated class as the explicit code point ranges Python's `re` matches.

        Used for the rare classes that mix a category with letters under a
        negation, which RE2's class syntax cannot express. Each costs a few
        hundredths of a second to work out, so a pattern may hold only a few.
        """
        self._explicit_classes += 1
        if self._explicit_classes > MAX_EXPLICIT_CLASSES:
            self._refuse(
                f"more than {MAX_EXPLICIT_CLASSES} negated classes mix \\w or \\W with "
                "letters; list the characters you want instead"
            )
        kept = _explicit_ranges(tuple(items), ignorecase)
        return f"(?-i:[{_ranges_body(kept)}])" if kept else _NOTHING


@functools.lru_cache(maxsize=64)
def _explicit_ranges(items: tuple, ignorecase: bool) -> tuple[tuple[int, int], ...]:
    """Return the code point ranges, surrogates cut out, that `re` matches for `[^items]`."""
    regex = _python_class(list(items), negated=True, ignorecase=ignorecase)
    run = re.compile(f"{regex.pattern}+", regex.flags)
    ranges = [(match.start(), match.end() - 1) for match in run.finditer(_every_character())]
    return tuple(_without_surrogates(ranges))


def _python_class(items: list, *, negated: bool, ignorecase: bool) -> re.Pattern[str]:
    """Compile parsed class items back into a Python class, to ask `re` what it matches."""
    parts = []
    for op, av in items:
        if op is sre.LITERAL:
            parts.append(f"\\U{av:08x}")
        elif op is sre.RANGE:
            parts.append(f"\\U{av[0]:08x}-\\U{av[1]:08x}")
        elif op is sre.CATEGORY:
            parts.append(_CATEGORY_SYNTAX[av])
    flags = re.IGNORECASE if ignorecase else 0
    if not parts:
        # No items: the class matches nothing, or everything when negated.
        return re.compile(r"(?s:.)" if negated else r"[^\x00-\U0010ffff]", flags)
    return re.compile(f"[{'^' if negated else ''}{''.join(parts)}]", flags)


def _item_codes(op: object, av: object) -> range:
    """Return the code points of a literal or range item."""
    if op is sre.LITERAL:
        return range(av, av + 1)
    low, high = av
    return range(low, high + 1)


def _has_ascii_alnum(op: object, av: object) -> bool:
    """Say whether a literal or range item holds an ASCII letter or digit."""
    return any(code <= 0x7F and chr(code).isalnum() for code in _item_codes(op, av))


def _is_caseless_ascii(op: object, av: object) -> bool:
    """Say whether an item is an ASCII literal or range free of letters (so it has no case)."""
    if op is not sre.LITERAL and op is not sre.RANGE:
        return False
    codes = _item_codes(op, av)
    return codes[-1] <= 0x7F and not any(chr(code).isalpha() for code in codes)


def _case_sensitive(expression: str, ignorecase: bool) -> str:
    """Shield an expression from an enclosing (?i), so RE2 does not case-fold it."""
    return f"(?-i:{expression})" if ignorecase else expression


def _ranges_body(ranges: Sequence[tuple[int, int]]) -> str:
    """Return RE2 class contents for inclusive code point ranges."""
    return "".join(
        f"\\x{{{low:X}}}" if low == high else f"\\x{{{low:X}}}-\\x{{{high:X}}}"
        for low, high in ranges
    )


def _without_surrogates(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Cut the surrogate block out of code point ranges; UTF-8 text never holds it."""
    low_surrogate, high_surrogate = _SURROGATES
    kept = []
    for low, high in ranges:
        if low < low_surrogate:
            kept.append((low, min(high, low_surrogate - 1)))
        if high > high_surrogate:
            kept.append((max(low, high_surrogate + 1), high))
    return kept


@functools.cache
def _every_character() -> str:
    """Return every code point in order, so a match's offsets are code points."""
    return "".join(map(chr, range(0x110000)))
