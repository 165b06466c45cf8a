"""The index as the editor sees it: workspace symbols and hover text for names defined elsewhere.

Both answer from the ``symbols`` rows through the same lookup as ``cq-lsp symbol`` (exact,
dotted, prefix, fuzzy; source files before tests), so the editor and the command line agree.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lsprotocol import types
from pygls.uris import from_fs_path

from cq_lsp.core import freshness
from cq_lsp.errors import CqLspError
from cq_lsp.lsp.folders import Folder
from cq_lsp.store.db import Database
from cq_lsp.store.symbols import Match, definitions, first_symbols, lookup, overview

_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
# The index's kinds as the editor's icons; anything else shows as a variable.
_SYMBOL_KINDS = {
    "function": types.SymbolKind.Function,
    "method": types.SymbolKind.Method,
    "class": types.SymbolKind.Class,
    "interface": types.SymbolKind.Interface,
    "struct": types.SymbolKind.Struct,
    "enum": types.SymbolKind.Enum,
    "trait": types.SymbolKind.Interface,
    "type": types.SymbolKind.TypeParameter,
}
SEARCH_LIMIT = 200


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


class EditorSymbols:
    """workspace/symbol and hover for the server's folders, each folder's table kept between
    requests.

    Answered on one thread of their own: SQLite's data_version is per connection, and each
    thread has its own, so "has the index changed since I built the table?" needs one.
    """

    def __init__(self) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cq-symbols")
        self._tables: dict[Path, SymbolTable] = {}

    def forget(self, root: Path) -> None:
        """The folder left the workspace."""
        self._tables.pop(root, None)

    def shutdown(self) -> None:
        self._thread.shutdown(wait=True, cancel_futures=True)

    async def workspace_symbols(
        self, folders: Sequence[Folder], query: str
    ) -> list[types.SymbolInformation]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._search, list(folders), query)

    async def hover(
        self, folder: Folder, path: Path, lines: Sequence[str], position: types.Position
    ) -> types.Hover | None:
        """Documentation of the name under the cursor, defined in another file of ``folder``."""
        try:
            line = lines[position.line]
        except IndexError:
            return None
        name = word_at(line, position.character)
        if not name:
            return None
        loop = asyncio.get_running_loop()
        text = await loop.run_in_executor(self._thread, self._hover_text, folder, path, name)
        if not text:
            return None
        return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text))

    def _search(self, folders: list[Folder], query: str) -> list[types.SymbolInformation]:
        out: list[types.SymbolInformation] = []
        for folder in folders:
            if not folder.initialized:
                continue
            found = self._table(folder).search(query, limit=SEARCH_LIMIT)
            # A symbol from documentation older than its file may have moved: the editor shows
            # it with "(stale)" after its container, as the CLI marks stale hits.
            stale = set(freshness.annotate(folder.ws, [{"path": s.path} for s in found]))
            for s in found:
                line = max(0, s.line - 1)
                uri = from_fs_path(str(folder.root / s.path)) or ""
                out.append(
                    types.SymbolInformation(
                        name=s.name,
                        kind=_SYMBOL_KINDS.get(s.kind, types.SymbolKind.Variable),
                        location=types.Location(
                            uri=uri,
                            range=types.Range(types.Position(line, 0), types.Position(line, 0)),
                        ),
                        container_name=(s.container or s.path)
                        + (" (stale)" if s.path in stale else ""),
                    )
                )
        return out

    def _hover_text(self, folder: Folder, path: Path, name: str) -> str | None:
        try:
            rel = folder.ws.guard.to_rel(path)
        except CqLspError:
            rel = None
        ws = folder.ws
        return hover_markdown(
            self._table(folder),
            name,
            rel,
            stale=lambda p: bool(freshness.annotate(ws, [{"path": p}])),
        )

    def _table(self, folder: Folder) -> SymbolTable:
        # A new Database (the editor's settings changed) means a new table.
        table = self._tables.get(folder.root)
        if table is None or table.db is not folder.ws.db:
            table = SymbolTable(folder.ws.db)
            self._tables[folder.root] = table
        return table
