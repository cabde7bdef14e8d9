"""Matching message text against admins' word lists and regexes, fast and safely.

Word lists do not use regexes at all: the message is split into case-folded
words once per decision, and a rule's single words are one ``frozenset``
test against them; phrases ("charged twice") and prefixes ("refund*") are
substring tests against the words joined by single spaces. That costs well
under a microsecond per rule and is Unicode-aware (German, Spanish, ...),
where RE2's ``\\b`` only knows ASCII letters.

Regexes run on RE2 (google-re2): linear time in the text, no backtracking, so
no pattern an admin writes can stall the gateway; features RE2 cannot do in
linear time (backreferences, look-around) are refused at load. The text is
also cut to ``MAX_TEXT_CHARS`` first, which bounds every match.
"""

from __future__ import annotations

import re
import unicodedata

import re2  # google-re2 ships no type information: pyproject.toml lets mypy take it as Any

MAX_TEXT_CHARS = 10_000
MAX_REGEX_CHARS = 2_000
# Python's re is fine here: a single \w+ scan is linear and Unicode-aware.
_TOKEN = re.compile(r"\w+")
# For ASCII text (most messages) the same words come 2-3x faster from C string methods:
# every byte that is not [A-Za-z0-9_] (what \w means in ASCII) becomes a space, then split.
_ASCII_GAPS = bytes(i if chr(i).isalnum() or chr(i) == "_" else 32 for i in range(128)) + b" " * 128


def _normalize(text: str) -> str:
    # Some clients send decomposed accents (e + combining acute); rules are
    # written composed. The check is cheap compared with always normalizing.
    text = text[:MAX_TEXT_CHARS]
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


class TextView:
    """One piece of message text, with its word forms computed on first use."""

    __slots__ = ("raw", "_folded", "_exact", "_encoded", "_hits", "_parts")

    def __init__(self, raw: str | None, parts: tuple[TextView, TextView] | None = None) -> None:
        """``parts``: views whose texts ``raw`` joins with a line break; their words make this view's."""
        self.raw = _normalize(raw or "")
        self._folded: tuple[frozenset[str], str] | None = None
        self._exact: tuple[frozenset[str], str] | None = None
        self._encoded: bytes | None = None
        self._hits: dict[int, frozenset[int]] = {}
        self._parts = parts

    def words(self, case_sensitive: bool) -> tuple[frozenset[str], str]:
        """The set of words and the words joined as ``" w1 w2 ... "``."""
        if case_sensitive:
            if self._exact is None:
                self._exact = self._split(case_sensitive)
            return self._exact
        if self._folded is None:
            self._folded = self._split(case_sensitive)
        return self._folded

    def _split(self, case_sensitive: bool) -> tuple[frozenset[str], str]:
        if self._parts is None:
            return _split(self.raw if case_sensitive else self.raw.casefold())
        # A line break is never part of a word, and case folding and NFC do not reach across
        # it, so the words of "a\nb" are a's then b's: reuse them instead of splitting again.
        (first, first_joined), (second, second_joined) = (part.words(case_sensitive) for part in self._parts)
        if not first:
            return second, second_joined
        if not second:
            return first, first_joined
        return first | second, first_joined[:-1] + second_joined

    @property
    def encoded(self) -> bytes:
        # RE2 works on UTF-8 bytes; encoding once serves every regex rule.
        if self._encoded is None:
            self._encoded = self.raw.encode("utf-8")
        return self._encoded


def tokens_of(text: str) -> list[str]:
    """The words of ``text``, as ``\\w+`` finds them."""
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_GAPS).decode("ascii").split()
    return _TOKEN.findall(text)


def _split(text: str) -> tuple[frozenset[str], str]:
    tokens = tokens_of(text)
    return frozenset(tokens), " " + " ".join(tokens) + " "


def check_word(word: str) -> None:
    """Refuse a word-list entry that could never match, with the reason."""
    if not isinstance(word, str) or not word.strip():
        raise ValueError("a word must be non-empty text")
    core = word.strip()
    if core.endswith("*"):
        core = core[:-1]
    if "*" in core:
        raise ValueError(f"{word!r}: '*' is only allowed at the end of a word (prefix match)")
    if not _TOKEN.search(core):
        raise ValueError(f"{word!r} has no letters or digits, so it can never match a word")


def _options(case_sensitive: bool) -> re2.Options:
    options = re2.Options()
    options.case_sensitive = case_sensitive
    options.log_errors = False  # errors come back as exceptions; RE2's own log is noise
    return options


def compile_regex(pattern: str, case_sensitive: bool = False) -> re2._Regexp:
    """Compile with RE2, turning its errors into one readable ``ValueError``."""
    if len(pattern) > MAX_REGEX_CHARS:
        raise ValueError(f"regex is longer than {MAX_REGEX_CHARS} characters")
    try:
        return re2.compile(pattern, _options(case_sensitive))
    except re2.error as error:
        detail = error.args[0] if error.args else str(error)
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        hint = ""
        if "perl operator" in detail or "escape sequence" in detail:
            hint = " (RE2 has no look-ahead, look-behind or backreferences; they can take exponential time)"
        raise ValueError(f"invalid regex {pattern!r}: {detail}{hint}") from None


def check_regex(pattern: str) -> None:
    compile_regex(pattern)


class WordMatcher:
    """Any of a list of words, phrases or ``prefix*`` entries, whole words only."""

    __slots__ = ("words", "case_sensitive", "_singles", "_single_words", "_needles")

    def __init__(self, words: list[str], case_sensitive: bool = False) -> None:
        self.words = tuple(words)
        self.case_sensitive = case_sensitive
        singles: dict[str, str] = {}
        needles: list[tuple[str, str]] = []
        for word in words:
            core = word.strip()
            prefix = core.endswith("*")
            if prefix:
                core = core[:-1]
            tokens = _TOKEN.findall(core if case_sensitive else core.casefold())
            if len(tokens) == 1 and not prefix:
                singles.setdefault(tokens[0], word)
            else:
                # " charged twice " must be preceded and followed by a word
                # boundary; a prefix entry leaves the end open.
                needles.append((" " + " ".join(tokens) + ("" if prefix else " "), word))
        self._singles = frozenset(singles)
        self._single_words = singles
        self._needles = tuple(needles)

    def gate_tokens(self) -> frozenset[str] | None:
        """Words of which at least one must be in the text for a match; None if unknown.

        A phrase needs its first word; a one-word prefix (``refund*``) cannot
        be reduced to whole words, so it makes the whole list ungateable.
        """
        tokens = set(self._singles)
        for needle, _ in self._needles:
            words = needle.split()
            if len(words) == 1 and not needle.endswith(" "):
                return None
            tokens.add(words[0])
        return frozenset(tokens)

    def matches(self, view: TextView) -> bool:
        tokens, joined = view.words(self.case_sensitive)
        if not self._singles.isdisjoint(tokens):
            return True
        for needle, _ in self._needles:
            if needle in joined:
                return True
        return False

    def first_match(self, view: TextView) -> str | None:
        """The entry that matched, for explanations."""
        tokens, joined = view.words(self.case_sensitive)
        for token, word in self._single_words.items():
            if token in tokens:
                return word
        for needle, word in self._needles:
            if needle in joined:
                return word
        return None


class RegexBank:
    """Every regex of a rule set, matched against a text in one pass.

    RE2's FilteredRE2 (``re2.Filter``) extracts the literal strings each
    regex needs, finds which of them occur with one scan of the text, and
    runs only the regexes whose literals are all there (regexes without
    literals always run). That turns 50 regex rules from 50 searches into
    one scan and a few searches. The searches themselves are ordinary RE2
    matches, so linear time still holds.
    """

    def __init__(self) -> None:
        self._filter = re2.Filter()
        self._count = 0
        self.ready = False

    def add(self, pattern: str, case_sensitive: bool) -> int:
        index: int = self._filter.Add(pattern, _options(case_sensitive))  # re2 is untyped; Add returns an int
        self._count += 1
        return index

    def compile(self) -> None:
        if self._count:
            try:
                self._filter.Compile()
                self.ready = True
            except re2.error:
                self.ready = False  # matchers fall back to one search each

    def hits(self, view: TextView) -> frozenset[int]:
        """Indexes of the regexes that match ``view``, computed once per view."""
        key = id(self)
        found = view._hits.get(key)
        if found is None:
            found = view._hits[key] = frozenset(self._filter.Match(view.encoded) or ())
        return found


class RegexMatcher:
    __slots__ = ("pattern", "_regex", "_bank", "_index")

    def __init__(self, pattern: str, case_sensitive: bool = False, bank: RegexBank | None = None) -> None:
        self.pattern = pattern
        self._regex = compile_regex(pattern, case_sensitive)
        self._index = -1
        if bank is not None:
            try:
                self._index = bank.add(pattern, case_sensitive)
            except re2.error:
                bank = None  # cannot happen for a pattern RE2 compiled; search alone then
        self._bank = bank

    @property
    def bank(self) -> RegexBank | None:
        return self._bank if self._bank is not None and self._bank.ready else None

    @property
    def bank_index(self) -> int:
        return self._index

    def matches(self, view: TextView) -> bool:
        bank = self._bank
        if bank is not None and bank.ready:
            return self._index in bank.hits(view)
        return self._regex.search(view.encoded) is not None

    def first_match(self, view: TextView) -> str | None:
        found = self._regex.search(view.encoded)
        if found is None:
            return None
        text = found.group(0)
        return text.decode("utf-8", "replace") if isinstance(text, bytes) else text
