"""Ranked search over the index: natural language and identifiers, or raw FTS5 for power users.

A plain query is split into terms (identifiers into their words). Files matching ALL terms come
first; if that leaves room, files matching ANY term (prefix-matched) follow, so a query is never
empty while one of its terms matches. A query using FTS5 syntax (quotes, ``*``, ``AND``/``OR``/
``NOT``/``NEAR``, ``column:``, parentheses) goes to SQLite as written.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any

from cq_lsp.errors import SearchSyntaxError, UsageError
from cq_lsp.store.db import FTS_COLUMNS, Database
from cq_lsp.store.identifiers import identifier_phrases, query_terms

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
# Signs the user meant FTS5 (so a malformed query is reported rather than searched as words).
_EXPLICIT_FTS = re.compile(
    r'["*^]|\b(?:AND|OR|NOT|NEAR)\b|\b(?i:' + "|".join(FTS_COLUMNS) + r")\s*:"
)
_FTS_WORDS = frozenset({"and", "or", "not", "near", *FTS_COLUMNS})
MAX_LIMIT = 500
# The any-term fallback matches terms of this many letters as prefixes (invoice → invoices).
# Shorter ones stay exact: "test"* alone expands to thousands of words in CPython's Lib/
# (testcase, testing, ...) and cost 12 ms to rank, the whole p99 budget's half.
PREFIX_MIN = 5
OPEN, CLOSE = "«", "»"

# Rank inside the FTS table alone: snippet() here would run for EVERY matching row before the
# LIMIT, re-reading each whole file (900 ms for a common term on CPython's Lib/). Snippets are made
# in Python for the top rows only.
_RANK_SQL = f"""
SELECT rowid AS id, -{_BM25} AS score FROM files_fts
WHERE files_fts MATCH ? ORDER BY {_BM25} LIMIT ?
"""
_ROWS_SQL = "SELECT id, filepath, overview, language, full_content FROM files WHERE id IN ({})"
SNIPPET_CHARS = 160


class Highlighter:
    """Marks query terms where a word or a camelCase hump starts, in any letter case.

    A term with spaces is a quoted phrase: it is marked whole, across any run of whitespace.
    """

    # Word start: no ASCII letter or digit before it, or a lower-to-upper hump (parseInvoice).
    _START = r"(?:(?<![A-Za-z0-9])|(?<=[a-z0-9])(?=[A-Z]))"

    def __init__(self, words: list[str]) -> None:
        alternatives = "|".join(r"\s+".join(map(re.escape, w.split())) for w in words)
        self.pattern = re.compile(self._START + "(?i:" + alternatives + ")")
        # The bare terms: a plain case-insensitive scan that finds where to try ``pattern``.
        self._finder = re.compile(alternatives, re.IGNORECASE)

    def first(self, text: str) -> re.Match[str] | None:
        """The first match in ``text``.

        ``pattern.search`` evaluates the lookbehinds at every position: 30-60 ms on the 750 KB
        of pydoc_data/topics.py. Scanning for the bare terms and checking each hit with
        ``pattern.match`` finds the same match in a fraction of that.
        """
        pos = 0
        while True:
            hit = self._finder.search(text, pos)
            if hit is None:
                return None
            m = self.pattern.match(text, hit.start())
            if m is not None:
                return m
            pos = hit.start() + 1


def _highlighter(terms: list[str]) -> Highlighter | None:
    words = sorted({t for t in terms if t}, key=len, reverse=True)
    return Highlighter(words) if words else None


def make_snippet(text: str | None, highlighter: Highlighter | None) -> str | None:
    """A window of ``text`` around the first match, every match marked «like this»."""
    if not text or highlighter is None:
        return None
    m = highlighter.first(text)
    if m is None:
        return None
    start = max(0, m.start() - 50)
    end = min(len(text), start + SNIPPET_CHARS)
    window = highlighter.pattern.sub(lambda x: f"{OPEN}{x.group(0)}{CLOSE}", text[start:end])
    return ("…" if start else "") + " ".join(window.split()) + ("…" if end < len(text) else "")


def is_fts_syntax(query: str) -> bool:
    return bool(_FTS_SYNTAX.search(query))


def _quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _run(db: Database, match: str, limit: int) -> list[tuple[int, float]]:
    conn = db.conn()
    return [(r["id"], r["score"]) for r in conn.execute(_RANK_SQL, (match, limit))]


def _results(
    db: Database, ranked: list[tuple[int, float]], match: str, terms: list[str]
) -> list[dict[str, Any]]:
    if not ranked:
        return []
    ids = [i for i, _ in ranked]
    sql = _ROWS_SQL.format(",".join("?" * len(ids)))
    rows = {r["id"]: r for r in db.conn().execute(sql, ids)}
    pattern = _highlighter(terms)
    out = []
    for rowid, score in ranked:
        row = rows.get(rowid)
        if row is None:  # deleted between the two statements
            continue
        snippet = make_snippet(row["full_content"], pattern)
        if snippet is None:
            snippet = make_snippet(row["overview"], pattern) or row["overview"] or ""
        out.append(
            {
                "path": row["filepath"],
                "score": round(float(score), 6),
                "snippet": snippet,
                "overview": row["overview"],
                "language": row["language"],
                "match": match,
            }
        )
    return out


def search(db: Database, query: str, limit: int = 10) -> dict[str, Any]:
    """``search --json``'s object: ``{"query", "results": [{path, score, snippet, overview}]}``."""
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise UsageError(f"--limit must be an integer from 1 to {MAX_LIMIT}, got {limit!r}")
    text = query.strip()
    if not text:
        raise UsageError("the search query is empty", hint='try e.g. cq-lsp search "parse invoice"')
    if is_fts_syntax(text):
        try:
            ranked = _run(db, text, limit)
        except sqlite3.OperationalError as exc:
            # `parseInvoice()` or `foo(` is someone pasting code, not FTS5: search its words.
            # Quotes or operators mean the user meant FTS5, so they hear what was wrong.
            if not _EXPLICIT_FTS.search(text) and query_terms(text):
                return _terms_search(db, query, text, limit)
            raise SearchSyntaxError(
                f"invalid search syntax in {text!r}: {str(exc).removeprefix('fts5: ')}",
                hint='quote the whole query as a phrase ("...") or drop the special characters '
                '(* " ^ : ( ) AND OR NOT NEAR)',
            ) from None
        phrases = [" ".join(p.split()) for p in re.findall(r'"([^"]+)"', text)]
        words = phrases + [t for t in query_terms(text) if t not in _FTS_WORDS]
        return {"query": query, "mode": "fts", "results": _results(db, ranked, "fts", words)}

    return _terms_search(db, query, text, limit)


def _terms_search(db: Database, query: str, text: str, limit: int) -> dict[str, Any]:
    terms = query_terms(text)
    # One-letter words (the `n` of `nLine`) match most files and only slow the query down.
    terms = [t for t in terms if len(t) > 1] or terms
    if not terms:
        return {"query": query, "mode": "terms", "results": []}
    results: list[dict[str, Any]] = []
    seen: set[int] = set()
    phrases = identifier_phrases(text)
    if phrases:
        # A pasted identifier first matches as itself: its words in order, digits included.
        exact = _run(db, " AND ".join(_quote(" ".join(p)) for p in phrases), limit)
        results = _results(db, exact, "identifier", terms)
        seen = {i for i, _ in exact}
    if len(results) < limit:
        ranked = [
            (i, sc)
            for i, sc in _run(db, " AND ".join(_quote(t) for t in terms), limit + len(seen))
            if i not in seen
        ]
        results.extend(_results(db, ranked[: limit - len(results)], "all", terms))
        seen |= {i for i, _ in ranked}
    prefixed = [_quote(t) + ("*" if len(t) >= PREFIX_MIN else "") for t in terms]
    # One short term: the looser query would be the same query again.
    if len(results) < limit and (len(terms) > 1 or prefixed[0].endswith("*")):
        # The fallback is looser: any term, and longer terms as prefixes (invoice → invoices).
        anyq = " OR ".join(prefixed)
        more = [(i, sc) for i, sc in _run(db, anyq, limit + len(seen)) if i not in seen]
        results.extend(_results(db, more[: limit - len(results)], "any", terms))
    return {"query": query, "mode": "terms", "terms": terms, "results": results}
