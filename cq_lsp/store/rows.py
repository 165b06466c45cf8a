"""How a documented file is laid out in index.db's rows: its symbols (kinds as codes, a method's
class as its row), the JSON columns, one compressed frame in `contents` (its symbols' details, FTS
words and text), and its files_fts entry — written and taken out together, inside the caller's
write transaction (db.Database owns it)."""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any, NamedTuple

from cq_lsp.store.codec import compress, decode, encode, inflate, inflate_head
from cq_lsp.store.identifiers import normalize

#: Separators of a qualified name as languages write them: Engine.ServeHTTP, fmt::Println,
#: Foo#bar (Ruby docs), Foo->bar (PHP).
QUALIFIED_NAME = re.compile(r"\s*(?:\.|::|#|->)\s*")

# Column order of files_fts; bm25 weights in search.py follow it.
FTS_COLUMNS = (
    "filepath",
    "filename",
    "symbols",
    "overview",
    "functions",
    "types_interfaces_classes",
    "exports",
    "constants",
    "imports",
    "dependencies",
    "other_notes",
    "ddd_context",
    "full_content",
)

INSERT_SYMBOL_SQL = (
    "INSERT INTO symbols (file_id, seq, name, norm, kind, line, container, parent) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
#: The columns a symbol is read with (alias ``s``, after FROM symbols s SYMBOL_PARENT_JOIN):
#: decode ``kind`` with kind_name.
SYMBOL_COLUMNS = "s.name, s.kind, s.line, coalesce(s.container, p.name) AS container, s.seq"
SYMBOL_PARENT_JOIN = "LEFT JOIN symbols p ON p.file_id = s.file_id AND p.seq = s.parent"
#: Symbol kinds stored as their place here (an integer byte instead of the word). Append only:
#: indexes hold these positions.
KINDS = (
    "function", "method", "class", "struct", "interface", "enum", "type", "module", "constant",
    "variable", "macro", "field", "export", "heading", "key", "target", "table", "stage",
    "trait", "symbol",
)  # fmt: skip
_KIND_CODE = {k: i for i, k in enumerate(KINDS)}


def kind_code(kind: str) -> int | str:
    """What symbols.kind holds for ``kind``."""
    return _KIND_CODE.get(kind, kind)


def kind_name(value: Any) -> str:
    """The kind a symbols.kind value stands for."""
    if isinstance(value, int) and 0 <= value < len(KINDS):
        return KINDS[value]
    return str(value)


#: A symbol's normalized name (identifiers.normalize) in SQL: the expression symbols_norm
#: indexes, which queries must spell the same for the index to serve them (alias ``s``).
SYMBOL_NORM = "coalesce(s.norm, lower(s.name))"
#: The files columns holding JSON text (code-query's readable fields).
JSON_COLUMNS = (
    "functions",
    "exports",
    "imports",
    "types_interfaces_classes",
    "constants",
    "dependencies",
    "other_notes",
)


def json_text(value: Any) -> str:
    """A files JSON column's text: compact separators (json.dumps' default spaces were 7% of
    those columns), still JSON any reader parses."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def stored_norm(name: str, norm: str) -> str | None:
    """What symbols.norm holds: NULL where SQLite's lower(name) — ASCII only — gives ``norm``."""
    return None if name.isascii() and norm == name.lower() else norm


INSERT_ROLE_SQL = "INSERT OR REPLACE INTO file_roles (file_id, role, stem) VALUES (?, ?, ?)"


def symbol_rows(
    file_id: int, symbols: list[dict[str, Any]]
) -> tuple[list[tuple[Any, ...]], list[list[str]]]:
    """``symbols`` rows of one file, from a record's symbol dicts (malformed entries skipped),
    and their [signature, doc] pairs in the same order (for ``pack_contents``)."""
    entries: list[tuple[str, str, int, str | None, list[str]]] = []
    for s in symbols:
        name = s.get("name") if isinstance(s, dict) else None
        if not isinstance(name, str) or not name:
            continue
        line = s.get("line")
        container = s.get("container")
        entries.append(
            (
                name,
                str(s.get("kind") or "symbol"),
                line if isinstance(line, int) and not isinstance(line, bool) and line > 0 else 1,
                container if isinstance(container, str) and container else None,
                [str(s.get("signature") or ""), str(s.get("doc") or "")],
            )
        )
    # Containers the file defines at its top level are stored as that symbol's seq; a qualified
    # one (a TOML table `tool.codespell`) stays text, which symbols.members compares by its last
    # part without reading every definition of the member's name.
    tops: dict[str, int] = {}
    for seq, (name, _, _, container, _) in enumerate(entries):
        if container is None:
            tops.setdefault(name, seq)
    rows: list[tuple[Any, ...]] = []
    for seq, (name, kind, line, container, _) in enumerate(entries):
        qualified = container is not None and QUALIFIED_NAME.search(container) is not None
        parent = tops.get(container) if container is not None and not qualified else None
        rows.append(
            (
                file_id,
                seq,
                name,
                stored_norm(name, normalize(name)),
                kind_code(kind),
                line,
                container if parent is None else None,
                parent,
            )
        )
    details = [entry[4] for entry in entries]
    return rows, details


class Contents(NamedTuple):
    """A file's `contents` row: one Zstandard frame of its symbols' details (compact JSON, the
    [signature, doc] of each symbols row in `seq` order), its FTS words and its text, UTF-8, in
    that order; ``words_at`` and ``text_at`` are the byte offsets where the last two begin.

    One frame, not three: the words and signatures are mostly the text's own substrings, which
    Zstandard then stores as references (0.79 MB less on CPython's Lib/, 8.64 → 7.85 MB). The
    details come first so a symbol answer inflates only the head of a large file."""

    z: bytes
    words_at: int
    text_at: int


def pack_contents(text: str, words: str, details: list[list[str]]) -> Contents:
    """A file's `contents` row (compressed here, outside the write lock)."""
    defs, vocab = encode(json_text(details)), encode(words)
    return Contents(compress(defs + vocab + encode(text)), len(defs), len(defs) + len(vocab))


def unpack_contents(z: bytes, words_at: int, text_at: int) -> tuple[str, str]:
    """The (text, words) of a `contents` row."""
    frame = inflate(z)
    return decode(frame[text_at:]), decode(frame[words_at:text_at])


def text_of(z: bytes | None, text_at: int | None) -> str:
    """The text of a `contents` row ("" for a file without one)."""
    return decode(inflate(z)[text_at or 0 :]) if z is not None else ""


def store_contents(conn: sqlite3.Connection, file_id: int, contents: Contents) -> None:
    """Inside a write transaction, before index_fts: replace a file's `contents` row."""
    conn.execute(
        "INSERT OR REPLACE INTO contents (file_id, z, words_at, text_at) VALUES (?, ?, ?, ?)",
        (file_id, *contents),
    )


def store_symbols(conn: sqlite3.Connection, file_id: int, rows: list[tuple[Any, ...]]) -> None:
    """Inside a write transaction: replace a file's symbols rows (``symbol_rows`` without their
    file id; their details go in its `contents`, written with them)."""
    conn.execute("DELETE FROM symbols WHERE file_id = ?", (file_id,))
    conn.executemany(INSERT_SYMBOL_SQL, [(file_id, *row) for row in rows])


def symbol_details(conn: sqlite3.Connection, file_ids: list[int]) -> dict[int, list[Any]]:
    """The [signature, doc] pairs of each file's symbols, by file id, in ``seq`` order."""
    out: dict[int, list[Any]] = {}
    for start in range(0, len(file_ids), 500):
        chunk = file_ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for file_id, z, words_at in conn.execute(
            f"SELECT file_id, z, words_at FROM contents WHERE file_id IN ({marks})", chunk
        ):
            try:
                value = json.loads(decode(inflate_head(z, words_at)[:words_at]) or "[]")
            except ValueError:
                value = []
            out[file_id] = value if isinstance(value, list) else []
    return out


def detail_of(details: list[Any], seq: int) -> tuple[str, str]:
    """(signature, doc) of a symbol from its file's ``symbol_details`` ("" where absent)."""
    pair = details[seq] if 0 <= seq < len(details) else None
    if isinstance(pair, list) and len(pair) == 2:
        return str(pair[0] or ""), str(pair[1] or "")
    return "", ""


# The values FTS5 indexes, in FTS_COLUMNS order: files' columns, but the text and the words
# from `contents` (the last three columns selected).
_FROM_CONTENTS = ("full_content", "symbols")
_FTS_SOURCE_SQL = (
    "SELECT "
    + ", ".join("NULL" if col in _FROM_CONTENTS else f"f.{col}" for col in FTS_COLUMNS)
    + ", c.z, c.words_at, c.text_at"
    + " FROM files f LEFT JOIN contents c ON c.file_id = f.id WHERE f.id = ?"
)
_FTS_INSERT_SQL = (
    f"INSERT INTO files_fts (rowid, {', '.join(FTS_COLUMNS)}) "
    f"VALUES (?, {', '.join('?' * len(FTS_COLUMNS))})"
)
_FTS_DELETE_SQL = (
    f"INSERT INTO files_fts (files_fts, rowid, {', '.join(FTS_COLUMNS)}) "
    f"VALUES ('delete', ?, {', '.join('?' * len(FTS_COLUMNS))})"
)
_CONTENT_AT = FTS_COLUMNS.index("full_content")
_WORDS_AT = FTS_COLUMNS.index("symbols")


def _fts_values(
    conn: sqlite3.Connection, file_id: int, *, inflated: bool = True
) -> list[Any] | None:
    row = conn.execute(_FTS_SOURCE_SQL, (file_id,)).fetchone()
    if row is None:
        return None
    values, (z, words_at, text_at) = list(row[: len(FTS_COLUMNS)]), row[len(FTS_COLUMNS) :]
    if inflated and z is not None:
        values[_CONTENT_AT], values[_WORDS_AT] = unpack_contents(z, words_at, text_at)
    return values


def index_fts(
    conn: sqlite3.Connection, file_id: int, stored: tuple[str, str] | None = None
) -> None:
    """Inside a write transaction: put a written files row and its text into files_fts.

    ``stored``: the (text, words) just stored (store_contents), which spares inflating them
    again; they must be what `contents` holds, since unindex_fts later hands FTS5 the stored
    ones."""
    values = _fts_values(conn, file_id, inflated=stored is None)
    if values is not None:
        if stored is not None:
            values[_CONTENT_AT], values[_WORDS_AT] = stored
        conn.execute(_FTS_INSERT_SQL, (file_id, *values))


def unindex_fts(conn: sqlite3.Connection, file_id: int) -> None:
    """Inside a write transaction, before the row or its text changes: take it out of files_fts.

    A contentless FTS5 table removes a row's tokens only when given the values it indexed;
    deleting by rowid alone would leave them searchable."""
    values = _fts_values(conn, file_id)
    if values is not None:
        conn.execute(_FTS_DELETE_SQL, (file_id, *values))


def delete_files(conn: sqlite3.Connection, where: str, params: tuple[Any, ...]) -> int:
    """Inside a write transaction: delete the files rows matching ``where`` (a condition on
    files' columns), their FTS entries, text, symbols and roles. The number deleted."""
    ids = [r[0] for r in conn.execute(f"SELECT id FROM files WHERE {where}", params).fetchall()]
    for file_id in ids:
        unindex_fts(conn, file_id)
        conn.execute("DELETE FROM files WHERE id = ?", (file_id,))
    return len(ids)
