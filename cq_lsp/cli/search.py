"""``cq-lsp search``: kept to the store's imports, so a search answers in well under 100 ms."""

from __future__ import annotations

import argparse

from cq_lsp.cli.output import emit_json, highlight, style
from cq_lsp.store.db import Database
from cq_lsp.store.search import search
from cq_lsp.worktree.project import open_project


def cmd_search(args: argparse.Namespace) -> int:
    project = open_project(args.root)
    project.require_initialized()
    db = Database(project.index_db)
    result = search(db, " ".join(args.query), limit=args.limit)
    if args.json:
        emit_json(result)
        return 0
    if not result["results"]:
        print(f"no results for {result['query']!r}")
        return 0
    for i, r in enumerate(result["results"], 1):
        score = style(f"{r['score']:.2f}", "2")
        print(f"{i:>2}. {style(r['path'], '1')}  {score}")
        if r["snippet"]:
            print(f"    {highlight(r['snippet'][:240])}")
    return 0
