"""The MCP tool table: each tool's name, argument schema, description, and the core call it makes.

Imports no MCP SDK (server.py serves this table), so the schemas and the behaviour can be read
and tested on their own. Every handler takes the open work trees and checked arguments and
returns a JSON object; errors are ``CqLspError``s whose message and hint tell the agent what to
do next.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs

from cq_lsp.commands.arguments import StatusArgs
from cq_lsp.commands.results import SearchResult, to_json
from cq_lsp.commands.table import COMMANDS, CoreSession
from cq_lsp.core.status import build_status
from cq_lsp.core.workspace import Workspace
from cq_lsp.errors import CqLspError, PathRefused, UsageError
from cq_lsp.mcp.catchup import files_needing_catchup, is_fresh
from cq_lsp.mcp.documenting import RECORD_PROPERTIES, check_dataset, write_documentation
from cq_lsp.store.documentation import get_record
from cq_lsp.store.search import MAX_LIMIT, search
from cq_lsp.worktree.project import open_project

# One tool answer stays below this many characters of JSON (an agent's context is precious);
# lists are cut to fit and the answer says so.
MAX_RESULT_CHARS = 100_000
# `index` waits at most this long, whatever the agent asks.
MAX_WAIT_S = 120.0
SEARCH_KINDS = ("definition", "symbol", "path", "text")


class Roots(CoreSession):
    """The work trees this server answers for (``--root``, several allowed), opened once."""

    def __init__(self, roots: Sequence[str | Path | None]) -> None:
        self.workspaces: list[Workspace] = []
        for root in roots or [None]:
            project = open_project(root)
            if any(ws.project == project for ws in self.workspaces):
                continue
            # live: config.json edits (and trust) take effect without restarting the server.
            self.workspaces.append(Workspace(project, live=True))

    def pick(self, root: str | None) -> Workspace:
        if root is None:
            return self.workspaces[0]
        want = Path(root).expanduser()
        try:
            resolved = want.resolve()
        except OSError:
            resolved = want
        for ws in self.workspaces:
            if want == ws.project.root or resolved == ws.project.root.resolve():
                return ws
        raise UsageError(
            f"root {root!r} is not served by this MCP server",
            hint="roots are: " + ", ".join(str(w.project.root) for w in self.workspaces),
        )

    def close(self) -> None:
        for ws in self.workspaces:
            ws.close()

    # -- the command table's Session (cq_lsp.commands.table): the MCP face's side ------------

    source = "mcp"
    base: Path | None = None  # an agent's relative paths are relative to the work tree

    def workspace(self, root: str | None) -> Workspace:
        return self.pick(root)

    def work_tree(self, root: str | None) -> Path:
        return self.pick(root).project.root

    def statuses(self, args: StatusArgs) -> list[dict[str, Any]]:
        targets = self.workspaces if args.all else [self.pick(args.root)]
        return [build_status(ws) for ws in targets]


Handler = Callable[[Roots, dict[str, Any]], dict[str, Any]]


@attrs.define(frozen=True)
class Tool:
    name: str
    title: str
    description: str
    properties: dict[str, dict[str, Any]]
    handler: Handler
    required: tuple[str, ...] = ()
    read_only: bool = True

    @property
    def schema(self) -> dict[str, Any]:
        props = {**self.properties, "root": ROOT_ARG}
        return {
            "type": "object",
            "properties": props,
            "required": list(self.required),
            "additionalProperties": False,
        }


ROOT_ARG = {
    "type": "string",
    "description": "The work tree to answer for, when the server was started with several "
    "--root (default: the first). get_status lists them.",
}
DATASET_ARG = {
    "type": "string",
    "description": "code-query's dataset name; optional. If given it must be this work tree's "
    "dataset (get_status shows it as dataset_name).",
}


def _limit(default: int, maximum: int) -> dict[str, Any]:
    return {
        "type": "integer",
        "minimum": 1,
        "maximum": maximum,
        "default": default,
        "description": f"Most results to return (1-{maximum}, default {default}).",
    }


# -- freshness and shapes ---------------------------------------------------------------------


def _job_sha(ws: Workspace, rel: str) -> tuple[str | None, str | None]:
    """(documented sha when the job is done, job state)."""
    job = ws.ledger.job(rel)
    if job is None:
        return None, None
    return (job["sha"] if job["state"] == "done" else None), job["state"]


def _with_freshness(ws: Workspace, rel: str, hit: dict[str, Any]) -> dict[str, Any]:
    """Add ``fresh`` (and both shas when stale) and, for a search hit without one, the ``line``
    of its first highlighted match in the file as it is now."""
    if "fresh" in hit and "line" in hit:
        return hit
    documented, state = _job_sha(ws, rel)
    if documented is None:
        record = get_record(ws.db, rel)
        documented = record["content_sha"] if record else None
    try:
        content = ws.guard.read(rel)
    except PathRefused:
        content = None
    now = content.sha if content is not None else None
    if "fresh" not in hit:
        if documented is not None and now == documented:
            hit["fresh"] = True
        else:
            hit.update(fresh=False, documented_sha=documented, current_sha=now)
    if state and state != "done":
        hit["state"] = state
    if content is not None and "line" not in hit and hit.get("snippet"):
        hit["line"] = _match_line(content.text, hit["snippet"])
    return hit


_MARKED = re.compile("«(.+?)»")


def _match_line(text: str, snippet: str) -> int | None:
    """The 1-based line of the snippet's first marked term in ``text`` (None if not found)."""
    m = _MARKED.search(snippet)
    if m is None:
        return None
    found = re.search(re.escape(m.group(1)), text, re.IGNORECASE)
    return text.count("\n", 0, found.start()) + 1 if found else None


def _search(
    roots: Roots, root: str | None, query: str, limit: int, kind: str | None = None
) -> tuple[SearchResult, list[dict[str, Any]]]:
    # A kind filter drops hits after ranking: ask for more so the page stays full.
    fetch = min(MAX_LIMIT, limit * 4) if kind else limit
    result: SearchResult = COMMANDS["cq.search"](
        roots, {"query": query, "limit": fetch, "root": root}
    )
    hits = [to_json(h) for h in result.results if not kind or h.kind == kind][:limit]
    return result, hits


# -- handlers ---------------------------------------------------------------------------------


def tool_search(roots: Roots, a: dict[str, Any]) -> dict[str, Any]:
    ws = roots.pick(a.get("root"))
    result, hits = _search(roots, a.get("root"), a["query"], a["limit"], a.get("kind"))
    for hit in hits:
        hit.pop("match", None)
        _with_freshness(ws, hit["path"], hit)
    return {
        "root": str(ws.project.root),
        "query": result.query,
        "syntax": result.syntax,
        "results": hits,
    }


def tool_find_symbol(roots: Roots, a: dict[str, Any]) -> dict[str, Any]:
    ws = roots.pick(a.get("root"))
    try:
        from cq_lsp.store.symbols import find_symbols
    except ImportError:  # pragma: no cover - the symbol store ships with cq-lsp
        raise CqLspError(
            "this cq-lsp has no symbol index", hint="use the search tool with the name instead"
        ) from None
    found = find_symbols(ws.db, a["name"], kind=a.get("kind"), limit=a["limit"])
    shas: dict[str, dict[str, Any]] = {}
    symbols = []
    for s in found:
        sym = dict(s)
        if "fresh" not in sym:
            if sym["path"] not in shas:
                shas[sym["path"]] = _with_freshness(ws, sym["path"], {})
            sym.update(shas[sym["path"]])
        sym["location"] = f"{sym['path']}:{sym['line']}"
        symbols.append(sym)
    return {"root": str(ws.project.root), "query": a["name"], "symbols": symbols}


def _resolve_path(ws: Workspace, raw: str, limit: int) -> str:
    """A documented path from an exact, partial (`login.ts`) or wildcard (`src/%/login%`) one."""
    rel = ws.guard.to_rel(raw)  # a path the guard refuses is refused, partial or not
    if get_record(ws.db, rel) is not None or ws.ledger.job(rel):
        return rel
    pattern = raw.replace("%", "*").lstrip("./")
    documented = [p for p, row in ws.ledger.states_by_path().items() if row[1] != "skipped"]
    if any(c in pattern for c in "*?["):
        matches = [p for p in documented if fnmatch.fnmatchcase(p, pattern)]
        deeper = [p for p in documented if fnmatch.fnmatchcase(p, "*/" + pattern)]
        matches += [p for p in deeper if p not in matches]
    else:
        matches = [p for p in documented if p == pattern or p.endswith("/" + pattern)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        return rel  # show() says why it has no documentation (queued, refused, unknown)
    shown = sorted(matches)[:limit]
    raise UsageError(
        f"{raw!r} matches {len(matches)} files: " + ", ".join(shown),
        hint="pass one of these paths exactly",
    )


def tool_get_file(roots: Roots, a: dict[str, Any]) -> dict[str, Any]:
    ws = roots.pick(a.get("root"))
    check_dataset(ws, a.get("dataset_name"))
    raw = a.get("path") or a.get("filepath")
    if not raw:
        raise UsageError(
            "get_file: missing required argument 'path'",
            hint="pass path (or code-query's filepath): the file's repo-relative path",
        )
    rel = _resolve_path(ws, raw, a["limit"])
    record = to_json(COMMANDS["cq.show"](roots, {"path": rel, "root": a.get("root")}))
    record["filepath"] = record["path"]  # code-query's name
    record.update(is_fresh(ws, record["path"], record.get("content_sha")))
    return record


def tool_get_status(roots: Roots, a: dict[str, Any]) -> dict[str, Any]:
    root = a.get("root")
    several = root is None and len(roots.workspaces) > 1
    found = to_json(COMMANDS["cq.status"](roots, {"root": root, "all": several}))
    statuses = found["folders"] if several else [found]
    for st in statuses:
        ws = roots.pick(st["root"])
        st["dataset_name"] = ws.config.dataset_name
        if a["catchup"]:
            catchup = files_needing_catchup(ws, limit=0)
            st.setdefault("index", {})["stale"] = catchup["total"]
            st["index"]["staleByReason"] = catchup["byReason"]
    if not several:
        return statuses[0]
    return {"roots": [str(w.project.root) for w in roots.workspaces], "folders": statuses}


def tool_index(roots: Roots, a: dict[str, Any]) -> dict[str, Any]:
    ws = roots.pick(a.get("root"))
    paths: list[str] = a.get("paths") or []
    out = to_json(COMMANDS["cq.index"](roots, {"paths": paths, "root": a.get("root")}))
    out = {"root": str(ws.project.root), **out}
    out["refused"] = out.get("refused", [])[:50]
    wait_s = min(float(a["wait_s"]), MAX_WAIT_S)
    if wait_s > 0 and out.get("queued"):
        rels = []
        for p in paths:
            try:
                rels.append(ws.guard.to_rel(p))
            except PathRefused:
                continue  # reported in "refused"
        out["wait"] = _wait(ws, rels or None, wait_s)
    return out


def _job_states(ws: Workspace, rels: list[str] | None) -> dict[str, int]:
    """How many of these paths' jobs are in each state (a row gone meanwhile counts as done:
    the file was deleted and left the index); None or many paths: the whole queue's counts."""
    keys = ("queued", "running", "done", "failed", "skipped")
    if rels is None or len(rels) > 200:
        counts = ws.ledger.counts()
        return {k: counts[k] for k in keys}
    states = dict.fromkeys(keys, 0)
    for rel in rels:
        job = ws.ledger.job(rel)
        states[job["state"] if job else "done"] += 1
    return states


def _wait(ws: Workspace, rels: list[str] | None, wait_s: float) -> dict[str, Any]:
    started = time.monotonic()
    while True:
        states = _job_states(ws, rels)
        pending = states["queued"] + states["running"]
        elapsed = time.monotonic() - started
        if not pending or elapsed >= wait_s:
            break
        time.sleep(0.1)
    out: dict[str, Any] = {"done": not pending, "waitedS": round(elapsed, 2), "states": states}
    if pending:
        out["hint"] = (
            f"{pending} job(s) still queued or running; call get_status later "
            "(manual mode needs `cq-lsp worker start`)"
            if ws.config.processing.mode == "manual"
            else f"{pending} job(s) still queued or running; call get_status later"
        )
    return out


def tool_catchup(roots: Roots, a: dict[str, Any]) -> dict[str, Any]:
    ws = roots.pick(a.get("root"))
    check_dataset(ws, a.get("dataset_name"))
    return files_needing_catchup(ws, limit=a["limit"])


def _snippet_markers(text: str | None) -> str:
    return (text or "").replace("«", "[MATCH]").replace("»", "[/MATCH]")


def tool_search_files(roots: Roots, a: dict[str, Any]) -> dict[str, Any]:
    """code-query's metadata search: its argument and field names."""
    ws = roots.pick(a.get("root"))
    check_dataset(ws, a.get("dataset_name"))
    _result, hits = _search(roots, a.get("root"), a["query"], a["limit"])
    out = []
    for hit in hits:
        record = get_record(ws.db, hit["path"]) or {}
        entry = {
            "filepath": hit["path"],
            "filename": record.get("filename") or posixpath.basename(hit["path"]),
            "overview": hit.get("overview") or "",
            "ddd_context": record.get("ddd_context"),
            "match_snippet": _snippet_markers(hit.get("snippet")),
            "score": hit.get("score"),
        }
        entry.update(is_fresh(ws, hit["path"], record.get("content_sha")))
        out.append(entry)
    return {"query": a["query"], "dataset_name": ws.config.dataset_name, "results": out}


def tool_search_full_content(roots: Roots, a: dict[str, Any]) -> dict[str, Any]:
    """code-query's full-text search over the files' contents."""
    from cq_lsp.store.identifiers import query_terms
    from cq_lsp.store.search import is_fts_syntax

    ws = roots.pick(a.get("root"))
    check_dataset(ws, a.get("dataset_name"))
    query = a["query"].strip()
    if is_fts_syntax(query):
        restricted = f"full_content : ({query})"
    else:
        terms = [t for t in query_terms(query) if t] or [query]
        restricted = (
            "full_content : (" + " AND ".join('"' + t.replace('"', '""') + '"' for t in terms) + ")"
        )
    try:
        result = search(ws.db, restricted, limit=a["limit"])
    except CqLspError:
        result = search(ws.db, query, limit=a["limit"])  # the query's own syntax, unrestricted
    out = []
    for r in result["results"]:
        out.append(
            {
                "filepath": r["path"],
                "filename": posixpath.basename(r["path"]),
                "content_snippet": _snippet_markers(r.get("snippet")),
                "rank": r.get("score"),
                "search_type": "full_content",
            }
        )
    return {"query": a["query"], "dataset_name": ws.config.dataset_name, "results": out}


def tool_insert(roots: Roots, a: dict[str, Any]) -> dict[str, Any]:
    return write_documentation(roots.pick(a.get("root")), a, partial=False)


def tool_update(roots: Roots, a: dict[str, Any]) -> dict[str, Any]:
    return write_documentation(roots.pick(a.get("root")), a, partial=True)


# -- the table --------------------------------------------------------------------------------

_QUERY = {
    "type": "string",
    "minLength": 1,
    "description": "Words, identifiers (parseInvoice, parse_invoice) or a question; FTS5 syntax "
    '("exact phrase", prefix*, AND/OR/NOT, column:term) is used as written.',
}
_FILEPATH = {
    "type": "string",
    "minLength": 1,
    "description": "The file's path relative to the work tree root (as search returns it).",
}

TOOLS: tuple[Tool, ...] = (
    Tool(
        "search",
        "Search the documentation index",
        "Ranked search over every documented file of the work tree: file names, definitions, "
        "the per-file overview and the source text. Use it before reading files to find where "
        "something is. Each hit has path, snippet («» marks the match), overview, kind, why it "
        "ranked, and fresh (false: the file changed since it was documented; read it directly).",
        {
            "query": _QUERY,
            "limit": _limit(10, 100),
            "kind": {
                "type": "string",
                "enum": list(SEARCH_KINDS),
                "description": "Only hits of this kind: definition, symbol, path or text.",
            },
        },
        tool_search,
        required=("query",),
    ),
    Tool(
        "find_symbol",
        "Find a definition",
        "Where a function, class, method, type or constant is defined: exact names first, then "
        "dotted (Class.method), prefix and fuzzy matches. Returns path:line, signature and doc.",
        {
            "name": {
                "type": "string",
                "minLength": 1,
                "description": "The symbol's name, e.g. parse_invoice or InvoiceTotals.compute.",
            },
            "kind": {
                "type": "string",
                "description": "Only this kind: function, method, class, struct, interface, "
                "enum, type, constant, variable, ...",
            },
            "limit": _limit(20, 200),
        },
        tool_find_symbol,
        required=("name",),
    ),
    Tool(
        "get_file",
        "One file's documentation",
        "The documentation of one file: overview, functions, classes, imports, exports, "
        "constants, dependencies, notes, and whether it is fresh. Accepts code-query's "
        "arguments (filepath, dataset_name); a partial path (login.ts) or % wildcards find the "
        "file when only one matches.",
        {
            "path": {**_FILEPATH, "minLength": 0},
            "filepath": {**_FILEPATH, "minLength": 0, "description": "code-query's name for path."},
            "dataset_name": DATASET_ARG,
            "limit": _limit(10, 100),
        },
        tool_get_file,
    ),
    Tool(
        "get_status",
        "Index, queue and worker status",
        "The status object of each work tree: worker state, queue counts, indexed files, health "
        "and a one-line message; with catchup true also how many files need catching up "
        "(index.stale).",
        {
            "catchup": {
                "type": "boolean",
                "default": True,
                "description": "Also count files whose documentation is stale or missing.",
            }
        },
        tool_get_status,
    ),
    Tool(
        "index",
        "Queue files for documentation",
        "Queue the named files (or, without paths, every tracked file that changed) for the "
        "background worker, which documents them with the configured documenter. With wait_s, "
        "wait up to that many seconds (at most 120) for those jobs to finish.",
        {
            "paths": {
                "type": "array",
                "items": {"type": "string"},
                "maxItems": 5000,
                "description": "Repo-relative paths; empty or absent: all tracked files.",
            },
            "wait_s": {
                "type": "number",
                "minimum": 0,
                "maximum": MAX_WAIT_S,
                "default": 0,
                "description": "Seconds to wait for the queued jobs (0: do not wait).",
            },
        },
        tool_index,
        read_only=False,
    ),
    Tool(
        "find_files_needing_catchup",
        "Files whose documentation is missing or stale",
        "Tracked files whose documentation is missing, describes an older version of the file "
        "(stale) or outlived the file (deleted), comparing the content sha each record describes "
        "with git's. Document them with insert_file_documentation, or queue them with index.",
        {"dataset_name": DATASET_ARG, "limit": _limit(100, 1000)},
        tool_catchup,
    ),
    Tool(
        "search_files",
        "Search file documentation (code-query)",
        "code-query's search_files: ranked search over the documentation; returns filepath, "
        "filename, overview, ddd_context and match_snippet ([MATCH]...[/MATCH] marks the match) "
        "for each file, plus fresh.",
        {"query": _QUERY, "dataset_name": DATASET_ARG, "limit": _limit(10, 100)},
        tool_search_files,
        required=("query",),
    ),
    Tool(
        "search_full_content",
        "Search file contents (code-query)",
        "code-query's search_full_content: full-text search restricted to the files' source "
        "text; returns filepath, filename, content_snippet ([MATCH]...[/MATCH]) and rank.",
        {"query": _QUERY, "dataset_name": DATASET_ARG, "limit": _limit(10, 100)},
        tool_search_full_content,
        required=("query",),
    ),
    Tool(
        "insert_file_documentation",
        "Document a file (agent as documenter)",
        "Store your documentation of one file, replacing what the index holds for it. Read the "
        "file first: the record is tied to the file's content as it is now (processor "
        '"agent") and is superseded when the file changes. Fields are validated like an LLM '
        "documenter's answer; paths the path guard refuses (ignored, excluded, binary, outside "
        "the work tree) are refused.",
        {
            "dataset_name": DATASET_ARG,
            "filepath": _FILEPATH,
            "filename": {
                "type": "string",
                "description": "Accepted for code-query; the name is taken from filepath.",
            },
            **RECORD_PROPERTIES,
        },
        tool_insert,
        required=("filepath", "overview"),
        read_only=False,
    ),
    Tool(
        "update_file_documentation",
        "Update part of a file's documentation",
        "Change only the given fields of a file's documentation; the others stay. Refused when "
        "the file changed since it was documented (then call insert_file_documentation with "
        "the whole record).",
        {
            "dataset_name": DATASET_ARG,
            "filepath": _FILEPATH,
            "filename": {"type": "string", "description": "Accepted for code-query; ignored."},
            **{
                k: {**v, "minLength": 0} if v.get("type") == "string" else v
                for k, v in RECORD_PROPERTIES.items()
            },
        },
        tool_update,
        required=("filepath",),
        read_only=False,
    ),
)

BY_NAME = {t.name: t for t in TOOLS}
