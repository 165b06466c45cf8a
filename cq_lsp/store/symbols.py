"""Definition lookup over the ``symbols`` rows: ``cq-lsp symbol``, ``cq.symbol``, MCP
``find_symbol``, workspace/symbol, hover, and the definition tier of search.

Matches come in tiers, best first: the exact name (case-sensitive, then in any letter case), a
dotted name (``Engine.ServeHTTP``, ``app.listen``, ``fmt::Println``) by its container, the same
words in another spelling (``parse_invoice`` for ``parseInvoice``), a prefix, a substring, then a
fuzzy subsequence. Within a tier a source file's definition comes before a test's (the role
priors of search), types and functions before methods, short names before long ones.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from cq_lsp.store.db import Database
from cq_lsp.store.identifiers import ROLE_PRIOR, normalize
from cq_lsp.store.rows import (
    QUALIFIED_NAME,
    SYMBOL_COLUMNS,
    SYMBOL_NORM,
    SYMBOL_PARENT_JOIN,
    detail_of,
    kind_name,
    symbol_details,
)

_KIND_ORDER = {
    "class": 0, "struct": 0, "interface": 0, "enum": 0, "type": 0, "trait": 0, "function": 0,
    "module": 1, "method": 1, "macro": 1, "constant": 2, "export": 2, "variable": 3, "field": 3,
}  # fmt: skip

TIERS = ("exact", "exact-nocase", "dotted", "same-words", "prefix", "substring", "fuzzy")

_SELECT = (
    f"SELECT {SYMBOL_COLUMNS}, f.filepath, s.file_id, coalesce(r.role, 'source') AS role "
    f"FROM symbols s {SYMBOL_PARENT_JOIN} "
    "JOIN files f ON f.id = s.file_id LEFT JOIN file_roles r ON r.file_id = s.file_id "
)
# Prefix and substring scans stop here: a one-letter prefix matches half the index.
_SCAN_CAP = 2000


class Match(NamedTuple):
    """One definition found, with how it matched (the ``why`` of search)."""

    tier: int  # index into TIERS
    name: str
    kind: str
    path: str
    line: int
    container: str | None
    signature: str
    doc: str
    role: str
    file_id: int
    seq: int = -1  # its place in the file's symbols (the key of its signature and doc)

    @property
    def how(self) -> str:
        return TIERS[self.tier]

    @property
    def qualified(self) -> str:
        return f"{self.container}.{self.name}" if self.container else self.name

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "path": self.path,
            "line": self.line,
            "container": self.container,
            "signature": self.signature,
            "doc": self.doc,
        }

    def order(self) -> tuple[Any, ...]:
        return (
            self.tier,
            -ROLE_PRIOR.get(self.role, 1.0),
            _KIND_ORDER.get(self.kind, 2),
            len(self.name),
            self.path,
            self.line,
        )


def _match(row: Any, tier: int) -> Match:
    return Match(
        tier=tier,
        name=row["name"],
        kind=kind_name(row["kind"]),
        path=row["filepath"],
        line=row["line"],
        container=row["container"],
        signature="",
        doc="",
        role=row["role"],
        file_id=row["file_id"],
        seq=row["seq"],
    )


def with_details(db: Database, matches: list[Match]) -> list[Match]:
    """``matches`` with their signature and doc, read for these files only (their `contents`
    head)."""
    details = symbol_details(db.conn(), sorted({m.file_id for m in matches if m.seq >= 0}))
    out = []
    for m in matches:
        if m.seq >= 0:
            signature, doc = detail_of(details.get(m.file_id, []), m.seq)
            m = m._replace(signature=signature, doc=doc)
        out.append(m)
    return out


_MEMBER_SQL = (
    f"SELECT {SYMBOL_COLUMNS}, f.filepath, s.file_id, coalesce(r.role, 'source') AS role "
    # CROSS JOIN: from the few definitions of the container, not the many of a common name.
    "FROM symbols p CROSS JOIN symbols s ON s.file_id = p.file_id AND s.parent = p.seq "
    "JOIN files f ON f.id = s.file_id LEFT JOIN file_roles r ON r.file_id = s.file_id "
    f"WHERE coalesce(p.norm, lower(p.name)) IN (?, ?) AND {SYMBOL_NORM} = ?"
)
# Definitions whose container is text only: one the file does not define (Go's methods of a
# type declared in another file) or a qualified one (a TOML table `package.metadata.deb`,
# matched by its last part; rows.symbol_rows keeps those as text).
_TEXT_CONTAINER_SQL = (
    f"SELECT s.file_id, s.seq, s.container FROM symbols s "
    f"WHERE {SYMBOL_NORM} = ? AND s.container IS NOT NULL"
)


def members(db: Database, container: str, name: str, limit: int = 20) -> list[Match]:
    """Definitions of ``name`` in ``container``, both in any spelling (``engine``, ``serve_http``
    → Engine.ServeHTTP; ``gin.Engine``), best first: what ``lookup`` finds for a dotted name in
    its first two tiers, read from the container's side — a common name (``test``: hundreds of
    definitions in CPython's Lib/) would have every definition read to compare its container."""
    whole, wanted, norm = (
        normalize(container),
        normalize(QUALIFIED_NAME.split(container)[-1]),
        normalize(name),
    )
    if not wanted or not norm or limit < 1:
        return []
    conn = db.conn()
    found = [
        _match(r, 0 if r["name"] == name else 1)
        for r in conn.execute(_MEMBER_SQL, (whole, wanted, norm))
    ]
    for file_id, seq, text in conn.execute(_TEXT_CONTAINER_SQL, (norm,)).fetchall():
        # Every match holds the container's letters in a row: one normalize first (the whole
        # comparison, 3.7 µs a row, made "unit test" 1 ms slower).
        if wanted in normalize(text) and _container_matches(text, container):
            row = conn.execute(_SELECT + "WHERE s.file_id = ? AND s.seq = ?", (file_id, seq))
            found += [_match(r, 0 if r["name"] == name else 1) for r in row]
    return sorted(found, key=Match.order)[:limit]


def _container_matches(container: str | None, head: str) -> bool:
    """``Engine`` matches container ``Engine``, ``*Engine``, ``gin.Engine``; any letter case."""
    if not container:
        return False
    parts = [normalize(p) for p in QUALIFIED_NAME.split(container) if p]
    want = normalize(QUALIFIED_NAME.split(head)[-1])
    return bool(parts) and (parts[-1] == want or normalize(container) == normalize(head))


def lookup(
    db: Database,
    query: str,
    *,
    kind: str | None = None,
    limit: int = 20,
    fuzzy: bool = True,
    prefix: int = _SCAN_CAP,
    details: bool = True,
) -> list[Match]:
    """Definitions of ``query``, best first (see the module's docstring for the tiers).

    ``prefix``: how many prefix matches to read at most (0: none; search's definition tier
    wants exact names only, and a one-letter prefix matches half the index). ``details``: read
    the matches' signatures and docs (search shows neither)."""
    text = query.strip().strip("()[]{};,:'\"`")
    if not text or limit < 1:
        return []
    parts = [p for p in QUALIFIED_NAME.split(text) if p]
    if not parts:
        return []
    tail = parts[-1]
    head = ".".join(parts[:-1])
    norm = normalize(tail)
    if not norm:
        return []
    found: dict[tuple[int, str, int], Match] = {}

    def add(m: Match) -> None:
        if kind is not None and m.kind != kind:
            return
        key = (m.file_id, m.name, m.line)
        old = found.get(key)
        if old is None or m.tier < old.tier:
            found[key] = m

    conn = db.conn()
    # One indexed read serves the exact, dotted and same-words tiers: they share the norm.
    for row in conn.execute(_SELECT + f"WHERE {SYMBOL_NORM} = ?", (norm,)):
        name = row["name"]
        if head:
            if _container_matches(row["container"], head):
                add(_match(row, 0 if name == tail else 1))
            elif name.lower() == tail.lower():
                add(_match(row, 2))  # the method, but the container was not recorded
            else:
                add(_match(row, 3))
        elif name == tail:
            add(_match(row, 0))
        elif name.lower() == tail.lower():
            add(_match(row, 1))
        else:
            add(_match(row, 3))
    if len(found) < limit and prefix > 0:
        rows = conn.execute(
            _SELECT + f"WHERE {SYMBOL_NORM} > ? AND {SYMBOL_NORM} < ? LIMIT ?",
            (norm, norm + "\U0010ffff", prefix),
        )
        for row in rows:
            add(_match(row, 4))
    if fuzzy and not found and len(norm) >= 2:
        # Nothing by name or prefix: a substring, then a subsequence (``prsinv`` finds
        # parse_invoice), scanned with one regex over every distinct name at C speed.
        blob = _names(db)
        inner = re.escape(norm)
        # Possessive skips (``[^\nc]*+c``) find the first occurrence of each letter and never
        # backtrack, so a long query cannot make the scan explode.
        seq = "".join(f"[^\n{re.escape(c)}]*+{re.escape(c)}" for c in norm)
        for tier, pattern in ((5, f"^[^\n]*{inner}[^\n]*$"), (6, f"^{seq}[^\n]*$")):
            norms = sorted({m.group(0) for m in re.finditer(pattern, blob, re.M)}, key=len)
            for start in range(0, min(len(norms), _SCAN_CAP), 500):
                chunk = norms[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for row in conn.execute(_SELECT + f"WHERE {SYMBOL_NORM} IN ({marks})", chunk):
                    add(_match(row, tier))
                if len(found) >= limit:
                    break
            if len(found) >= limit:
                break
    best = sorted(found.values(), key=Match.order)[:limit]
    return with_details(db, best) if details else best


_NAMES: dict[str, tuple[int, str]] = {}


def _names(db: Database) -> str:
    """Every distinct normalized name, one a line; cached until the index changes (the
    language server asks again on every keystroke of a workspace/symbol query)."""
    version = int(db.query("PRAGMA data_version")[0][0])
    key = str(db.path)
    cached = _NAMES.get(key)
    if cached is not None and cached[0] == version:
        return cached[1]
    blob = "\n".join(r[0] for r in db.query(f"SELECT DISTINCT {SYMBOL_NORM} FROM symbols s"))
    _NAMES[key] = (version, blob)
    return blob


def find_symbols(
    db: Database, query: str, *, kind: str | None = None, limit: int = 20
) -> list[dict[str, Any]]:
    """Definitions matching ``query``, best first: dicts with name, kind, path, line, container,
    signature and doc (the ``symbol --json`` entries)."""
    return [m.to_dict() for m in lookup(db, query, kind=kind, limit=limit)]


def first_symbols(db: Database, limit: int) -> list[Match]:
    """Symbols in path and line order: what an empty workspace/symbol query lists."""
    rows = db.conn().execute(_SELECT + "ORDER BY f.filepath, s.line LIMIT ?", (limit,))
    return with_details(db, [_match(r, 0) for r in rows])


def definitions(db: Database, name: str) -> list[Match]:
    """Exact definitions of ``name`` (case-sensitive), for hover."""
    return [m for m in lookup(db, name, limit=50, fuzzy=False) if m.tier == 0]


def overview(db: Database, path: str) -> str:
    rows = db.query("SELECT overview FROM files WHERE filepath = ?", (path,))
    return str(rows[0][0] or "") if rows else ""
