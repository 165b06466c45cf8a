"""``cq-lsp search``: kept to the store's imports, so a search answers in well under 100 ms."""

from __future__ import annotations

import argparse

from cq_lsp.cli.output import emit_json, highlight, style
from cq_lsp.cli.session import CliSession
from cq_lsp.commands.table import COMMANDS
from cq_lsp.core.workspace import Workspace
from cq_lsp.worktree.project import open_project


def cmd_search(args: argparse.Namespace) -> int:
    project = open_project(args.root)
    project.require_initialized()
    # Through the command table, so hits carry "fresh" as every face's do (stale ones queued).
    session = CliSession(args.root)
    session._ws = Workspace(project)
    result = COMMANDS["cq.search"](
        session, {"root": args.root, "query": " ".join(args.query), "limit": args.limit}
    )
    if args.json:
        emit_json(result)
        return 0
    if not result["results"]:
        print(f"no results for {result['query']!r}")
        return 0
    for i, r in enumerate(result["results"], 1):
        score = style(f"{r['score']:.2f}", "2")
        stale = style("  [stale]", "33") if r.get("fresh") is False else ""
        print(f"{i:>2}. {style(r['path'], '1')}  {score}{stale}")
        if r["snippet"]:
            print(f"    {highlight(r['snippet'][:240])}")
    n_stale = sum(1 for r in result["results"] if r.get("fresh") is False)
    if n_stale:
        print(
            style(
                f"{n_stale} result(s) describe an older version of the file ([stale]); "
                "they are queued again in auto mode (`cq-lsp index` otherwise)",
                "2",
            )
        )
    return 0
