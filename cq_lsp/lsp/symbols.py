"""The index as the editor sees it: workspace symbols and hover text for names defined elsewhere.

A ``SymbolTable`` is built from the ``files`` table of one index (every documented function,
class and method across the repository, not only open files) and rebuilt only when the index
changed (SQLite's ``data_version``), so a keystroke-driven query costs a scan of a list in memory.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import attrs

from cq_lsp.store.db import Database

_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")


@attrs.frozen
class Symbol:
    name: str
    kind: str  # function, class, interface, struct, method, ...
    path: str  # repo-relative
    line: int  # 1-based; 0 when unknown
    container: str | None
    signature: str
    doc: str


def _load(value: Any) -> dict[str, Any]:
    if not value:
        return {}
    try:
        data = json.loads(value)
    except (TypeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _as_int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def symbols_of_row(path: str, functions: Any, types: Any) -> list[Symbol]:
    out: list[Symbol] = []
    for name, info in _load(functions).items():
        info = info if isinstance(info, dict) else {}
        out.append(
            Symbol(
                name,
                "function",
                path,
                _as_int(info.get("line")),
                None,
                _text(info.get("signature")),
                _text(info.get("doc")),
            )
        )
    for tname, info in _load(types).items():
        info = info if isinstance(info, dict) else {}
        out.append(
            Symbol(
                tname,
                _text(info.get("kind")) or "class",
                path,
                _as_int(info.get("line")),
                None,
                _text(info.get("signature")),
                _text(info.get("doc")),
            )
        )
        methods = info.get("methods")
        if isinstance(methods, dict):
            for mname, minfo in methods.items():
                minfo = minfo if isinstance(minfo, dict) else {}
                out.append(
                    Symbol(
                        mname,
                        "method",
                        path,
                        _as_int(minfo.get("line")),
                        tname,
                        _text(minfo.get("signature")),
                        _text(minfo.get("doc")),
                    )
                )
    return out


def _score(query: str, name: str) -> int | None:
    """Lower is better; None: no match. Case-insensitive prefix < substring < subsequence."""
    low = name.lower()
    if not query:
        return 3
    if low == query:
        return 0
    if low.startswith(query):
        return 1
    if query in low:
        return 2
    it = iter(low)
    if all(ch in it for ch in query):
        return 3
    return None


class SymbolTable:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._version: Any = object()
        self._symbols: list[Symbol] = []
        self._by_name: dict[str, list[Symbol]] = {}
        self._overviews: dict[str, str] = {}

    def _refresh(self) -> None:
        version = (self.db.query("PRAGMA data_version")[0][0], self.db.path)
        if version == self._version:
            return
        rows = self.db.query(
            "SELECT filepath, functions, types_interfaces_classes, overview FROM files"
        )
        symbols: list[Symbol] = []
        overviews: dict[str, str] = {}
        for r in rows:
            symbols.extend(symbols_of_row(r[0], r[1], r[2]))
            overviews[r[0]] = r[3] or ""
        by_name: dict[str, list[Symbol]] = {}
        for s in symbols:
            by_name.setdefault(s.name, []).append(s)
        self._symbols, self._by_name, self._overviews = symbols, by_name, overviews
        self._version = version

    def search(self, query: str, limit: int = 200) -> list[Symbol]:
        self._refresh()
        q = query.strip().lower()
        scored: list[tuple[int, int, str, Symbol]] = []
        for s in self._symbols:
            score = _score(q, s.name)
            if score is not None:
                scored.append((score, len(s.name), s.path, s))
        scored.sort(key=lambda t: (t[0], t[1], t[2], t[3].line))
        return [t[3] for t in scored[:limit]]

    def definitions(self, name: str) -> list[Symbol]:
        self._refresh()
        return list(self._by_name.get(name, ()))

    def overview(self, path: str) -> str:
        self._refresh()
        return self._overviews.get(path, "")


def word_at(line: str, character: int) -> str | None:
    """The identifier under (or just before) the cursor."""
    for m in _IDENT.finditer(line):
        if m.start() <= character <= m.end():
            return m.group(0)
    return None


def hover_markdown(
    table: SymbolTable,
    name: str,
    current_path: str | None,
    stale: Callable[[str], bool] | None = None,
) -> str | None:
    """Documentation of ``name`` from the files that define it, other files first.
    ``stale(path)``: the file changed since it was documented (the hover says so)."""
    defs = table.definitions(name)
    if not defs:
        return None
    elsewhere = [d for d in defs if d.path != current_path]
    chosen = (elsewhere or defs)[:3]
    if not elsewhere:
        return None  # defined only here: the editor's own hover knows more than the index
    parts: list[str] = []
    for d in chosen:
        owner = f"{d.container}." if d.container else ""
        where = f"{d.path}:{d.line}" if d.line else d.path
        head = f"**{owner}{d.name}** ({d.kind}) — `{where}`"
        lines = [head]
        if stale is not None and stale(d.path):
            lines.append("*stale: documented from an older version of this file*")
        if d.signature:
            lines.append(f"```\n{d.signature}\n```")
        if d.doc:
            lines.append(d.doc)
        overview = table.overview(d.path)
        if overview:
            lines.append(f"*{d.path}*: {overview}")
        parts.append("\n\n".join(lines))
    more = len(elsewhere) - len(chosen)
    if more > 0:
        parts.append(f"… and {more} more definition(s) (CQ: Search)")
    return "\n\n---\n\n".join(parts)
