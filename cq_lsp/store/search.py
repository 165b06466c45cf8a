"""Ranked search: one query, several match tiers, best first.

1. **definition** — a file that defines the queried identifier (``ServeHTTP``, ``Engine.ServeHTTP``,
   ``app.listen``), from the ``symbols`` rows;
2. **symbol** — a definition whose name is the query's words in another spelling, or starts with
   them (``parse invoice`` → ``parseInvoice``, ``render`` → ``render_page``), or a member whose
   container and name they spell (``context json`` → ``Context.JSON``);
3. **path** — a file whose name is the query (``base64`` → ``base64.py``), or that the query
   names with its extension (``results.py docstring``);
4. **text** — weighted full text (BM25F: symbol names, file names and the overview above the
   content), files matching every required term before those matching some. Identifiers are
   searched as themselves and as their split words; English words are stemmed (porter);
   stop words ("where", "are", "how") are never required.

Within every tier, file priors apply: tests, fixtures, examples, vendored, generated and docs
files rank below source files of the same match strength unless the query names them (``test``,
``docs``...), and data files (SVG, lock files, minified bundles, blobs) below everything.

A query in FTS5 syntax (quotes, ``*``, ``AND``/``OR``/``NOT``/``NEAR``, ``column:``) goes to SQLite
as written; one that does not parse is searched as plain words (``"syntax": "plain"``). Only an
empty query is an error. The score is the tier plus a fraction for the strength inside it, so
scores fall in rank order.
"""

from __future__ import annotations

import bisect
import itertools
import re
import sqlite3
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from typing import Any

from cq_lsp.errors import UsageError
from cq_lsp.store.codec import LazyText
from cq_lsp.store.db import Database
from cq_lsp.store.identifiers import (
    ACTION_WORDS,
    ROLE_PRIOR,
    ROLE_WORDS,
    STOP_WORDS,
    file_stem,
    normalize,
    query_terms,
    split_identifier,
)
from cq_lsp.store.rows import FTS_COLUMNS
from cq_lsp.store.symbols import Match, lookup, members

# bm25 weight per FTS column (same order as FTS_COLUMNS): names and overview above content.
WEIGHTS = {
    "filepath": 4.0,
    "filename": 6.0,
    "symbols": 8.0,
    "overview": 5.0,
    "functions": 4.0,
    "types_interfaces_classes": 4.0,
    "exports": 2.0,
    "constants": 2.0,
    "imports": 1.0,
    "dependencies": 1.0,
    "other_notes": 0.5,
    "ddd_context": 2.0,
    "full_content": 0.5,
}
_BM25 = "bm25(files_fts, " + ", ".join(str(WEIGHTS[c]) for c in FTS_COLUMNS) + ")"
# ``column:`` counts as syntax only for a real column name: a pasted "error: connection refused"
# or "std::vector" is plain text, not a filter on a column that does not exist.
_FTS_SYNTAX = re.compile(
    r'["*^(){}]|\b(?:AND|OR|NOT|NEAR)\b|\b(?i:' + "|".join(FTS_COLUMNS) + r")\s*:"
)
# A query that uses only brackets as "syntax" is pasted code: parseInvoice(), app.route("/").
_EXPLICIT_FTS = re.compile(
    r'["*^]|\b(?:AND|OR|NOT|NEAR)\b|\b(?i:' + "|".join(FTS_COLUMNS) + r")\s*:"
)
_FTS_WORDS = frozenset({"and", "or", "not", "near", *FTS_COLUMNS})
_IDENT = re.compile(r"[^\W\d]\w*(?:(?:\.|::|->|#)[^\W\d]\w*)*")
# An identifier a person would not type as prose: snake_case, camelCase, dotted, with digits.
_CODE_LIKE = re.compile(r"_|\.|::|->|#|[a-z][A-Z]|[A-Z]{2}[a-z]|\d")
MAX_LIMIT = 500
# The any-term fallback matches terms of this many letters as prefixes (invoice → invoices).
# Shorter ones stay exact: "test"* alone expands to thousands of words in CPython's Lib/
# (testcase, testing, ...) and cost 12 ms to rank, the whole p99 budget's half.
PREFIX_MIN = 5
OPEN, CLOSE = "«", "»"
SNIPPET_CHARS = 160
SCAN_CHARS = 100_000
# A snippet shows the stretch where the query's words meet: this many characters from its first
# match to its last (the window starts up to 50 before the first), in the first MEET_CHARS of
# the text (beyond that, its first match: looking through all of every result's 100 KB cost a
# fifth of the search time on CPython's Lib/).
BEST_SPAN = SNIPPET_CHARS - 60
MEET_CHARS = 32_768
# ...for the first results only: the ones read. For all ten it cost 0.3 ms a query (p50 2.2 ms
# on CPython's Lib/, over the 2 ms budget); the others show their first match.
MEET_RESULTS = 3
# An ASCII text is lowered for str.find in steps of at least this many characters.
FOLD_CHARS = 8192
BEST_ANCHORS = 16  # places of the word that turns up last looked around
MAX_ALL = 3  # required words up to which files with all of them rank first
QUALIFIED_MAX = 4  # plain words up to which a query is also read as Container.member
# Required words from which a query is prose (a question, a commit subject), where a dotted word
# is more often a file (index.db, config.json) than a call on a variable.
PROSE_MIN = 4
TIER_NAMES = ("text", "path", "symbol", "definition")  # index = the tier's score floor
_KIND_WEIGHT = {"method": 0.95, "constant": 0.9, "variable": 0.85, "field": 0.85}

_ROWS_SQL = (
    "SELECT f.id, f.filepath, f.overview, f.language, c.z, c.text_at FROM files f "
    "LEFT JOIN contents c ON c.file_id = f.id WHERE f.id IN ({})"
)


def _rank_sql(factors: dict[str, float]) -> str:
    """Rank inside the FTS table, weighted by each file's role prior.

    snippet() here would run for EVERY matching row before the LIMIT, re-reading each whole file
    (900 ms for a common term on CPython's Lib/): snippets are made in Python for the top rows.
    """
    cases = " ".join(f"WHEN '{role}' THEN {f!r}" for role, f in factors.items() if f != 1.0)
    prior = f"(CASE coalesce(r.role, 'source') {cases} ELSE 1.0 END)" if cases else "1.0"
    return (
        f"SELECT files_fts.rowid AS id, -{_BM25} * {prior} AS score, f.filepath AS path "
        "FROM files_fts JOIN files f ON f.id = files_fts.rowid "
        "LEFT JOIN file_roles r ON r.file_id = files_fts.rowid "
        "WHERE files_fts MATCH ? ORDER BY score DESC LIMIT ?"
    )


class _Folded:
    """An ASCII text's lower case, made only as far as it is searched: most matches are near
    the top of a file, and lowering all of every result's text (35 KB on average on CPython's
    Lib/) cost as much as finding the matches."""

    __slots__ = ("low", "text")

    def __init__(self, text: str, low: str = "") -> None:
        self.text = text
        self.low = low

    @classmethod
    def of(cls, text: str) -> _Folded | None:
        """For a text whose lower case keeps every offset (each character lowers to one) and
        holds what a case-insensitive regex finds of ASCII words; else None."""
        if text.isascii():
            return cls(text)
        if "ı" in text or "ſ" in text:
            return None  # they match i and s in a case-insensitive regex, not in lower case
        low = text.lower()
        return cls(text, low) if len(low) == len(text) else None

    def find(self, word: str, pos: int, end: int) -> int:
        """``text.lower().find(word, pos, end)``."""
        if end > len(self.low) < len(self.text):
            upto = min(len(self.text), max(end, 2 * len(self.low), FOLD_CHARS))
            self.low += self.text[len(self.low) : upto].lower()
        return self.low.find(word, pos, end)

    def count(self, word: str) -> int:
        """``text.lower().count(word)``."""
        self.find(word, len(self.text), len(self.text))  # all of it lowered
        return self.low.count(word)


class Highlighter:
    """Marks query terms where a word or a camelCase hump starts, in any letter case.

    A term with spaces is a quoted phrase: it is marked whole, across any run of whitespace.
    """

    # Word start: no ASCII letter or digit before it, or a lower-to-upper hump (parseInvoice).
    _START = r"(?:(?<![A-Za-z0-9])|(?<=[a-z0-9])(?=[A-Z]))"

    def __init__(self, words: list[str]) -> None:
        # What each word is looked for as: a plural also as its singular (`redirects` marks
        # REDIRECT and redirected, as FTS5's stemmer found them), a phrase as written.
        needles = [_singular(w) for w in words]
        spelt = [
            r"\s+".join(map(re.escape, n.split())) + ("s?" if n != w else "")
            for n, w in zip(needles, words, strict=True)
        ]
        alternatives = "|".join(spelt)
        # A group per word: which word matched (İnternet is no lower-case ``internet``).
        self.pattern = re.compile(self._START + "(?i:" + "|".join(f"({a})" for a in spelt) + ")")
        # The bare terms: a plain case-insensitive scan that finds where to try ``pattern``.
        self._finder = re.compile(alternatives, re.IGNORECASE)
        # Single ASCII words are found in an ASCII text's lower case by str.find, at C speed.
        single = all(w.isascii() and len(w.split()) == 1 for w in words)
        self._ascii_words = [n.lower() for n in needles] if single else None
        # What a window of the text must show for a snippet to say why the file matched: the
        # query's words but its stop words (unless it has only those). A match of a longer
        # word also shows the words inside it (``asyncclient`` shows ``client``).
        keys = self._keys = [" ".join(w.lower().split()) for w in words]
        self.wanted = frozenset(k for k in keys if k not in STOP_WORDS) or frozenset(keys)
        self._shows = {k: frozenset(w for w in self.wanted if w in k) for k in keys}
        self._needles = {k: " ".join(n.lower().split()) for k, n in zip(keys, needles, strict=True)}
        # One regex per word, made when a text needs it (compiling them for every query cost
        # more than most queries' snippets).
        self._each: dict[str, re.Pattern[str]] = {}
        self._longest = max(map(len, words))
        self._phrase = any(" " in w.strip() for w in words)

    def first(self, text: str) -> re.Match[str] | None:
        """The first match in ``text``.

        ``pattern.search`` evaluates the lookbehinds at every position: 30-60 ms on the 750 KB
        of pydoc_data/topics.py. Scanning for the bare terms and checking each hit with
        ``pattern.match`` finds the same match in a fraction of that.
        """
        folded = _Folded.of(text) if self._ascii_words is not None else None
        return self._first_folded(folded) if folded is not None else self._first_regex(text)

    def _first_regex(self, text: str) -> re.Match[str] | None:
        pos = 0
        while True:
            hit = self._finder.search(text, pos)
            if hit is None:
                return None
            m = self.pattern.match(text, hit.start())
            if m is not None:
                return m
            pos = hit.start() + 1

    def _first_folded(self, folded: _Folded) -> re.Match[str] | None:
        """``first`` for single ASCII words: each word's first place ``pattern`` matches at,
        found by str.find in the text's lower case; the earliest wins, matched there as
        ``first`` would (22 µs a scan of the finder regex, most of a search's snippets, on
        CPython's Lib/). In the first FOLD_CHARS, then in four times as much, and so on: a
        word that is not there costs no more."""
        text, end = folded.text, 0
        while end < len(text):
            start, end = end, min(len(text), max(FOLD_CHARS, 4 * end))
            # Every place before ``end`` is seen whole: an earlier one is never cut off.
            stop = min(len(text), end + self._longest)
            best = -1
            for word in self._ascii_words or ():
                pos = folded.find(word, start, stop)
                while pos != -1 and pos < end and (best == -1 or pos < best):
                    if self.pattern.match(text, pos) is not None:
                        best = pos
                        break
                    pos = folded.find(word, pos + 1, stop)
            if best != -1:
                return self.pattern.match(text, best)
        return None

    def matches(
        self, text: str, pos: int = 0, endpos: int | None = None
    ) -> Iterator[re.Match[str]]:
        """Every place ``first`` could stop at from ``pos`` to before ``endpos``, in order
        (word starts are judged on the whole text)."""
        end = len(text) if endpos is None else endpos
        # A phrase goes on over any run of whitespace: only where it starts is bounded.
        stop = len(text) if self._phrase else end
        hit = self._finder.search(text, pos, stop)
        while hit is not None and hit.start() < end:
            found = self.pattern.match(text, hit.start(), stop)
            if found is not None:
                yield found
            hit = self._finder.search(text, hit.start() + 1, stop)

    def best(self, text: str) -> tuple[re.Match[str] | None, bool]:
        """Where a snippet of ``text`` shows why it matched, and whether it shows every word.

        The earliest snippet-wide stretch that shows all of the query's words but its stop
        words (where ``transport mount`` meet, not the first import line naming a transport);
        else, as for a one-word query, the first match. Such a stretch holds every word, so
        only the first BEST_ANCHORS places of the rarest one are looked around (sliding over
        all the matches of a word like ``test``, thousands in a test file, cost 20 ms a
        query)."""
        if len(self.wanted) < 2 and len(self._shows) < 2:  # one word, no stop word to skip
            first = self.first(text)
            return first, first is not None
        # str.find on the lower case of the text; a regex for phrases (spelt with any run of
        # whitespace) and the rare text whose lower case moves offsets.
        folded = _Folded.of(text) if self._ascii_words is not None else None
        first = self._first_folded(folded) if folded else self._first_regex(text)
        if first is None:
            return None, False
        reach = BEST_SPAN + self._longest  # from a stretch's first match to its last one's end
        head = self.matches(text, first.start(), min(first.start() + reach, len(text)))
        near = (self._key(m) for m in head if m.start() - first.start() <= BEST_SPAN)
        if self._shown(near) == len(self.wanted):
            return first, True  # the first stretch shows them all (an identifier, mostly)
        seen = {w: self._find(text, folded, w, 0) for w in self.wanted}
        if min(seen.values()) < 0:
            return first, False
        # Around the places of the word that turns up last (none meet before it), the first
        # BEST_ANCHORS of them; if there are more, around those of the rarest word (counted in
        # C, which costs a lowering of all of the text).
        last = max(seen, key=lambda w: (seen[w], w))
        found, capped = self._meet(text, folded, last, seen[last], reach)
        if found is None and capped:
            rare = min(seen, key=lambda w: (self._count(text, folded, w), -seen[w], w))
            if rare != last:
                found, _ = self._meet(text, folded, rare, seen[rare], reach)
        return (found, True) if found is not None else (first, False)

    def _meet(
        self, text: str, folded: _Folded | None, word: str, at: int, reach: int
    ) -> tuple[re.Match[str] | None, bool]:
        """The first match of the earliest stretch that shows every word around the first
        BEST_ANCHORS places of ``word`` from ``at``, and whether it has more places."""
        places = self._places(text, folded, word, at)
        anchors = list(itertools.islice(places, BEST_ANCHORS))
        capped = next(places, None) is not None
        for lo, hi in self._starts(anchors, reach):
            # Each stretch is judged once its last match is in; the first that shows every
            # word is the earliest (one that starts before it ends before that last match).
            end = min(hi + reach, len(text))
            if any(self._find(text, folded, w, lo, end) < 0 for w in self.wanted):
                continue  # not all of them around here (a find per word, in C)
            window: deque[tuple[re.Match[str], str]] = deque()
            keys: dict[str, int] = {}
            for m in self.matches(text, lo, end):
                key = self._key(m)
                window.append((m, key))
                keys[key] = keys.get(key, 0) + 1
                while m.start() - window[0][0].start() > BEST_SPAN:
                    gone = window.popleft()[1]
                    keys[gone] -= 1
                    if not keys[gone]:
                        del keys[gone]
                if window[0][0].start() > hi:
                    break
                if self._shown(keys) == len(self.wanted):
                    return window[0][0], capped
        return None, capped

    def _shown(self, keys: Iterable[str]) -> int:
        """How many of the query's words matches of these words show."""
        return len(frozenset().union(*(self._shows[k] for k in keys)))

    def _find(
        self, text: str, folded: _Folded | None, word: str, pos: int, end: int | None = None
    ) -> int:
        """Where ``word`` first starts in ``text[pos:end]`` (inside words too), or -1."""
        end = len(text) if end is None else end
        if folded is not None and " " not in word:
            return folded.find(self._needles[word], pos, end)
        m = self._regex(word).search(text, pos, len(text) if " " in word else end)
        return m.start() if m is not None and m.start() < end else -1

    def _regex(self, word: str) -> re.Pattern[str]:
        each = self._each.get(word)
        if each is None:
            needle = self._needles[word]
            each = re.compile(r"\s+".join(map(re.escape, needle.split())), re.IGNORECASE)
            self._each[word] = each
        return each

    def _count(self, text: str, folded: _Folded | None, word: str) -> int:
        """How many times ``word`` occurs in ``text`` (inside words too)."""
        if folded is not None and " " not in word:
            return folded.count(self._needles[word])
        return sum(1 for _ in self._regex(word).finditer(text))

    def _places(self, text: str, folded: _Folded | None, word: str, at: int) -> Iterator[int]:
        """Where ``word`` occurs in ``text`` from ``at`` on, in any letter case."""
        while at != -1:
            yield at
            at = self._find(text, folded, word, at + 1)

    @staticmethod
    def _starts(places: list[int], reach: int) -> Iterator[tuple[int, int]]:
        """Where the stretches holding any of ``places`` may start: ranges in order, merged."""
        lo = hi = -1
        for at in places:
            if hi < 0 or at - reach > hi:
                if hi >= 0:
                    yield lo, hi
                lo = max(0, at - reach)
            hi = at
        if hi >= 0:
            yield lo, hi

    def _key(self, m: re.Match[str]) -> str:
        """The query word a match of ``pattern`` is."""
        return self._keys[(m.lastindex or 1) - 1]


def _singular(word: str) -> str:
    """A plain plural's singular (``redirects`` → ``redirect``), else the word: not ``class``,
    ``status``, ``analysis``, nor a short word (``has``, ``its``)."""
    if len(word) >= 5 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _highlighter(terms: list[str]) -> Highlighter | None:
    words = sorted({t for t in terms if t}, key=len, reverse=True)
    return Highlighter(words) if words else None


def make_snippet(text: str | None, highlighter: Highlighter | None) -> str | None:
    """A window of ``text`` around the first match, every match marked «like this»."""
    found = snippet_at(text, highlighter)
    return found[0] if found else None


def snippet_at(
    text: str | None, highlighter: Highlighter | None, at: int | None = None
) -> tuple[str, int] | None:
    """(snippet, offset of its first match); ``at``: a window from that offset instead."""
    if not text or (highlighter is None and at is None):
        return None
    if at is None:
        assert highlighter is not None
        m, _ = _locate(text, highlighter)
        if m is None:
            return None
        at = m.start()
    return _window(text, at, highlighter), at


def _locate(
    text: str, highlighter: Highlighter, meet: bool = True
) -> tuple[re.Match[str] | None, bool]:
    """Where a snippet of ``text`` starts, and whether more text could give no better one.
    ``meet``: where the query's words meet, else the first match (for a file that lacks some
    of them, where looking costs a scan of the text per word)."""
    # A match in the first SCAN_CHARS is as good a snippet as any: scanning all of a 750 KB
    # file for a word that only occurs inside other words cost 8 ms a result.
    m, full = highlighter.best(text[:MEET_CHARS]) if meet else (None, True)
    if m is None:
        m = highlighter.first(text[:SCAN_CHARS])
    if m is None and len(text) > SCAN_CHARS:
        m = highlighter.first(text)
    return m, full


def _window(text: str, at: int, highlighter: Highlighter | None) -> str:
    start = max(0, at - 50) if at > 50 and text.rfind("\n", 0, at) < at - 50 else at
    if at and start == at:
        start = text.rfind("\n", 0, at) + 1  # a definition's window starts at its line
    end = min(len(text), start + SNIPPET_CHARS)
    window = text[start:end]
    if highlighter is not None:
        window = highlighter.pattern.sub(lambda x: f"{OPEN}{x.group(0)}{CLOSE}", window)
    return ("…" if start else "") + " ".join(window.split()) + ("…" if end < len(text) else "")


def is_fts_syntax(query: str) -> bool:
    return bool(_FTS_SYNTAX.search(query))


def _quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


class _Hit:
    """One file's best reason to be in the results so far."""

    __slots__ = ("match", "strength", "symbol", "tier", "why")

    def __init__(
        self, tier: int, strength: float, match: str, why: list[str], symbol: Match | None = None
    ) -> None:
        self.tier = tier  # index into TIER_NAMES
        self.strength = strength  # 0..1 inside the tier
        self.match = match  # how: definition, symbol, path, all, any, fts
        self.why = why
        self.symbol = symbol

    def key(self) -> tuple[int, float]:
        return (self.tier, self.strength)


class _Query:
    """A query taken apart once: its terms, identifiers, the roles it asks for."""

    def __init__(self, text: str) -> None:
        self.text = text
        terms = query_terms(text)
        # One-letter words (the `n` of `nLine`) match most files and only slow the query down.
        self.terms = [t for t in terms if len(t) > 1] or terms
        self.required = (
            [t for t in self.terms if t not in STOP_WORDS and t not in ACTION_WORDS]
            or [t for t in self.terms if t not in STOP_WORDS]
            or self.terms
        )
        self.idents = list(dict.fromkeys(m.group(0) for m in _IDENT.finditer(text)))
        # Identifiers that are a documented file's name (`results.py`), once the index said so
        # (_named_files): a definition only where its container is named too (`Context.JSON`
        # beside a testdata/context.json), never any `py` or `json`.
        self.file_names: frozenset[str] = frozenset()
        words = set(self.terms)
        asked = {role for role, names in ROLE_WORDS.items() if words & names}
        self.factors = {
            role: 1.0 if role in asked else f for role, f in ROLE_PRIOR.items() if role != "source"
        }

    def factor(self, role: str) -> float:
        return self.factors.get(role, 1.0)

    def lookups(self) -> list[str]:
        """Names looked up as definitions: code-like identifiers, and a short query's words."""
        plain = [i for i in self.idents if i.lower() not in STOP_WORDS]
        return [i for i in plain if len(plain) == 1 or _CODE_LIKE.search(i)][:8]

    def receiver_call(self, ident: str) -> bool:
        """Whether a dotted ``ident`` may name a method through a variable (``app.listen`` for
        Application.listen, "the container was not recorded"): alone or in a short query, or
        called (``res.json({...})``) — not a file's name, nor a dotted word in prose ("the
        counter from index.db" is no definition of every ``db``)."""
        if ident in self.file_names:
            return False
        if len(self.required) < PROSE_MIN:
            return True
        return re.search(re.escape(ident) + r"\s*\(", self.text) is not None

    def qualified(self) -> list[tuple[str, str]]:
        """A few plain words read as a container's words then its member's (``engine serve
        http`` → (engine, serve_http), (engine_serve, http)): every split, with the stop words
        (``config from envvar`` → (config, from_envvar)) and without them."""
        if any(_CODE_LIKE.search(i) for i in self.idents):
            return []
        out: list[tuple[str, str]] = []
        for words in (self.terms, self.required):
            if 2 <= len(words) <= QUALIFIED_MAX:
                out.extend(("_".join(words[:k]), "_".join(words[k:])) for k in range(1, len(words)))
        return list(dict.fromkeys(out))

    def groups(self) -> list[str]:
        """FTS5 groups, one per required identifier or word: an identifier matches as itself or
        as all of its words (``ServeHTTP`` → ``servehttp`` or ``serve AND http``)."""
        out: list[str] = []
        covered: set[str] = set()
        for ident in self.idents:
            parts = split_identifier(ident)
            if len(parts) < 2 or not any(p in self.required for p in parts):
                continue
            words = " AND ".join(_quote(p) for p in dict.fromkeys(parts))
            if re.fullmatch(r"[A-Za-z0-9]+", ident):  # camelCase: also one token as written
                out.append(f"({_quote(ident.lower())} OR ({words}))")
            else:
                out.append(f"({words})")
            covered.update(parts)
        out.extend(_quote(t) for t in self.required if t not in covered)
        return out


def _run(db: Database, sql: str, match: str, limit: int) -> list[tuple[int, float]]:
    return [(r["id"], r["score"]) for r in db.conn().execute(sql, (match, limit))]


def _run_paths(db: Database, sql: str, match: str, limit: int) -> list[tuple[int, float, str]]:
    return [(r["id"], r["score"], r["path"]) for r in db.conn().execute(sql, (match, limit))]


_PATH_PARTS = re.compile(r"[/._\-\s]+")
PATH_BOOST = 0.6  # per query word that names the file or one of its folders
RERANK = 3  # text candidates fetched per result wanted, for the path boost to reorder


_NAMED_FILES_SQL = (
    "SELECT r.file_id, r.role, f.filepath FROM file_roles r JOIN files f ON f.id = r.file_id "
    "WHERE r.stem = ?"
)


def _named_files(db: Database, q: _Query) -> dict[str, list[tuple[int, str]]]:
    """The query's dotted identifiers that are the name of a documented file (any letter case),
    with those files' (id, role)."""
    out: dict[str, list[tuple[int, str]]] = {}
    for ident in q.idents:
        if "." not in ident:
            continue
        name = ident.lower()
        files = [
            (file_id, role)
            for file_id, role, path in db.conn().execute(_NAMED_FILES_SQL, (file_stem(ident),))
            if path.rsplit("/", 1)[-1].lower() == name
        ]
        if files:
            out[ident] = files
    return out


def _path_words(q: _Query, path: str) -> list[str]:
    """The query's words that name the file or a folder on its path (``setup: ...`` → setup.sh,
    ``tests/store: ...`` → tests/store/...): commit subjects and questions name the area."""
    words = _words_of_path(path)
    return [t for t in q.required if len(t) >= 3 and t.rstrip("s") in words]


@lru_cache(maxsize=65536)
def _words_of_path(path: str) -> frozenset[str]:
    """The words of a path's names, without a plural's s (``tests`` names ``test``)."""
    return frozenset(
        w.rstrip("s") for p in _PATH_PARTS.split(path) for w in split_identifier(p) if len(w) >= 3
    )


def search(db: Database, query: str, limit: int = 10) -> dict[str, Any]:
    """``search --json``'s object: ``{"query", "syntax", "results": [...]}``, best first."""
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise UsageError(f"--limit must be an integer from 1 to {MAX_LIMIT}, got {limit!r}")
    text = query.strip()
    if not text:
        raise UsageError("the search query is empty", hint='try e.g. cq-lsp search "parse invoice"')
    q = _Query(text)
    if is_fts_syntax(text) and (_EXPLICIT_FTS.search(text) or not q.terms):
        try:
            ranked = _run(db, _rank_sql(q.factors), text, limit)
        except sqlite3.OperationalError:
            pass  # not FTS5 after all (an unclosed quote, a pasted expression): plain words
        else:
            phrases = [" ".join(p.split()) for p in re.findall(r'"([^"]+)"', text)]
            words = phrases + [t for t in q.terms if t not in _FTS_WORDS]
            hits = {
                i: _Hit(0, _squash(sc), "fts", [f"FTS5 query, bm25 {sc:.2f}"]) for i, sc in ranked
            }
            return _finish(db, query, "fts", hits, limit, words)
    return _finish(db, query, "plain", _plain(db, q, limit), limit, q.terms)


def _squash(score: float) -> float:
    """A bm25 score (0..∞) as a strength inside a tier (0..1), order kept."""
    return max(score, 0.0) / (max(score, 0.0) + 10.0)


def _plain(db: Database, q: _Query, limit: int) -> dict[int, _Hit]:
    hits: dict[int, _Hit] = {}

    def offer(file_id: int, hit: _Hit) -> None:
        old = hits.get(file_id)
        if old is None or hit.key() > old.key():
            hits[file_id] = hit

    # 0. names of documented files: `results.py` is that file, not a member `py` of `results`
    named = _named_files(db, q)
    q.file_names = frozenset(named)
    for ident, files in named.items():
        for file_id, role in files:
            why = [f"the query names the file {ident}"]
            if q.factor(role) != 1.0:
                why.append(f"{role} file: ×{q.factor(role)}")
            offer(file_id, _Hit(1, 0.95 * q.factor(role), "path", why))
    # 1. definitions of the queried identifiers
    for ident in q.lookups():
        worst = 2 if q.receiver_call(ident) else 1
        for m in lookup(db, ident, limit=max(limit, 20), fuzzy=False, prefix=0, details=False):
            if m.tier > worst:
                break
            base = (1.0, 0.9, 0.8)[m.tier] * _KIND_WEIGHT.get(m.kind, 1.0)
            why = [f"defines {m.qualified} ({m.kind}, {m.how} match)"]
            if q.factor(m.role) != 1.0:
                why.append(f"{m.role} file: ×{q.factor(m.role)}")
            offer(m.file_id, _Hit(3, base * q.factor(m.role), "definition", why, m))
    # 2. definitions spelled with the query's words, or starting with them
    joined = "_".join(q.required)
    if len(normalize(joined)) >= 3:
        for m in lookup(
            db, joined, limit=max(limit, 20) * 2, fuzzy=False, prefix=4 * limit + 40, details=False
        ):
            if m.file_id in hits and hits[m.file_id].tier == 3:
                continue
            exactish = m.tier <= 3
            base = 0.9 if exactish else 0.7 * len(normalize(joined)) / max(len(m.name), 1)
            why = [f"symbol {m.qualified} ({m.kind}) {'is' if exactish else 'starts with'} "
                   f"the query's words"]  # fmt: skip
            if q.factor(m.role) != 1.0:
                why.append(f"{m.role} file: ×{q.factor(m.role)}")
            offer(m.file_id, _Hit(2, base * q.factor(m.role), "symbol", why, m))
    # 2b. a member named by its container's words and its own ("context json" → Context.JSON):
    # only where the container is the one named, as a dotted query finds it. Above a name of the
    # query's words (0.9 above): "router group handle" is RouterGroup.handle, not the class.
    for container, name in q.qualified():
        for m in members(db, container, name, limit=max(limit, 20)):
            why = [f"symbol {m.qualified} ({m.kind}) is the query's words"]
            if q.factor(m.role) != 1.0:
                why.append(f"{m.role} file: ×{q.factor(m.role)}")
            offer(m.file_id, _Hit(2, 0.92 * q.factor(m.role), "symbol", why, m))
    # 3. file names
    stems = {normalize(joined)} | {normalize(i) for i in q.lookups() if len(normalize(i)) >= 3}
    stems.discard("")
    # Plain words, one or many, a little below the name as typed: `bash completion` is
    # bash_completions.go, `util` utils.py, `request` requests.py; an identifier is as written
    # (`ginS` is no plural of gin).
    plain = normalize(joined) if not any(_CODE_LIKE.search(i) for i in q.idents) else ""
    other = (
        {plain[:-1] if plain.endswith("s") else plain + "s"} - stems if len(plain) >= 4 else set()
    )
    if stems:
        names = (*stems, *other)
        marks = ",".join("?" * len(names))
        for r in db.query(
            f"SELECT file_id, role, stem FROM file_roles WHERE stem IN ({marks})", names
        ):
            plural = r["stem"] in other
            why = ["file name is the query" + (" (one or many)" if plural else "")]
            if q.factor(r["role"]) != 1.0:
                why.append(f"{r['role']} file: ×{q.factor(r['role'])}")
            strength = (0.85 if plural else 0.9) * q.factor(r["role"])
            offer(r["file_id"], _Hit(1, strength, "path", why))
    # 4. weighted full text: every required term, then any term
    groups = q.groups()
    if not groups:
        return hits
    sql = _rank_sql(q.factors)
    want = (limit + len(hits)) * RERANK

    def text_hit(score: float, path: str, all_: bool) -> _Hit:
        named = _path_words(q, path)
        boosted = score * (1 + PATH_BOOST * min(len(named), 3))
        which = "all" if all_ else "some"
        why = [f"{which} of {', '.join(q.required)} in text (bm25F {score:.2f})"]
        if named:
            why.append(f"path names {', '.join(named)}: ×{1 + PATH_BOOST * min(len(named), 3):.1f}")
        strength = 0.5 + 0.5 * _squash(boosted) if all_ else 0.5 * _squash(boosted)
        return _Hit(0, strength, "all" if all_ else "any", why)

    # A long query (a sentence, a commit subject) is matched whole by the files that mention
    # everything (a changelog, the architecture notes), rarely by the one it is about: its words
    # are ranked by BM25F together, without an every-word stage first.
    all_terms = _run_paths(db, sql, " AND ".join(groups), want) if len(groups) <= MAX_ALL else []
    for i, sc, path in all_terms:
        offer(i, text_hit(sc, path, True))
    loose = [_quote(t) + ("*" if len(t) >= PREFIX_MIN else "") for t in q.required]
    # One short term: the looser query would be the same query again.
    if len(hits) < limit and (len(loose) > 1 or loose[0].endswith("*") or groups != loose):
        for i, sc, path in _run_paths(db, sql, " OR ".join(loose), want + len(all_terms)):
            offer(i, text_hit(sc, path, False))
    _definitions_in_text(db, q, hits, limit)
    return hits


# A definition the documenter did not list (a function nested in another, a handler assigned to
# a property): the keyword of a definition, or an assignment of a function, right before the name.
_DEF_KEYWORDS = (
    r"\b(?:def|class|function|func|fn|struct|interface|trait|enum|type|module|macro|sub|"
    r"const|let|var|val)"
)
_DEF_BEFORE = _DEF_KEYWORDS + r"\s+(?:\([^)\n]*\)\s*)?(?:[\w$]+\.)?"
_DEF_AFTER = r"(?:\s*[:=]\s*(?:async\s+)?(?:function\b|\([^)\n]*\)\s*=>|lambda\b))"
# Compiled once and tried at the places of the name: a pattern with the name in it cost 0.24 ms
# to compile, for every query.
_DEF_KEYWORD = re.compile(_DEF_KEYWORDS + r"\b")
_DEF_BEFORE_END = re.compile(_DEF_BEFORE + r"\Z")
_DEF_AFTER_AT = re.compile(_DEF_AFTER)
_DEF_HINT = re.compile(_DEF_KEYWORDS + r"\b|[:=]")  # a line that could define anything
_NOT_NAME = re.compile(r"[^\w$]")
_WORD_END = re.compile(r"\b")
DEF_REACH = 200  # characters from a definition's keyword to its name, at most
# Places of the name looked at in one file: a minified line holds 50,000 (a definition past
# them is not found in the text; the documenter's symbols still list it).
DEF_PLACES = 2000


def _definition_line(
    text: str, name: str, complete: bool = True
) -> tuple[bool, tuple[int, str] | None]:
    """(answered, (line, its text)) of the first line of ``text`` that defines ``name``;
    not answered when ``text`` is the start of a file (not ``complete``) without such a line.

    Only the lines holding the name are looked at, and on them only the places of the name
    (a keyword pattern run over a whole file cost 5 ms a file); a line without a keyword or an
    assignment in one scan."""
    pos = text.find(name)
    places = 0
    while pos >= 0:
        start = text.rfind("\n", 0, pos) + 1
        end = text.find("\n", pos)
        if end < 0 and not complete:
            return False, None  # the line goes on past what is inflated
        end = len(text) if end < 0 else end
        if _DEF_HINT.search(text, start, end) is not None:
            keywords = [m.start() for m in _DEF_KEYWORD.finditer(text, start, end)]
            while 0 <= pos < end:
                if _defines_at(text, name, pos, start, end, keywords):
                    return True, (text.count("\n", 0, start) + 1, text[start:end].strip()[:200])
                places += 1
                if places >= DEF_PLACES:
                    return True, None
                pos = text.find(name, pos + 1)
        pos = text.find(name, end)
    return complete, None


def _defines_at(text: str, name: str, pos: int, start: int, end: int, keywords: list[int]) -> bool:
    """Whether ``name`` at ``pos``, on the line ``text[start:end]`` whose definition keywords
    start at ``keywords``, is defined there: after a keyword (``def name``, ``func (c *C)
    name``), or assigned a function (``name = function``, ``name: lambda``)."""
    after = pos + len(name)
    near = bisect.bisect_left(keywords, pos - DEF_REACH)
    if (
        near < len(keywords)
        and keywords[near] < pos
        and _DEF_BEFORE_END.search(text, keywords[near], pos)
        and _WORD_END.match(text, after, end)
    ):
        return True
    before_ok = pos == start or _NOT_NAME.match(text, pos - 1) is not None
    return before_ok and _DEF_AFTER_AT.match(text, after, end) is not None


def _definitions_in_text(db: Database, q: _Query, hits: dict[int, _Hit], limit: int) -> None:
    """Promote text matches that define the one queried identifier to the definition tier."""
    names = q.lookups()
    if len(names) != 1 or names[0] in q.file_names or any(h.tier == 3 for h in hits.values()):
        return
    tail = re.split(r"\.|::|->|#", names[0])[-1]
    if len(tail) < 2:
        return
    text_hits = sorted(
        (kv for kv in hits.items() if kv[1].tier == 0), key=lambda kv: kv[1].strength, reverse=True
    )[: RERANK * limit]
    if not text_hits:
        return
    ids = _containing(db, tail, [i for i, _ in text_hits])
    if not ids:
        return
    marks = ",".join("?" * len(ids))
    rows = db.conn().execute(
        "SELECT f.id, f.filepath, c.z, c.text_at, coalesce(r.role, 'source') AS role FROM files f "
        "LEFT JOIN contents c ON c.file_id = f.id "
        f"LEFT JOIN file_roles r ON r.file_id = f.id WHERE f.id IN ({marks})",
        ids,
    )
    for row in rows:
        located = LazyText(row["z"], row["text_at"] or 0).find(
            lambda text, complete: _definition_line(text, tail, complete)
        )
        if located is None:
            continue
        line, signature = located
        found = Match(0, tail, "definition", row["filepath"], line, None, signature, "",
                      row["role"], row["id"])  # fmt: skip
        why = [f"defines {tail} at line {line} (in the text; not a listed symbol)"]
        factor = q.factor(row["role"])
        if factor != 1.0:
            why.append(f"{row['role']} file: ×{factor}")
        hits[row["id"]] = _Hit(3, 0.5 * factor, "definition", why, found)


def _containing(db: Database, name: str, ids: list[int]) -> list[int]:
    """The files among ``ids`` whose text has ``name``'s tokens in a row, by the FTS index.

    Every file that defines ``name`` has them (the tokenizer folds case and diacritics and stems,
    so it finds more, never fewer); the others need not be inflated to be looked through."""
    marks = ",".join("?" * len(ids))
    try:
        rows = db.conn().execute(
            f"SELECT rowid FROM files_fts WHERE files_fts MATCH ? AND rowid IN ({marks})",
            (f"full_content : {_quote(name)}", *ids),
        )
        return [r[0] for r in rows]
    except sqlite3.OperationalError:  # a name FTS5 cannot take as a phrase: look through all
        return ids


def _finish(
    db: Database, query: str, syntax: str, hits: dict[int, _Hit], limit: int, words: list[str]
) -> dict[str, Any]:
    ranked = sorted(hits.items(), key=lambda kv: kv[1].key(), reverse=True)[:limit]
    if not ranked:
        return {"query": query, "syntax": syntax, "mode": _mode(syntax), "results": []}
    ids = [i for i, _ in ranked]
    rows = {r["id"]: r for r in db.conn().execute(_ROWS_SQL.format(",".join("?" * len(ids))), ids)}
    highlighter = _highlighter(words)
    results = []
    for n, (rowid, hit) in enumerate(ranked):
        row = rows.get(rowid)
        if row is not None:  # None: deleted between the two statements
            results.append(_result(row, hit, highlighter, meet=n < MEET_RESULTS))
    out: dict[str, Any] = {"query": query, "syntax": syntax, "mode": _mode(syntax)}
    if syntax == "plain":
        out["terms"] = words
    out["results"] = results
    return out


def _mode(syntax: str) -> str:
    return "fts" if syntax == "fts" else "terms"  # the field's older name and values


def _result(
    row: Any, hit: _Hit, highlighter: Highlighter | None, meet: bool = True
) -> dict[str, Any]:
    """The one place a result's fields are assembled (a face adds its own, e.g. ``fresh``)."""
    content = LazyText(row["z"], row["text_at"] or 0)
    line: int | None = None
    snippet: str | None = None
    if hit.symbol is not None and row["z"] is not None:
        # The definition's own line: its offset is found by counting lines, once.
        found = content.find(_at_line(hit.symbol.line, highlighter))
        if found is not None:
            snippet, line = found[0], hit.symbol.line
    if snippet is None:
        # A file matched by some of the words only: its first match, not a search for where
        # they all meet (a scan per word of a text that lacks one).
        found, text = content.find(_first_match(highlighter, meet=meet and hit.match != "any"))
        if found is not None:
            snippet = found[0]
            line = text.count("\n", 0, found[1]) + 1
    if snippet is None:
        snippet = make_snippet(row["overview"], highlighter) or row["overview"] or ""
    score = hit.tier + min(hit.strength, 0.999999)
    return {
        "path": row["filepath"],
        "score": round(score, 6),
        "snippet": snippet,
        "overview": row["overview"],
        "line": line,
        "kind": TIER_NAMES[hit.tier],
        "symbol": hit.symbol.qualified if hit.symbol is not None else None,
        "why": hit.why,
        "language": row["language"],
        "match": hit.match,
    }


# Text a snippet may need past its offset: its window, and the rest of a match cut at the end.
_PAST = SNIPPET_CHARS + 200


def _at_line(
    line: int, highlighter: Highlighter | None
) -> Callable[[str, bool], tuple[bool, tuple[str, int] | None]]:
    """LazyText probe: the snippet at the start of ``line``, once that much text is there."""

    def probe(text: str, complete: bool) -> tuple[bool, tuple[str, int] | None]:
        offset = _line_offset(text, line)
        if offset is None or (not complete and offset + _PAST >= len(text)):
            return complete, None
        return True, snippet_at(text, highlighter, offset)

    return probe


def _first_match(
    highlighter: Highlighter | None, meet: bool = True
) -> Callable[[str, bool], tuple[bool, tuple[tuple[str, int] | None, str]]]:
    """LazyText probe: the snippet at the best match (``_locate``), once its window is there
    and no more text could give a better one (with the text it was found in, for its line)."""

    def probe(text: str, complete: bool) -> tuple[bool, tuple[tuple[str, int] | None, str]]:
        m, full = _locate(text, highlighter, meet) if text and highlighter else (None, False)
        if m is None:
            return complete, (None, text)
        at = m.start()
        if not complete and (at + _PAST >= len(text) or (not full and len(text) < MEET_CHARS)):
            return False, (None, text)
        return True, ((_window(text, at, highlighter), at), text)

    return probe


# Text counted in C per step while seeking a line: a line at a time in Python cost 0.35 ms for a
# definition 3,000 lines down (a tenth of the search time on CPython's Lib/ went there).
_COUNT_STEP = 4096


def _line_offset(text: str, line: int) -> int | None:
    """Where 1-based ``line`` starts in ``text`` (None past its end)."""
    want, pos = line - 1, 0  # newlines still to pass, from pos
    while want > 32:
        end = pos + _COUNT_STEP
        n = text.count("\n", pos, end)
        if n >= want or end >= len(text):
            break
        want, pos = want - n, end
    for _ in range(want):
        pos = text.find("\n", pos) + 1
        if pos == 0:
            return None
    return pos
