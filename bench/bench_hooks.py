"""Benchmark cq-lsp's git hooks: what they cost a commit, and how soon a commit is searchable.

1. ``git commit`` in a repository with cq-lsp's hooks installed (``cq-lsp init`` defaults: auto
   mode, static documenter) against a twin repository without hooks, and a third twin whose
   hooks are bare ``#!/bin/sh`` + ``true`` (the floor any hook pays), interleaved round-robin
   in one run (the order rotates each round). Budget (docs/architecture.md): the median of the
   per-round differences to the twin without hooks ≤ +5 ms.
2. With default settings (``delay_seconds`` applies to an LLM documenter only, so the static
   documenter's work runs at once): from ``git commit`` returning until an in-process
   ``search()`` finds the committed file, with the worker already running (warm; budget p95
   ≤ 1 s) and with no worker (cold: the hook starts it).

Timings are printed, never asserted: the exit status is 1 only when the tool itself failed.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
COMMIT_BUDGET_MS = 5.0
SEARCHABLE_BUDGET_S = 1.0
HOOK_NAMES = ("post-commit", "post-merge", "post-checkout", "post-rewrite", "post-index-change")


class BenchError(Exception):
    """The tool under test (or the set-up) failed: exit status 1."""


def pct(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), nearest-rank on the sorted values."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def bench_env(tmp: Path) -> dict[str, str]:
    """User config, data and git identity isolated in ``tmp``; none of the caller's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CODEQUERY_", "CQ_LSP_"))}
    env.update(
        {
            "CQ_LSP_CONFIG_HOME": str(tmp / "config-home"),
            "CQ_LSP_DATA_HOME": str(tmp / "data-home"),
            "GIT_AUTHOR_NAME": "cq-lsp bench",
            "GIT_AUTHOR_EMAIL": "bench@example.invalid",
            "GIT_COMMITTER_NAME": "cq-lsp bench",
            "GIT_COMMITTER_EMAIL": "bench@example.invalid",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
        }
    )
    return env


class Bench:
    def __init__(self, tmp: Path, verbose: bool) -> None:
        self.tmp = tmp
        self.env = bench_env(tmp)
        self.verbose = verbose

    def log(self, message: str) -> None:
        if self.verbose:
            print(f"[bench] {message}", file=sys.stderr, flush=True)

    def run(self, argv: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            list(argv), cwd=cwd, env=self.env, capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            raise BenchError(
                f"`{' '.join(argv)}` exited {proc.returncode} in {cwd}:\n{proc.stderr.strip()}"
            )
        return proc

    def cq(self, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run([sys.executable, "-m", "cq_lsp", *args], root)

    def make_repo(self, name: str) -> Path:
        """A small project: twenty Python files, committed."""
        root = self.tmp / name
        root.mkdir()
        self.run(["git", "init", "-q", "-b", "main"], root)
        for i in range(20):
            (root / f"mod_{i:02d}.py").write_text(
                f'"""Module {i}."""\n\n\ndef function_{i}(x):\n    return x * {i}\n',
                encoding="utf-8",
            )
        self.run(["git", "add", "-A"], root)
        self.run(["git", "commit", "-q", "-m", "initial"], root)
        return root


# -- 1. what a commit pays -----------------------------------------------------------------------


def hook_done_lines(root: Path) -> int:
    log = root / ".code-query" / "logs" / "hooks.log"
    try:
        return log.read_text(encoding="utf-8", errors="replace").count("done:")
    except OSError:
        return 0


def wait_for(predicate: Any, timeout: float, what: str) -> float:
    """Poll until ``predicate()``; returns the time it became true (perf_counter)."""
    deadline = time.perf_counter() + timeout
    while True:
        if predicate():
            return time.perf_counter()
        if time.perf_counter() > deadline:
            raise BenchError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.005)


def commit_overhead(b: Bench, rounds: int, warmup: int) -> dict[str, Any]:
    twins = {"none": b.make_repo("twin-none"), "bare": b.make_repo("twin-bare")}
    for hook in HOOK_NAMES:
        path = twins["bare"] / ".git" / "hooks" / hook
        path.write_text("#!/bin/sh\ntrue\n", encoding="utf-8")
        path.chmod(0o755)
    cq_root = b.make_repo("twin-cq")
    b.cq(cq_root, "init")
    b.cq(cq_root, "hooks", "install")
    twins["cq-lsp"] = cq_root
    order = list(twins)
    samples: dict[str, list[float]] = {k: [] for k in order}
    background: list[float] = []
    b.log(f"commit overhead: {rounds} rounds (+{warmup} warm-up) over {', '.join(order)}")
    for r in range(rounds + warmup):
        rotated = order[r % len(order) :] + order[: r % len(order)]
        for name in rotated:
            root = twins[name]
            target = root / f"mod_{r % 20:02d}.py"
            with open(target, "a", encoding="utf-8") as fh:
                fh.write(f"# round {r}\n")
            b.run(["git", "add", target.name], root)
            before = hook_done_lines(root)
            started = time.perf_counter()
            b.run(["git", "commit", "-q", "-m", f"round {r}"], root)
            elapsed = time.perf_counter() - started
            if name == "cq-lsp":
                # The hook's background job must end before the next timed commit (of any twin),
                # so that no commit is measured while our own background work competes for CPU.
                done = wait_for(
                    lambda root=root, before=before: hook_done_lines(root) > before,
                    60,
                    "the hook's log line",
                )
                if r >= warmup:
                    background.append(done - started - elapsed)
            if r >= warmup:
                samples[name].append(elapsed * 1000)
    b.cq(cq_root, "worker", "stop")
    stats = {
        name: {
            "median": statistics.median(v),
            "p10": pct(v, 10),
            "p90": pct(v, 90),
            "n": len(v),
        }
        for name, v in samples.items()
    }
    # Paired: each round's commits ran next to each other, so a round's difference cancels most
    # of what the machine was doing meanwhile (other processes on a shared 2-core box).
    paired = [c - n for c, n in zip(samples["cq-lsp"], samples["none"], strict=True)]
    paired_bare = [c - n for c, n in zip(samples["bare"], samples["none"], strict=True)]
    return {
        "stats": stats,
        "deltaMs": statistics.median(paired),
        "bareDeltaMs": statistics.median(paired_bare),
        "medianDiffMs": stats["cq-lsp"]["median"] - stats["none"]["median"],
        "bareMedianDiffMs": stats["bare"]["median"] - stats["none"]["median"],
        "backgroundS": {
            "median": statistics.median(background),
            "p90": pct(background, 90),
        },
        "samples": samples,
    }


# -- 2. committed → searchable ------------------------------------------------------------------


def searchable_latency(b: Bench, runs: int) -> dict[str, Any]:
    from cq_lsp.store.db import Database
    from cq_lsp.store.search import search

    root = b.make_repo("live")
    b.cq(root, "init")  # default settings: what a user gets
    b.cq(root, "hooks", "install")
    b.cq(root, "index", "--wait")
    db = Database(root / ".code-query" / "index.db")
    out: dict[str, list[float]] = {"warm": [], "cold": []}
    try:
        for mode in ("warm", "cold"):
            b.log(f"committed → searchable ({mode} worker): {runs} runs")
            if mode == "warm":
                b.cq(root, "worker", "start")
            for i in range(runs):
                if mode == "cold":
                    b.cq(root, "worker", "stop")
                token = f"bench_token_{uuid.uuid4().hex[:12]}"
                rel = f"fresh_{mode}_{i}.py"
                (root / rel).write_text(f"def {token}():\n    return {i}\n", encoding="utf-8")
                b.run(["git", "add", rel], root)
                b.run(["git", "commit", "-q", "-m", f"{mode} {i}"], root)
                returned = time.perf_counter()

                def found(token: str = token, rel: str = rel) -> bool:
                    return any(r["path"] == rel for r in search(db, token, limit=5)["results"])

                seen = wait_for(found, 60, f"{rel} to be searchable")
                out[mode].append(seen - returned)
                time.sleep(0.3)  # let the worker go idle again before the next run
    finally:
        db.close()
        b.cq(root, "worker", "stop")
    return {
        mode: {
            "median": statistics.median(v),
            "p95": pct(v, 95),
            "max": max(v),
            "n": len(v),
            "samples": v,
        }
        for mode, v in out.items()
    }


# -- the table -----------------------------------------------------------------------------------


def rows(commit: dict[str, Any], live: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    s = commit["stats"]

    def ms(v: float) -> str:
        return f"{v:.1f} ms"

    def verdict(ok: bool) -> str:
        return "✓" if ok else "✗"

    out = [
        (
            "git commit, no hooks: median (p10–p90)",
            f"{ms(s['none']['median'])} ({s['none']['p10']:.1f}–{s['none']['p90']:.1f})",
            "",
            "",
            "",
        ),
        (
            "git commit, bare `true` hooks: median (p10–p90)",
            f"{ms(s['bare']['median'])} ({s['bare']['p10']:.1f}–{s['bare']['p90']:.1f})",
            "",
            "",
            "",
        ),
        (
            "git commit, cq-lsp hooks: median (p10–p90)",
            f"{ms(s['cq-lsp']['median'])} ({s['cq-lsp']['p10']:.1f}–{s['cq-lsp']['p90']:.1f})",
            "",
            "",
            "",
        ),
        (
            "cq-lsp hooks vs no hooks: median of per-round Δ",
            f"{commit['deltaMs']:+.1f} ms",
            f"≤ +{COMMIT_BUDGET_MS:.0f} ms",
            f"bare hooks {commit['bareDeltaMs']:+.1f} ms",
            verdict(commit["deltaMs"] <= COMMIT_BUDGET_MS),
        ),
        (
            "cq-lsp hooks vs no hooks: Δ of the medians",
            f"{commit['medianDiffMs']:+.1f} ms",
            "",
            f"bare hooks {commit['bareMedianDiffMs']:+.1f} ms",
            "",
        ),
        (
            "hook's background job (after git returned): median / p90",
            f"{commit['backgroundS']['median']:.2f} / {commit['backgroundS']['p90']:.2f} s",
            "",
            "not on the commit's path",
            "",
        ),
    ]
    for mode, label in (("warm", "worker running"), ("cold", "no worker: the hook starts it")):
        v = live[mode]
        out.append(
            (
                f"commit → searchable, {label}: median / p95 / max",
                f"{v['median']:.2f} / {v['p95']:.2f} / {v['max']:.2f} s",
                f"p95 ≤ {SEARCHABLE_BUDGET_S:.0f} s" if mode == "warm" else "-",
                f"n={v['n']}, default settings",
                verdict(v["p95"] <= SEARCHABLE_BUDGET_S) if mode == "warm" else "",
            )
        )
    return out


def print_table(table: list[tuple[str, str, str, str, str]], title: str) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # pragma: no cover - rich is a dependency
        print(title)
        for r in table:
            print(" | ".join(r))
        return
    t = Table(title=title)
    for col in ("what", "value", "budget", "same-run reference", "verdict"):
        t.add_column(col)
    for r in table:
        t.add_row(*r)
    Console().print(t)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=60, help="timed commit rounds (default 60)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed rounds first (default 2)")
    ap.add_argument(
        "--latency-runs", type=int, default=10, help="commit → searchable runs per case"
    )
    ap.add_argument("--json", action="store_true", help="the figures as JSON on stdout")
    ap.add_argument("--keep", action="store_true", help="keep the temporary repositories")
    ap.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="cq-bench-hooks-"))
    b = Bench(tmp, verbose=not args.quiet)
    try:
        commit = commit_overhead(b, args.runs, args.warmup)
        live = searchable_latency(b, args.latency_runs)
    except BenchError as exc:
        print(f"bench_hooks: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"[bench] kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        print(json.dumps({"commit": commit, "searchable": live}, indent=2))
    else:
        import platform

        print_table(
            rows(commit, live),
            f"cq-lsp git hooks · {platform.python_version()} · git "
            + subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.split()[
                -1
            ]
            + f" · {os.cpu_count()} CPUs",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
