"""Benchmark search quality and latency: ``cq-lsp eval`` on real corpora, plus timings.

Corpora (each indexed with the default configuration in a temporary git repository):

- ``self``: a clone of the repository this script lives in (its own history: history retrieval
  and definition lookup);
- ``cpython``: the running Python's standard library ``.py`` files, one commit (definition
  lookup; in-process latency, as bench_index.py builds it);
- ``git:PATH``: a clone of any other git repository with history (e.g. a snapshot of flask).

For each corpus: ``eval`` figures for cq-lsp and, in the same run, plain BM25 and grep; with
``--compare FILE`` also for another ``search()`` implementation (an older ranking, for the
before/after table). Then in-process ``search()`` p50/p99 and ``cq-lsp search`` / ``cq-lsp
symbol`` wall times. Figures are printed, never asserted (see bench/README.md).

    .venv/bin/python bench/bench_search.py                      # self + cpython
    .venv/bin/python bench/bench_search.py --corpus git:/path/to/flask --json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench_index import bench_env, cq_command, pct, stdlib_files

from cq_lsp.store.db import Database
from cq_lsp.store.evaluate import definition_tasks, evaluate, history_tasks
from cq_lsp.store.search import search

REPO = Path(__file__).resolve().parent.parent
BUDGETS = {
    "definition recall@1": "≥ 0.95",
    "history recall@5 ÷ bm25": "≥ 1.3",
    "search p50 ms": "≤ 2",
    "search p99 ms": "≤ 20",
    "cli search ms": "≤ 100",
    "cli symbol ms": "≤ 80",
}


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def run(argv: Sequence[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(argv), cwd=cwd, env=env, text=True, capture_output=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"`{' '.join(argv)}` exited {proc.returncode}: {proc.stderr[-1500:]}")
    return proc


def build(kind: str, tmp: Path, env: dict[str, str]) -> Path:
    root = tmp / kind.replace(":", "_").replace("/", "_")[:40]
    if kind == "self":
        run(["git", "clone", "-q", "--no-local", str(REPO), str(root)], tmp, env)
    elif kind.startswith("git:"):
        run(["git", "clone", "-q", "--no-local", kind[4:], str(root)], tmp, env)
    elif kind == "cpython":
        stdlib, files = stdlib_files(None)
        for rel in files:
            dest = root / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(stdlib / rel, dest)
        run(["git", "init", "-q", str(root)], tmp, env)
        run(["git", "add", "-A"], root, env)
        run(["git", "commit", "-q", "-m", "corpus"], root, env)
    else:
        raise SystemExit(f"unknown corpus {kind!r}: self, cpython or git:PATH")
    cq = cq_command()
    run([*cq, "--root", str(root), "init"], root, env)
    started = time.perf_counter()
    run([*cq, "--root", str(root), "index", "--wait", "--json"], root, env)
    log(f"{kind}: indexed in {time.perf_counter() - started:.1f} s")
    run([*cq, "--root", str(root), "worker", "stop"], root, env)
    return root


def load_search(path: str) -> Callable[[Database, str, int], list[str]]:
    spec = importlib.util.spec_from_file_location("compare_search", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def fn(db: Database, query: str, limit: int) -> list[str]:
        try:
            return [r["path"] for r in module.search(db, query, limit=limit)["results"]]
        except Exception:  # the older ranking raised on pasted text: a miss
            return []

    return fn


def latency(db: Database, queries: list[str]) -> dict[str, float]:
    for q in queries:
        search(db, q, limit=10)
    times = []
    for _ in range(3):
        for q in queries:
            t = time.perf_counter()
            search(db, q, limit=10)
            times.append((time.perf_counter() - t) * 1000)
    return {"search p50 ms": pct(times, 50), "search p99 ms": pct(times, 99)}


def walls(argv: list[str], root: Path, env: dict[str, str], runs: int) -> float:
    run(argv, root, env)
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        run(argv, root, env)
        out.append((time.perf_counter() - t) * 1000)
    return statistics.median(out)


def bench_corpus(kind: str, tmp: Path, env: dict[str, str], args: argparse.Namespace) -> dict:
    root = build(kind, tmp, env)
    db = Database(root / ".code-query" / "index.db")
    figures: dict[str, Any] = {"corpus": kind}
    started = time.perf_counter()
    result = evaluate(db, root, limit=args.limit)
    figures["eval s"] = time.perf_counter() - started
    figures["eval"] = {k: v for k, v in result.items() if k != "misses"}
    figures["misses"] = result["misses"][:20]
    if args.compare:
        before = evaluate(db, root, limit=args.limit, search_fn=load_search(args.compare))
        figures["before"] = {"definition": before["definition"], "history": before["history"]}
    queries = [n for n, _ in definition_tasks(db, 100)[0]] + [
        s for s, _ in history_tasks(db, root, 100)
    ]
    figures.update(latency(db, queries or ["search"]))
    cq = cq_command()
    name = queries[0] if queries else "main"
    figures["cli search ms"] = walls(
        [*cq, "--root", str(root), "search", name, "--json"], root, env, args.cli_runs
    )
    figures["cli symbol ms"] = walls(
        [*cq, "--root", str(root), "symbol", name, "--json"], root, env, args.cli_runs
    )
    db.close()
    return figures


def table(all_figures: list[dict]) -> None:
    def f(v: Any) -> str:
        return "–" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))

    for fig in all_figures:
        ev = fig["eval"]
        print(f"\n## {fig['corpus']}\n")
        print("| task | engine | n | recall@1 | recall@5 | MRR |")
        print("|---|---|---|---|---|---|")
        for task in ("definition", "history"):
            rows = [("cq-lsp", ev[task])]
            if "before" in fig:
                rows.insert(0, ("cq-lsp before", fig["before"][task]))
            rows += [(b, ev["baselines"][b][task]) for b in ("bm25", "grep")]
            for engine, m in rows:
                print(
                    f"| {task} | {engine} | {m['n']} | {f(m['recall@1'])} | "
                    f"{f(m['recall@5'])} | {f(m['mrr'])} |"
                )
        bm = ev["baselines"]["bm25"]["history"]["recall@5"]
        ours = ev["history"]["recall@5"]
        ratio = ours / bm if ours is not None and bm else None
        print("\n| figure | value | budget |\n|---|---|---|")
        print(f"| history recall@5 ÷ bm25 | {f(ratio)} | {BUDGETS['history recall@5 ÷ bm25']} |")
        for key in ("search p50 ms", "search p99 ms", "cli search ms", "cli symbol ms"):
            print(f"| {key} | {f(fig[key])} | {BUDGETS[key]} |")
        print(f"| eval wall s | {f(fig['eval s'])} | |")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", action="append", help="self, cpython or git:PATH (repeatable)")
    p.add_argument("--limit", type=int, default=200, help="questions per task (eval --limit)")
    p.add_argument("--compare", metavar="FILE", help="another search.py to evaluate alongside")
    p.add_argument("--cli-runs", type=int, default=10)
    p.add_argument("--json", action="store_true")
    p.add_argument("--keep", action="store_true")
    args = p.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="cq-bench-search-"))
    env = bench_env(tmp)
    out = []
    try:
        for kind in args.corpus or ["self", "cpython"]:
            out.append(bench_corpus(kind, tmp, env, args))
    finally:
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        print(json.dumps(out, indent=2, default=str))
    else:
        table(out)
        load = os.getloadavg()[0]
        print(f"\n1-min load average {load:.2f} on {os.cpu_count()} CPUs (skews timings).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
