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

from cq_lsp.db import FTS_COLUMNS, Database
from cq_lsp.errors import SearchSyntaxError, UsageError
from cq_lsp.identifiers import query_terms

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
_CONTENT_COL = FTS_COLUMNS.index("full_content")
_OVERVIEW_COL = FTS_COLUMNS.index("overview")
# ``column:`` counts as syntax only for a real column name: a pasted "error: connection refused"
# or "std::vector" is plain text, not a filter on a column that does not exist.
_FTS_SYNTAX = re.compile(
    r'["*^(){}]|\b(?:AND|OR|NOT|NEAR)\b|\b(?i:' + "|".join(FTS_COLUMNS) + r")\s*:"
)
# Signs the user meant FTS5 (so a malformed query is reported rather than searched as words).
_EXPLICIT_FTS = re.compile(
    r'["*^]|\b(?:AND|OR|NOT|NEAR)\b|\b(?i:' + "|".join(FTS_COLUMNS) + r")\s*:"
)
MAX_LIMIT = 500
OPEN, CLOSE = "«", "»"

_SQL = f"""
SELECT f.filepath AS path, f.overview AS overview, f.language AS language,
       -{_BM25} AS score,
       snippet(files_fts, {_CONTENT_COL}, '{OPEN}', '{CLOSE}', '…', 16) AS s_content,
       snippet(files_fts, {_OVERVIEW_COL}, '{OPEN}', '{CLOSE}', '…', 16) AS s_overview,
       f.id AS id
FROM files_fts JOIN files f ON f.id = files_fts.rowid
WHERE files_fts MATCH ?
ORDER BY {_BM25}
LIMIT ?
"""


def is_fts_syntax(query: str) -> bool:
    return bool(_FTS_SYNTAX.search(query))


def _quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _run(db: Database, match: str, limit: int) -> list[sqlite3.Row]:
    return db.conn().execute(_SQL, (match, limit)).fetchall()


def _result(row: sqlite3.Row, match: str) -> dict[str, Any]:
    snippet = row["s_content"] if OPEN in (row["s_content"] or "") else None
    if snippet is None:
        snippet = row["s_overview"] if OPEN in (row["s_overview"] or "") else row["overview"]
    return {
        "path": row["path"],
        "score": round(float(row["score"]), 6),
        "snippet": " ".join((snippet or "").split()),
        "overview": row["overview"],
        "language": row["language"],
        "match": match,
    }


def search(db: Database, query: str, limit: int = 10) -> dict[str, Any]:
    """``search --json``'s object: ``{"query", "results": [{path, score, snippet, overview}]}``."""
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise UsageError(f"--limit must be an integer from 1 to {MAX_LIMIT}, got {limit!r}")
    text = query.strip()
    if not text:
        raise UsageError("the search query is empty", hint='try e.g. cq-lsp search "parse invoice"')
    if is_fts_syntax(text):
        try:
            rows = _run(db, text, limit)
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
        return {"query": query, "mode": "fts", "results": [_result(r, "fts") for r in rows]}

    return _terms_search(db, query, text, limit)


def _terms_search(db: Database, query: str, text: str, limit: int) -> dict[str, Any]:
    terms = query_terms(text)
    if not terms:
        return {"query": query, "mode": "terms", "results": []}
    rows = _run(db, " AND ".join(_quote(t) for t in terms), limit)
    results = [_result(r, "all") for r in rows]
    if len(results) < limit:
        seen = {r["id"] for r in rows}
        # The fallback is looser: any term, and long terms as prefixes (invoice → invoices).
        anyq = " OR ".join(_quote(t) + ("*" if len(t) >= 4 else "") for t in terms)
        for r in _run(db, anyq, limit + len(seen)):
            if r["id"] not in seen and len(results) < limit:
                results.append(_result(r, "any"))
    return {"query": query, "mode": "terms", "terms": terms, "results": results}
