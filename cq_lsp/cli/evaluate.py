"""``cq-lsp eval``: search quality on this repository, printed as a table or JSON."""

from __future__ import annotations

import argparse

from cq_lsp.cli.output import emit_json
from cq_lsp.cli.search import open_index
from cq_lsp.commands.results import EvalResult, Recall, from_json
from cq_lsp.store.evaluate import evaluate


def _figures(m: Recall) -> str:
    def f(v: float | None) -> str:
        return "   –  " if v is None else f"{v:6.3f}"

    return f"{m.n:>5}  {f(m.recall_at_1)}  {f(m.recall_at_5)}  {f(m.mrr)}"


def cmd_eval(args: argparse.Namespace) -> int:
    project, db = open_index(args)
    result = from_json(EvalResult, evaluate(db, project.root, limit=args.limit))
    if args.json:
        emit_json(result)
        return 0
    print(f"{'task':<11} {'engine':<7} {'n':>5}  {'R@1':>6}  {'R@5':>6}  {'MRR':>6}")
    for task in ("definition", "history"):
        print(f"{task:<11} {'cq-lsp':<7} {_figures(getattr(result, task))}")
        for name, baseline in result.baselines.items():
            print(f"{'':<11} {name:<7} {_figures(getattr(baseline, task))}")
    misses = result.misses
    if misses:
        print(f"\nfirst misses ({len(misses)} listed with --json):")
        for m in misses[:10]:
            rank = f"rank {m['rank']}" if m["rank"] else "not in top 10"
            got = m["got"][0] if m["got"] else "nothing"
            print(f"  {m['task']}: {m['query'][:60]!r} → {m['expected']} ({rank}; first: {got})")
    return 0
