"""The index as the editor sees it: workspace symbols and hover text for names defined elsewhere.

Both answer from the ``symbols`` rows through the same lookup as ``cq-lsp symbol`` (exact,
dotted, prefix, fuzzy; source files before tests), so the editor and the command line agree.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from cq_lsp.store.db import Database
from cq_lsp.store.symbols import Match, definitions, first_symbols, lookup, overview

_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")


class SymbolTable:
    """One index's symbols, as the language server asks for them."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def search(self, query: str, limit: int = 200) -> list[Match]:
        if not query.strip():
            return first_symbols(self.db, limit)
        return lookup(self.db, query, limit=limit)

    def definitions(self, name: str) -> list[Match]:
        return definitions(self.db, name)

    def overview(self, path: str) -> str:
        return overview(self.db, path)


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
