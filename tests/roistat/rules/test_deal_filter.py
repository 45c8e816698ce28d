"""The deal filter: Python regular expressions, run on RE2, meaning the same on any script."""

from __future__ import annotations

import functools
import re
import time
import unicodedata
from collections.abc import Iterator

import pytest
import re2
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from roistat.errors import RoistatError
from roistat.rules import FilterPatternError, compile_filter
from roistat.rules.deal_filter import SPACE_RANGES


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        # Case folding on Cyrillic and other scripts.
        pytest.param("(?i)ромашка", "РОМАШКА", True, id="ci-cyrillic-upper"),
        pytest.param("(?i)РОМАШКА", "ООО «ромашка»", True, id="ci-cyrillic-lower-inside"),
        pytest.param("ромашка", "РОМАШКА", False, id="case-sensitive-by-default"),
        pytest.param("(?i)ёлка", "ЁЛКА", True, id="ci-yo"),
        pytest.param("(?i)[а-я]+$", "ЯБЛОКО", True, id="ci-cyrillic-range"),
        pytest.param("[а-я]", "ё", False, id="yo-is-outside-a-ya"),
        pytest.param("(?i)σοφία", "ΣΟΦΊΑ", True, id="ci-greek"),
        pytest.param("(?i)ς", "Σ", True, id="ci-final-sigma"),
        pytest.param("(?i)straße", "STRAẞE", True, id="ci-sharp-s"),
        pytest.param("(?i)k", "\u212a", True, id="ci-kelvin-sign"),
        pytest.param("(?i:Р)омашка", "ромашка", True, id="scoped-ci"),
        pytest.param("(?i)(?-i:Р)омашка", "ромашка", False, id="scoped-case-sensitive"),
        # Unicode classes.
        pytest.param(r"^\w+$", "Привет_мир2", True, id="word-cyrillic"),
        pytest.param(r"^\w+$", "При-вет", False, id="word-stops-at-hyphen"),
        pytest.param(r"^\w+$", "日本語", True, id="word-cjk"),
        pytest.param(r"\W", "абв", False, id="non-word-none-in-cyrillic"),
        pytest.param(r"\W", "аб в", True, id="non-word-space"),
        pytest.param(r"^\d+$", "١٢٣", True, id="digit-arabic-indic"),
        pytest.param(r"\d", "²", False, id="superscript-is-not-decimal"),
        pytest.param(r"^\D+$", "Сто", True, id="non-digit"),
        pytest.param(r"\s", "a\u00a0b", True, id="space-no-break"),
        pytest.param(r"\s", "a\u2028b", True, id="space-line-separator"),
        pytest.param(r"\s", "a\u200bb", False, id="zero-width-is-not-space"),
        pytest.param(r"^\S+$", "a\u202fb", False, id="non-space-narrow-nbsp"),
        pytest.param(r"^[^\W\d_]+$", "Ромашка", True, id="letters-only"),
        pytest.param(r"^[^\W\d_]+$", "Ромашка1", False, id="letters-only-digit"),
        pytest.param(r"^[^\W\d_]+$", "Рома_шка", False, id="letters-only-underscore"),
        pytest.param(r"^[\w-]+$", "вы-став_ка", True, id="word-or-hyphen"),
        pytest.param(r"^[^\S\n]+$", "\u00a0 \t", True, id="space-but-newline"),
        pytest.param(r"[^\S\n]", "\n", False, id="space-but-newline-excludes-newline"),
        pytest.param(r"^[\S\n]+$", "a\nb", True, id="non-space-or-newline"),
        pytest.param(r"^[\S\n]+$", "a b", False, id="non-space-or-newline-space"),
        # The word-boundary replacement the refusal suggests.
        pytest.param(r"(?:^|\W)ромашка(?:\W|$)", "ООО ромашка", True, id="word-alone"),
        pytest.param(r"(?:^|\W)ромашка(?:\W|$)", "ромашками", False, id="word-inside-word"),
        # Anchors and search semantics.
        pytest.param("омашк", "Ромашка", True, id="search-anywhere"),
        pytest.param("^омашк", "Ромашка", False, id="anchored-start"),
        pytest.param("ромашка$", "ромашка\n", True, id="dollar-before-final-newline"),
        pytest.param("ромашка$", "ромашка\nООО", False, id="dollar-not-before-inner-newline"),
        pytest.param("ромашка$", "ромашка\n\n", False, id="dollar-only-last-newline"),
        pytest.param(r"ромашка\Z", "ромашка\n", False, id="end-of-string"),
        pytest.param("(?m)^ромашка$", "ООО\nромашка\nИП", True, id="multiline"),
        pytest.param("^ромашка$", "ООО\nромашка\nИП", False, id="not-multiline"),
        pytest.param("а.б", "а\nб", False, id="dot-not-newline"),
        pytest.param("(?s)а.б", "а\nб", True, id="dotall"),
        pytest.param(r"\Aромашка", "ромашка", True, id="begin-of-string"),
        # Syntax that only Python's parser knows.
        pytest.param("(?x) ро ма шка  # comment", "ромашка", True, id="verbose"),
        pytest.param(r"\N{CYRILLIC CAPITAL LETTER ZHE}", "Ж", True, id="named-character"),
        pytest.param(r"\u0436\U00000436", "жж", True, id="unicode-escapes"),
        pytest.param(r"a{,2}b", "aab", True, id="open-lower-bound"),
        pytest.param(r"^a{,2}b$", "aaab", False, id="open-lower-bound-limit"),
        pytest.param(r"(?P<name>ООО|ИП) ", "ИП Иванов", True, id="named-group"),
        pytest.param(r"[\b]", "a\bb", True, id="backspace-in-class"),
        pytest.param(r"[]]", "]", True, id="bracket-first-in-class"),
        # In Python this is the class [[:alph] and then a literal ].
        pytest.param(r"[[:alpha:]]", ":]", True, id="posix-class-is-a-plain-class"),
        pytest.param(r"[[:alpha:]]", "b", False, id="no-posix-classes"),
        pytest.param(r"a|", "zzz", True, id="empty-alternative"),
        pytest.param(r"x*?y", "xxy", True, id="lazy"),
        pytest.param(r"\.\*\+\?\(\)\[\]\{\}\|\^\$\\", r".*+?()[]{}|^$\\", True, id="escapes"),
        pytest.param("\\\u0436", "ж", True, id="escaped-non-ascii-letter"),
        # Empty and missing values.
        pytest.param("^$", None, True, id="null-is-empty-string"),
        pytest.param("^$", "", True, id="empty-matches-empty"),
        pytest.param("x?", None, True, id="null-matches-optional"),
        pytest.param("x", None, False, id="null-does-not-match"),
        pytest.param(".", "", False, id="empty-has-no-character"),
        # Text UTF-8 cannot carry is tested as U+FFFD.
        pytest.param("a.b", "a\ud800b", True, id="lone-surrogate-is-one-character"),
        pytest.param("\ufffd", "x\udfff", True, id="lone-surrogate-is-replacement"),
        pytest.param(r"\x00", "a\x00b", True, id="nul"),
        pytest.param("😀+", "ok 😀😀", True, id="emoji"),
    ],
)
def test_matches_means_what_python_means(pattern: str, value: str | None, expected: bool) -> None:
    assert compile_filter(pattern).matches(value) is expected


@pytest.mark.parametrize(
    ("pattern", "value", "ours", "python"),
    [
        pytest.param("(?i)i", "\u0130", False, True, id="turkish-dotted-capital-i"),
        pytest.param("(?i)\u0131", "I", False, True, id="turkish-dotless-small-i"),
        pytest.param("a$\n", "a\n", False, True, id="newline-required-after-dollar"),
    ],
)
def test_documented_differences_from_python(
    pattern: str, value: str, ours: bool, python: bool
) -> None:
    assert compile_filter(pattern).matches(value) is ours
    assert bool(re.search(pattern, value)) is python


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        pytest.param(r"\bромашка\b", r"\b and \B are not supported", id="word-boundary"),
        pytest.param(r"\Bашк", "RE2's word boundaries see only ASCII letters", id="non-boundary"),
        pytest.param(r"(ab)\1", "backreferences", id="backreference"),
        pytest.param(r"(?P<x>a)(?P=x)", "backreferences", id="named-backreference"),
        pytest.param(r"(a)?(?(1)b|c)", "conditionals", id="conditional"),
        pytest.param(r"ООО(?= )", "lookahead", id="lookahead"),
        pytest.param(r"ООО(?!,)", "lookahead", id="negative-lookahead"),
        pytest.param(r"(?<=ООО )Ромашка", "lookbehind", id="lookbehind"),
        pytest.param(r"(?<!ИП )Ромашка", "lookbehind", id="negative-lookbehind"),
        pytest.param(r"(?>a+)b", "atomic groups", id="atomic-group"),
        pytest.param(r"a++b", "possessive quantifiers", id="possessive-plus"),
        pytest.param(r"a*+b", "possessive quantifiers", id="possessive-star"),
        pytest.param(r"a{1001}", "repeat count 1001 is above", id="repeat-over-1000"),
        pytest.param(r"a{2,5000}", "repeat count 5000 is above", id="repeat-max-over-1000"),
        pytest.param(r"a{1001,}", "repeat count 1001 is above", id="repeat-min-over-1000"),
        pytest.param(r"(?:a{1000}){1000}", "RE2) cannot run it", id="repeat-product-too-large"),
        pytest.param(r"(?a)\w", "(?a) is not supported", id="ascii-flag"),
        pytest.param(r"(?a:\w)", "(?a:...) is not supported", id="scoped-ascii-flag"),
        pytest.param(r"\ud800", "surrogate U+D800 can never occur", id="surrogate-literal"),
        pytest.param("(", "not a valid regular expression: missing )", id="unbalanced"),
        pytest.param(
            "[я-а]", "not a valid regular expression: bad character range", id="bad-range"
        ),
        pytest.param("*ромашка", "nothing to repeat", id="nothing-to-repeat"),
        pytest.param(r"\p{L}", r"bad escape \p", id="re2-only-syntax"),
        pytest.param(r"\z", r"bad escape \z", id="re2-end-of-text"),
        pytest.param("a(?i)b", "global flags not at the start", id="late-global-flag"),
        pytest.param(
            "".join(f"[^\\Wа{chr(0x431 + n)}]" for n in range(9)),
            r"more than 8 negated classes mix \w or \W with letters",
            id="too-many-costly-classes",
        ),
        pytest.param("", "the pattern is empty", id="empty"),
        pytest.param("a" * 10_001, "longer than 10000 characters", id="too-long"),
        pytest.param(None, "expected a string, got NoneType", id="null"),
        pytest.param(42, "expected a string, got int", id="number"),
    ],
)
def test_refusals_quote_the_pattern_and_say_why(pattern: object, problem: str) -> None:
    with pytest.raises(FilterPatternError) as caught:
        compile_filter(pattern)

    message = str(caught.value)
    assert message.startswith(f"filter.value {repr(pattern)[:30]}")
    assert problem in message
    assert isinstance(caught.value, RoistatError)
    assert isinstance(caught.value, ValueError)


def test_word_boundary_refusal_suggests_a_working_replacement() -> None:
    with pytest.raises(FilterPatternError) as caught:
        compile_filter(r"\bромашка\b")
    suggestion = re.search(r"write (\S+) instead", str(caught.value)).group(1)

    replacement = compile_filter(suggestion)

    assert replacement.matches("ООО ромашка")
    assert not replacement.matches("ромашками")


@pytest.mark.parametrize(
    ("pattern", "value"),
    [
        pytest.param(r"(a+)+$", "a" * 100_000 + "!", id="nested-plus"),
        pytest.param(r"(x+x+)+y", "x" * 100_000, id="nested-plus-pair"),
        pytest.param(r"(a|aa)+$", "a" * 100_000 + "b", id="overlapping-alternatives"),
        pytest.param(r"^(\w+\s?)*$", "слово " * 20_000 + "!", id="words-and-spaces"),
        pytest.param(r"(.*a){20}", "a" * 100_000, id="many-dot-stars"),
        pytest.param(
            r"(?i)(ромашка|ромаш|рома)+\d$", "ромашка" * 15_000, id="cyrillic-alternation"
        ),
    ],
)
def test_catastrophic_patterns_finish_with_the_right_answer(pattern: str, value: str) -> None:
    deal_filter = compile_filter(pattern)

    started = time.perf_counter()
    matched = deal_filter.matches(value)
    elapsed = time.perf_counter() - started

    # Backtracking engines take years on these; the bound is only a sanity check.
    assert matched is (pattern == r"(.*a){20}")
    assert elapsed < 5


def test_matches_refuses_a_non_text_value() -> None:
    with pytest.raises(TypeError, match="got int"):
        compile_filter("1").matches(1)  # type: ignore[arg-type]


def test_filter_shows_its_pattern() -> None:
    assert repr(compile_filter("(?i)ромашка")) == "DealFilter('(?i)ромашка')"


# Every code point UTF-8 can carry, in order: both engines are asked about
# all of them at once, and a match's span gives the code points it covers.
@functools.cache
def _every_character() -> str:
    return "".join(chr(code) for code in range(0x110000) if not 0xD800 <= code <= 0xDFFF)


def _code_point(index: int) -> int:
    return index if index < 0xD800 else index + 0x800


def _covered(spans: Iterator[tuple[int, int]]) -> bytearray:
    covered = bytearray(0x110000)
    for start, end in spans:
        low, high = _code_point(start), _code_point(end - 1) + 1
        covered[low:high] = b"\x01" * (high - low)
    return covered


def _differing(first: bytearray, second: bytearray) -> list[int]:
    block = 4096
    differing = []
    for start in range(0, len(first), block):
        if first[start : start + block] != second[start : start + block]:
            end = start + block
            differing += [code for code in range(start, end) if first[code] != second[code]]
    return differing


def _python_set(body: str, flags: int) -> bytearray:
    run = re.compile(f"(?:{body})+", flags)
    return _covered(match.span() for match in run.finditer(_every_character()))


def _engine_set(body: str, flags: int) -> bytearray:
    prefix = "(?i)" if flags & re.IGNORECASE else ""
    engine = compile_filter(prefix + body).engine_pattern
    options = re2.Options()
    options.log_errors = False
    run = re2.compile(f"(?:{engine})+", options)
    return _covered(match.span() for match in run.finditer(_every_character()))


@pytest.mark.parametrize(
    ("body", "flags"),
    [
        pytest.param(r"\w", 0, id="w"),
        pytest.param(r"\W", 0, id="W"),
        pytest.param(r"\d", 0, id="d"),
        pytest.param(r"\D", 0, id="D"),
        pytest.param(r"\s", 0, id="s"),
        pytest.param(r"\S", 0, id="S"),
        pytest.param(r"\w", re.I, id="ci-w"),
        pytest.param(r"\W", re.I, id="ci-W"),
        pytest.param(r"[^\w]", re.I, id="ci-not-w"),
        pytest.param(r"[^\W\d_]", 0, id="letters"),
        pytest.param(r"[^\W\d_]", re.I, id="ci-letters"),
        pytest.param(r"[^\W_]", 0, id="letters-digits"),
        pytest.param(r"[^\W\D]", 0, id="w-and-d"),
        pytest.param(r"[\W\d]", 0, id="not-w-or-d"),
        pytest.param(r"[\W\d]", re.I, id="ci-not-w-or-d"),
        pytest.param(r"[\w\s-]", re.I, id="ci-word-space-hyphen"),
        pytest.param(r"[^\Wа-яё]", 0, id="word-but-cyrillic-lower"),
        pytest.param(r"[^\Wа-яё]", re.I, id="ci-word-but-cyrillic"),
        pytest.param(r"[^\wа-я]", re.I, id="ci-not-word-not-cyrillic"),
        pytest.param(r"[^\S\n\r]", 0, id="space-but-line-breaks"),
        pytest.param(r"[\S\n]", 0, id="non-space-or-newline"),
        pytest.param(r"[\W\S]", 0, id="everything"),
        pytest.param(r"[^\W\S]", 0, id="nothing"),
    ],
)
def test_classes_match_the_same_characters_as_python(body: str, flags: int) -> None:
    python = _python_set(body, flags)
    engine = _engine_set(body, flags)

    # RE2 knows a newer Unicode than Python 3.11; only characters Python's
    # tables leave unassigned may differ.
    differing = _differing(python, engine)
    assert {unicodedata.category(chr(code)) for code in differing} <= {"Cn"}
    assert len(differing) < 6000


def test_space_ranges_are_pythons_whitespace() -> None:
    python = {code for code in range(0x110000) if chr(code).isspace()}
    ours = {code for low, high in SPACE_RANGES for code in range(low, high + 1)}

    assert ours == python
    assert ours == {code for code, flag in enumerate(_python_set(r"\s", 0)) if flag}


def test_case_folding_agrees_with_python_on_cased_scripts() -> None:
    scripts = [
        (0x0041, 0x024F),  # Latin
        (0x0370, 0x03FF),  # Greek
        (0x0400, 0x052F),  # Cyrillic
        (0x0531, 0x0587),  # Armenian
        (0x10A0, 0x10FF),  # Georgian
        (0x1C80, 0x1CBF),  # Cyrillic Extended-C, Georgian Mtavruli
        (0x1E00, 0x1FFF),  # Latin and Greek extended
        (0x2C00, 0x2C7F),  # Glagolitic, Latin Extended-C
        (0xA640, 0xA69F),  # Cyrillic Extended-B
        (0xFF21, 0xFF5A),  # fullwidth Latin
    ]
    # Python's (?i) lets the Turkish dotless ı match I (ı.upper() is I);
    # Unicode's simple case folding, which RE2 follows, does not.
    known = {0x0131}
    disagreements = []
    for low, high in scripts:
        for code in range(low, high + 1):
            char = chr(code)
            if code in known or unicodedata.category(char) == "Cn":
                continue
            candidates = {char.lower(), char.upper(), char.swapcase(), char.casefold()}
            for other in (c for c in candidates if len(c) == 1 and c != char):
                pattern = "(?i)" + re.escape(char)
                if compile_filter(pattern).matches(other) != bool(re.search(pattern, other)):
                    disagreements.append((char, other))

    assert disagreements == []


# A small alphabet that exercises case, scripts, digits, spaces and newlines.
_ALPHABET = "aAkKяЯёЁσςΣß1٣_ -\u00a0\n"
_CLASS_ITEMS = st.sampled_from(
    ["a", "я", "Я", "ё", "1", "_", r"\-", " ", r"\n", "а-я", "a-z", "A-Z", "0-9", "Α-Ω"]
    + [r"\w", r"\W", r"\d", r"\D", r"\s", r"\S"]
)


def _class() -> st.SearchStrategy[str]:
    items = st.lists(_CLASS_ITEMS, min_size=1, max_size=4).map("".join)
    return st.builds(
        lambda negated, body: f"[{'^' if negated else ''}{body}]", st.booleans(), items
    )


_ATOMS = st.one_of(
    st.sampled_from(list(_ALPHABET)).map(re.escape),
    st.sampled_from([".", r"\w", r"\W", r"\d", r"\D", r"\s", r"\S", "^", r"\A", r"\Z"]),
    _class(),
)


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.lists(children, min_size=2, max_size=3).map("".join),
        st.lists(children, min_size=2, max_size=3).map(lambda parts: f"(?:{'|'.join(parts)})"),
        st.tuples(children, st.sampled_from(["*", "+", "?", "{1,3}", "*?", "{2}"])).map(
            lambda pair: f"(?:{pair[0]}){pair[1]}"
        ),
        st.tuples(st.sampled_from(["i", "-i", "s", "m"]), children).map(
            lambda pair: f"(?{pair[0]}:{pair[1]})"
        ),
        children.map(lambda child: f"({child})"),
    )


_PATTERNS = st.builds(
    lambda flags, body, dollar: f"{flags}{body}{dollar}",
    st.sampled_from(["", "(?i)", "(?m)", "(?s)", "(?im)"]),
    st.recursive(_ATOMS, _combine, max_leaves=8),
    st.sampled_from(["", "$"]),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pattern=_PATTERNS, texts=st.lists(st.text(alphabet=_ALPHABET, max_size=12), max_size=6))
def test_random_patterns_agree_with_python(pattern: str, texts: list[str]) -> None:
    try:
        re.compile(pattern)
    except re.error:
        assume(False)  # not a pattern Python accepts, so nothing to compare
    deal_filter = compile_filter(pattern)

    for text in texts:
        assert deal_filter.matches(text) is bool(re.search(pattern, text)), (pattern, text)
