"""``cq-lsp search`` and ``symbol``: kept to the store's imports, so a search answers in well
under 100 ms (``eval`` lives in cli/evaluate.py: its imports would slow every search). Not through
the command table: its typed results (attrs classes) would add ~20 ms of imports to each search.
The JSON is the same as the table's ``cq.search``/``cq.symbol`` (tests/commands/test_results.py)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cq_lsp.cli.output import emit_json, highlight, style
from cq_lsp.errors import UsageError
from cq_lsp.store.db import Database
from cq_lsp.store.freshness import mark_answers
from cq_lsp.store.search import search
from cq_lsp.store.symbols import find_symbols
from cq_lsp.worktree.project import Project, open_project

if TYPE_CHECKING:
    from cq_lsp.core.workspace import Workspace

MAX_SYMBOLS = 1000


def open_index(args: argparse.Namespace) -> tuple[Project, Database]:
    project = open_project(args.root)
    project.require_initialized()
    return project, Database(project.index_db)


def _where(r: dict[str, Any]) -> str:
    """``path:line``, which terminals and editors open at the line."""
    return f"{r['path']}:{r['line']}" if r.get("line") else r["path"]


def cmd_search(args: argparse.Namespace) -> int:
    project, db = open_index(args)
    result = search(db, " ".join(args.query), limit=args.limit)
    stale = mark_answers(db, project.root, result["results"], lambda rel: _sha_now(project, rel))
    if stale:
        _catch_up(project, stale)
    if args.json:
        emit_json(result)
        return 0
    if not result["results"]:
        print(f"no results for {result['query']!r}")
        return 0
    for i, r in enumerate(result["results"], 1):
        score = style(f"{r['score']:.2f}", "2")
        kind = style(r["kind"], "2")
        mark = style("  [stale]", "33") if r.get("fresh") is False else ""
        print(f"{i:>2}. {style(_where(r), '1')}  {score}  {kind}{mark}")
        if r["snippet"]:
            print(f"    {highlight(r['snippet'][:240])}")
        if getattr(args, "explain", False):
            for why in r["why"]:
                print(f"      · {why}")
    if stale:
        print(
            style(
                f"[stale]: {len(stale)} file(s) changed since documented; queued again in auto "
                "mode (`cq-lsp index` otherwise)",
                "2",
            )
        )
    return 0


def cmd_symbol(args: argparse.Namespace) -> int:
    if not 1 <= args.limit <= MAX_SYMBOLS:
        raise UsageError(f"--limit must be an integer from 1 to {MAX_SYMBOLS}, got {args.limit}")
    project, db = open_index(args)
    name = " ".join(args.name)
    symbols = find_symbols(db, name, kind=args.kind, limit=args.limit)
    stale = mark_answers(db, project.root, symbols, lambda rel: _sha_now(project, rel))
    if stale:
        _catch_up(project, stale)
    if args.json:
        emit_json({"query": name, "symbols": symbols})
        return 0
    if not symbols:
        print(f"no definition of {name!r}")
        return 0
    for s in symbols:
        owner = f"{s['container']}." if s["container"] else ""
        head = f"{owner}{s['name']}"
        mark = style("  [stale]", "33") if s.get("fresh") is False else ""
        print(f"{style(_where(s), '1')}  {head}  {style(s['kind'], '2')}{mark}")
        if s["signature"]:
            print(f"    {s['signature'][:200]}")
    return 0


# The core (config, guard, queue) is imported only when a hit turns out stale: a search whose
# hits are current pays for the store alone.
_workspaces: dict[Path, Workspace] = {}


def _workspace(project: Project) -> Workspace:
    from cq_lsp.core.workspace import Workspace

    if project.root not in _workspaces:
        _workspaces[project.root] = Workspace(project)
    return _workspaces[project.root]


def _sha_now(project: Project, rel: str) -> str | None:
    from cq_lsp.core.freshness import current_sha

    return current_sha(_workspace(project), rel)


def _catch_up(project: Project, stale: list[str]) -> None:
    from cq_lsp.core.freshness import queue_stale_answers

    queue_stale_answers(_workspace(project), stale, source="cli")
