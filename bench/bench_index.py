"""Benchmark cq-lsp on a copy of CPython's ``Lib/``: indexing, re-indexing, search, the worker.

Builds a corpus from the ``.py`` files of the running Python's standard library (no
site-packages, no ``__pycache__``) in a temporary git repository, then measures, in one run:

1. ``cq-lsp index --wait`` throughput on the whole corpus (2 worker threads by default);
2. an unchanged re-index (wall time, documenter calls: must be 0);
3. a re-index after 50 files changed (wall time, documenter calls: should be 50);
4. in-process ``search()`` latency over ~200 queries;
5. ``cq-lsp search`` wall time, next to ``python -c pass`` as the same-run reference;
6. ``ctags -R`` (universal-ctags) on the same tree as a throughput reference, when installed;
7. worker pickup latency after idle (``index PATH`` → the ledger shows the job running/done);
8. the idle worker's RSS and CPU%.

Timings are printed, never asserted: the exit status is 1 only when the tool itself failed.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_BASELINE = BENCH_DIR / "baseline.json"
QUICK_FILES = 300
TOUCHED_FILES = 50
SEED = 42

# 50 natural two-word queries, the kind a person types.
NATURAL_QUERIES: tuple[str, ...] = (
    "parse url",
    "read file",
    "http request",
    "thread lock",
    "json decode",
    "socket timeout",
    "temporary directory",
    "date format",
    "random number",
    "regular expression",
    "unicode error",
    "email header",
    "zip archive",
    "tar file",
    "csv writer",
    "sqlite connection",
    "async queue",
    "event loop",
    "subprocess pipe",
    "signal handler",
    "logging handler",
    "config parser",
    "command line",
    "argument parser",
    "hash digest",
    "base64 encode",
    "xml element",
    "html escape",
    "cookie jar",
    "ssl context",
    "file path",
    "string template",
    "binary search",
    "heap queue",
    "ordered dict",
    "named tuple",
    "data class",
    "abstract method",
    "context manager",
    "weak reference",
    "garbage collection",
    "import module",
    "unit test",
    "mock patch",
    "decimal context",
    "fraction arithmetic",
    "locale encoding",
    "terminal size",
    "process pool",
    "shared memory",
)

_CAMEL = re.compile(rb"\b[a-z]+(?:[A-Z][a-z0-9]+)+\b")
_SNAKE = re.compile(rb"\b[a-z]+(?:_[a-z0-9]+)+\b")
_WORD = re.compile(r"[a-z]{3,20}")


class BenchError(Exception):
    """The tool under test (or the benchmark's set-up) failed: exit status 1."""


# -- figures -----------------------------------------------------------------------------------


@dataclass
class Metric:
    key: str
    label: str
    value: float | None
    unit: str = ""
    budget: str = ""
    # Verdict: a function of the value, or None when the row has no budget.
    check: Callable[[float], bool] | None = None
    ref: str = ""  # the same-run reference, already formatted
    higher_is_better: bool = False


@dataclass
class Results:
    metrics: list[Metric] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def add(self, metric: Metric) -> None:
        self.metrics.append(metric)

    def metric(self, key: str) -> Metric:
        return next(m for m in self.metrics if m.key == key)

    def figures(self) -> dict[str, float | None]:
        return {m.key: m.value for m in self.metrics}


def pct(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), nearest-rank on the sorted values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit in ("calls", "files", "queries"):
        return f"{value:.0f}"
    if abs(value) >= 100:
        return f"{value:,.0f} {unit}".strip()
    if abs(value) >= 10:
        return f"{value:.1f} {unit}".strip()
    return f"{value:.2f} {unit}".strip()


# -- running things ------------------------------------------------------------------------------


def cq_command() -> list[str]:
    """``cq-lsp`` next to the running interpreter (the venv's), else ``python -m cq_lsp``."""
    exe = Path(sys.executable).parent / "cq-lsp"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("cq-lsp")
    return [found] if found else [sys.executable, "-m", "cq_lsp"]


def bench_env(tmp: Path) -> dict[str, str]:
    """The environment for every child: user config, data and git identity isolated in ``tmp``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CODEQUERY_", "CQ_LSP_"))}
    for name in ("config-home", "data-home"):
        (tmp / name).mkdir(exist_ok=True)
    env.update(
        {
            "CQ_LSP_CONFIG_HOME": str(tmp / "config-home"),
            "CQ_LSP_DATA_HOME": str(tmp / "data-home"),
            "GIT_AUTHOR_NAME": "cq-lsp bench",
            "GIT_AUTHOR_EMAIL": "bench@example.invalid",
            "GIT_COMMITTER_NAME": "cq-lsp bench",
            "GIT_COMMITTER_EMAIL": "bench@example.invalid",
            "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z",
            "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
        }
    )
    return env


class Runner:
    def __init__(self, root: Path, env: dict[str, str], verbose: bool) -> None:
        self.root = root
        self.env = env
        self.verbose = verbose
        self.cq = cq_command()

    def log(self, message: str) -> None:
        if self.verbose:
            print(f"[bench] {message}", file=sys.stderr, flush=True)

    def run(
        self, argv: Sequence[str], *, ok: Sequence[int] = (0,), cwd: Path | None = None
    ) -> tuple[subprocess.CompletedProcess[str], float]:
        """Run a command, return it and its wall time in seconds; BenchError on a bad exit."""
        started = time.perf_counter()
        proc = subprocess.run(
            list(argv),
            cwd=cwd or self.root,
            env=self.env,
            text=True,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
        elapsed = time.perf_counter() - started
        if proc.returncode not in ok:
            raise BenchError(
                f"`{' '.join(argv)}` exited with {proc.returncode}:\n{proc.stderr.strip()[-2000:]}"
            )
        return proc, elapsed

    def cq_json(self, *args: str, ok: Sequence[int] = (0,)) -> tuple[dict[str, Any], float]:
        proc, elapsed = self.run([*self.cq, "--root", str(self.root), *args, "--json"], ok=ok)
        try:
            data = json.loads(proc.stdout)
        except ValueError as exc:
            raise BenchError(
                f"`cq-lsp {' '.join(args)} --json` printed no JSON: "
                f"{proc.stdout[:500]!r} {proc.stderr[-1000:]!r}"
            ) from exc
        if not isinstance(data, dict):
            raise BenchError(f"`cq-lsp {' '.join(args)} --json` printed {type(data).__name__}")
        return data, elapsed

    def documenter_calls(self) -> int:
        """The index's documenter-call counter, read without a side effect: `cq-lsp status`
        would first queue every file it finds undocumented (auto mode) and start a worker, so
        `index --wait` would then follow work begun before it and count only part of it."""
        index_db = self.root / ".code-query" / "index.db"
        conn = sqlite3.connect(f"{index_db.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            row = conn.execute(
                "SELECT value FROM counters WHERE name = 'documenter_calls'"
            ).fetchone()
        finally:
            conn.close()
        return int(row[0]) if row else 0


# -- the corpus ----------------------------------------------------------------------------------


def stdlib_files(limit: int | None) -> tuple[Path, list[Path]]:
    """The stdlib's ``.py`` files (relative, sorted), without site-packages and __pycache__."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(stdlib):
        dirnames[:] = sorted(
            d for d in dirnames if d not in ("site-packages", "dist-packages", "__pycache__")
        )
        for name in sorted(filenames):
            if name.endswith(".py"):
                found.append(Path(dirpath, name).relative_to(stdlib))
    if limit is not None:
        found = found[:limit]
    return stdlib, found


def build_corpus(runner: Runner, limit: int | None) -> list[str]:
    stdlib, files = stdlib_files(limit)
    runner.log(f"copying {len(files)} .py files from {stdlib} to {runner.root}")
    for rel in files:
        dest = runner.root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(stdlib / rel, dest)
    runner.run(["git", "init", "-q", "-b", "main", "."])
    runner.run(["git", "add", "-A"])
    runner.run(["git", "commit", "-q", "-m", "corpus: CPython Lib/*.py"])
    return [rel.as_posix() for rel in files]


# -- queries -------------------------------------------------------------------------------------


def vocabulary(index_db: Path) -> list[str]:
    """Distinct terms of the FTS index (fts5vocab in the temp schema: the file is not written)."""
    conn = sqlite3.connect(f"{index_db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        conn.execute("CREATE VIRTUAL TABLE temp.bench_vocab USING fts5vocab(main, files_fts, row)")
        rows = conn.execute("SELECT term FROM temp.bench_vocab ORDER BY term").fetchall()
    finally:
        conn.close()
    return [t for (t,) in rows if _WORD.fullmatch(t)]


def identifiers(root: Path, files: Sequence[str]) -> tuple[list[str], list[str]]:
    camel: set[str] = set()
    snake: set[str] = set()
    for rel in files:
        data = (root / rel).read_bytes()
        camel.update(m.decode() for m in _CAMEL.findall(data))
        snake.update(m.decode() for m in _SNAKE.findall(data))
    return sorted(camel), sorted(snake)


def build_queries(root: Path, files: Sequence[str], index_db: Path) -> dict[str, list[str]]:
    rng = random.Random(SEED)
    vocab = vocabulary(index_db)
    words = rng.sample(vocab, min(100, len(vocab)))
    camel, snake = identifiers(root, files)
    ids = rng.sample(camel, min(25, len(camel))) + rng.sample(snake, min(25, len(snake)))
    return {"vocab": words, "natural": list(NATURAL_QUERIES), "identifier": ids}


# -- the measurements ----------------------------------------------------------------------------


def measure_index(runner: Runner, res: Results, n_files: int) -> None:
    runner.log("cq-lsp init")
    runner.cq_json("init")
    calls0 = runner.documenter_calls()
    runner.log(f"cq-lsp index --wait on {n_files} files")
    out, wall = runner.cq_json("index", "--wait", ok=(0, 1))
    wait = out.get("wait") or {}
    documented = int(wait.get("documented", 0))
    calls1 = runner.documenter_calls()
    res.details["index"] = {"output": out, "wallS": wall}
    if documented == 0:
        raise BenchError(f"index --wait documented nothing: {out}")
    res.add(Metric("corpus_files", "corpus .py files", n_files, "files"))
    res.add(
        Metric(
            "index_files_per_s",
            "index --wait: files/s (documented ÷ wall)",
            documented / wall,
            "files/s",
            "≥ 300",
            lambda v: v >= 300,
            higher_is_better=True,
        )
    )
    res.add(
        Metric(
            "index_tool_files_per_s",
            "index --wait: files/s (tool's wait.filesPerS)",
            wait.get("filesPerS"),
            "files/s",
            higher_is_better=True,
        )
    )
    res.add(Metric("index_wall_s", "index --wait: wall time", wall, "s"))
    res.add(
        Metric(
            "index_documenter_calls",
            "index --wait: documenter calls",
            calls1 - calls0,
            "calls",
            f"= {documented}",
            lambda v, d=documented: v == d,
        )
    )
    res.add(
        Metric(
            "index_failed",
            "index --wait: failed jobs",
            wait.get("newlyFailed", 0),
            "calls",
            "= 0",
            lambda v: v == 0,
        )
    )
    if out.get("skipped"):
        res.notes.append(f"{out['skipped']} file(s) were skipped by the path guard.")


def tracked_text_bytes(root: Path) -> int:
    """Bytes of the tracked files that are text (no NUL byte in their first 8 KB, as git's own
    binary test): what the index budget is a multiple of."""
    listed = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z"], capture_output=True, check=True
    ).stdout
    total = 0
    for rel in listed.split(b"\0"):
        if not rel:
            continue
        try:
            data = (root / os.fsdecode(rel)).read_bytes()
        except OSError:
            continue
        if b"\0" not in data[:8192]:
            total += len(data)
    return total


def index_size(state: Path) -> tuple[int, dict[str, int]]:
    """(bytes of every file under .code-query/, bytes per table and index of index.db)."""
    total = sum(p.stat().st_size for p in state.rglob("*") if p.is_file())
    conn = sqlite3.connect(f"{(state / 'index.db').resolve().as_uri()}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
    except sqlite3.OperationalError:  # a SQLite built without dbstat: the total alone
        rows = []
    finally:
        conn.close()
    return total, {str(n): int(b) for n, b in sorted(rows, key=lambda r: -r[1])}


def measure_size(runner: Runner, res: Results) -> None:
    """.code-query/ after the first index, against the text it indexes (budget ≤ 1×).

    Measured at rest: the VACUUM after a first index passes the whole database through
    index.db-wal (48 MB on CPython's Lib/), which the worker truncates once it is idle, a second
    or two later. That peak is in the details (``walPeakBytes``)."""
    text = tracked_text_bytes(runner.root)
    state = runner.root / ".code-query"
    peak, _ = index_size(state)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(
        w.exists() and w.stat().st_size for w in state.glob("*.db-wal")
    ):
        time.sleep(0.1)
    total, tables = index_size(state)
    res.details["size"] = {
        "textBytes": text,
        "codeQueryBytes": total,
        "walPeakBytes": peak - total,
        "indexDbTables": tables,
    }
    top = ", ".join(f"{n} {b / 1e6:.1f}" for n, b in list(tables.items())[:4])
    res.add(
        Metric(
            "index_size_ratio",
            "index size ÷ tracked text (.code-query/ after index)",
            total / text if text else None,
            "×",
            "≤ 1×",
            lambda v: v <= 1.0,
            ref=f"{total / 1e6:.1f} MB for {text / 1e6:.1f} MB; MB: {top}",
        )
    )


def measure_reindex(runner: Runner, res: Results, files: Sequence[str]) -> None:
    calls0 = runner.documenter_calls()
    runner.log("re-index, unchanged")
    out, wall = runner.cq_json("index", "--wait", ok=(0, 1))
    calls1 = runner.documenter_calls()
    res.details["reindexUnchanged"] = {"output": out, "wallS": wall}
    res.add(Metric("reindex_unchanged_s", "re-index unchanged: wall time", wall, "s"))
    res.add(
        Metric(
            "reindex_unchanged_calls",
            "re-index unchanged: documenter calls",
            calls1 - calls0,
            "calls",
            "= 0",
            lambda v: v == 0,
        )
    )

    rng = random.Random(SEED)
    touched = rng.sample(list(files), min(TOUCHED_FILES, len(files)))
    for rel in touched:
        with open(runner.root / rel, "a", encoding="utf-8") as fh:
            fh.write("\n# touched by bench/bench_index.py\n")
    runner.log(f"re-index after changing {len(touched)} files")
    out, wall = runner.cq_json("index", "--wait", ok=(0, 1))
    calls2 = runner.documenter_calls()
    res.details["reindexTouched"] = {"output": out, "wallS": wall}
    n = len(touched)
    res.add(Metric("reindex_touched_s", f"re-index, {n} files changed: wall time", wall, "s"))
    res.add(
        Metric(
            "reindex_touched_calls",
            f"re-index, {n} files changed: documenter calls",
            calls2 - calls1,
            "calls",
            f"= {n}",
            lambda v, n=n: v == n,
        )
    )


def measure_search(
    runner: Runner, res: Results, queries: dict[str, list[str]], passes: int
) -> None:
    from cq_lsp.store.db import Database
    from cq_lsp.store.search import search

    flat = [q for group in queries.values() for q in group]
    db = Database(runner.root / ".code-query" / "index.db")
    try:
        for q in flat:  # warm-up: page cache, statement cache
            search(db, q, limit=10)
        samples: list[float] = []
        by_group: dict[str, list[float]] = {g: [] for g in queries}
        empty = 0
        for _ in range(passes):
            for group, qs in queries.items():
                for q in qs:
                    t0 = time.perf_counter_ns()
                    out = search(db, q, limit=10)
                    ms = (time.perf_counter_ns() - t0) / 1e6
                    samples.append(ms)
                    by_group[group].append(ms)
                    empty += not out["results"]
    finally:
        db.close()
    slowest = sorted(zip(samples, flat * passes, strict=True), reverse=True)[:5]
    res.details["search"] = {
        "queries": queries,
        "passes": passes,
        "byGroup": {g: {"p50": pct(v, 50), "p99": pct(v, 99)} for g, v in by_group.items()},
        "emptyResults": empty // passes,
        "slowest": [[round(ms, 2), q] for ms, q in slowest],
    }
    res.add(
        Metric(
            "search_queries",
            "search in-process: queries",
            len(flat),
            "queries",
            ref=f"× {passes} passes, {empty // passes} with no result",
        )
    )
    res.add(
        Metric(
            "search_p50_ms",
            "search in-process: p50",
            pct(samples, 50),
            "ms",
            "≤ 2 ms",
            lambda v: v <= 2,
        )
    )
    res.add(Metric("search_p90_ms", "search in-process: p90", pct(samples, 90), "ms"))
    res.add(
        Metric(
            "search_p99_ms",
            "search in-process: p99",
            pct(samples, 99),
            "ms",
            "≤ 20 ms",
            lambda v: v <= 20,
        )
    )
    res.add(
        Metric(
            "search_max_ms", "search in-process: max", max(samples), "ms", ref=f"{slowest[0][1]!r}"
        )
    )


def _walls(runner: Runner, argv: Sequence[str], runs: int) -> list[float]:
    runner.run(argv)  # warm-up
    return [runner.run(argv)[1] * 1000 for _ in range(runs)]


def measure_cli(runner: Runner, res: Results, queries: Sequence[str], runs: int) -> None:
    runner.log(f"CLI search × {runs}, python startup × {runs}")
    py = sys.executable
    base_pass = _walls(runner, [py, "-c", "pass"], runs)
    base_imp = _walls(runner, [py, "-c", "import sqlite3, json, argparse"], runs)
    runner.run([*runner.cq, "search", queries[0], "--json"])  # warm-up
    walls: list[float] = []
    for i in range(runs):
        q = queries[i % len(queries)]
        _, wall = runner.run([*runner.cq, "search", q, "--json"])
        walls.append(wall * 1000)
    ref = (
        f"python -c pass {pct(base_pass, 50):.0f} ms; "
        f"+import sqlite3,json,argparse {pct(base_imp, 50):.0f} ms"
    )
    res.add(
        Metric(
            "cli_search_p50_ms",
            "cq-lsp search: wall p50",
            pct(walls, 50),
            "ms",
            "≤ 150 ms",
            lambda v: v <= 150,
            ref=ref,
        )
    )
    res.add(
        Metric(
            "cli_search_p95_ms",
            "cq-lsp search: wall p95",
            pct(walls, 95),
            "ms",
            "≤ 150 ms",
            lambda v: v <= 150,
        )
    )
    res.add(Metric("python_pass_p50_ms", "python -c pass: wall p50", pct(base_pass, 50), "ms"))
    res.add(
        Metric(
            "python_imports_p50_ms",
            "python -c 'import sqlite3,json,argparse': p50",
            pct(base_imp, 50),
            "ms",
        )
    )


def measure_ctags(runner: Runner, res: Results, n_files: int) -> float | None:
    ctags = shutil.which("ctags")
    if ctags is None:
        res.notes.append("ctags is not on PATH: no reference row (apt-get install universal-ctags)")
        return None
    version = subprocess.run(
        [ctags, "--version"], capture_output=True, text=True, check=False
    ).stdout
    if "Universal Ctags" not in version:
        res.notes.append(f"{ctags} is not universal-ctags: no reference row")
        return None
    argv = [
        ctags,
        "-R",
        "--languages=Python",
        "--exclude=.code-query",
        "--output-format=json",
        "-f",
        os.devnull,
        ".",
    ]
    runner.log("ctags -R × 3")
    walls = [runner.run(argv)[1] for _ in range(3)]
    wall = statistics.median(walls)
    rate = n_files / wall
    res.add(
        Metric(
            "ctags_files_per_s",
            "ctags -R files/s (reference, 1 thread)",
            rate,
            "files/s",
            higher_is_better=True,
            ref=version.split(",")[0].strip(),
        )
    )
    return rate


def _ledger_row(
    conn: sqlite3.Connection, rel: str
) -> tuple[str, float | None, float | None, float | None] | None:
    row = conn.execute(
        "SELECT state, queued_at, started_at, finished_at FROM jobs WHERE path=?", (rel,)
    ).fetchone()
    return None if row is None else (row[0], row[1], row[2], row[3])


def measure_pickup(
    runner: Runner, res: Results, files: Sequence[str], runs: int, idle_s: float
) -> None:
    status, _ = runner.cq_json("status")
    if status["worker"]["state"] != "running":
        runner.log("starting the worker for the pickup measurement")
        runner.cq_json("worker", "start")
    sizes = sorted((os.path.getsize(runner.root / f), f) for f in files)
    target = next((f for s, f in sizes if 2000 <= s <= 8000), sizes[len(sizes) // 2][1])
    index_db = runner.root / ".code-query" / "index.db"
    conn = sqlite3.connect(f"{index_db.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    rng = random.Random(SEED)
    pickups: list[float] = []
    queued_to_done: list[float] = []
    end_to_end: list[float] = []
    cli_walls: list[float] = []
    runner.log(f"pickup latency × {runs} on {target} ({idle_s:.0f} s+ idle before each)")
    try:
        for i in range(runs):
            time.sleep(idle_s + rng.uniform(0, 0.5))
            with open(runner.root / target, "a", encoding="utf-8") as fh:
                fh.write(f"# pickup {i}\n")
            t0 = time.time()
            _, wall = runner.cq_json("index", target)
            cli_walls.append(wall * 1000)
            deadline = time.monotonic() + 30
            while True:
                row = _ledger_row(conn, target)
                if row and row[0] in ("done", "failed") and row[1] and row[1] >= t0:
                    t_seen = time.time()
                    break
                if time.monotonic() > deadline:
                    raise BenchError(f"{target} was not documented within 30 s: {row}")
                time.sleep(0.002)
            state, queued_at, started_at, finished_at = row
            if state != "done":
                raise BenchError(f"documenting {target} failed")
            if started_at is not None and queued_at is not None:
                pickups.append((started_at - queued_at) * 1000)
            if finished_at is not None and queued_at is not None:
                queued_to_done.append((finished_at - queued_at) * 1000)
            end_to_end.append((t_seen - t0) * 1000)
    finally:
        conn.close()
    res.details["pickup"] = {
        "target": target,
        "pickupMs": pickups,
        "queuedToDoneMs": queued_to_done,
        "endToEndMs": end_to_end,
    }
    if pickups:
        res.add(
            Metric(
                "pickup_p50_ms",
                "worker pickup after idle: p50 (queued→started)",
                pct(pickups, 50),
                "ms",
                "≤ 500 ms (p95)",
                None,
            )
        )
        res.add(
            Metric(
                "pickup_p95_ms",
                "worker pickup after idle: p95 (queued→started)",
                pct(pickups, 95),
                "ms",
                "≤ 500 ms",
                lambda v: v <= 500,
            )
        )
    else:
        res.notes.append("the ledger recorded no started_at: no pickup figures")
    res.add(
        Metric(
            "index_path_done_p50_ms",
            "`cq-lsp index PATH` start → done seen: p50",
            pct(end_to_end, 50),
            "ms",
            ref=f"CLI wall p50 {pct(cli_walls, 50):.0f} ms",
        )
    )
    res.add(
        Metric(
            "index_path_done_p95_ms",
            "`cq-lsp index PATH` start → done seen: p95",
            pct(end_to_end, 95),
            "ms",
        )
    )


def measure_idle_worker(runner: Runner, res: Results, window_s: float) -> None:
    """RSS and CPU of the idle worker's whole process tree (the consumer and its forked
    workers); bench_worker.py also reports PSS, which counts shared pages once."""
    import psutil

    worker_json = runner.root / ".code-query" / "worker.json"
    try:
        pid = int(json.loads(worker_json.read_text(encoding="utf-8"))["pid"])
        proc = psutil.Process(pid)
    except (OSError, ValueError, KeyError, psutil.Error) as exc:
        raise BenchError(f"no running worker to measure ({worker_json}): {exc}") from exc
    time.sleep(3.0)  # let it go idle after the last job

    def tree() -> list[psutil.Process]:
        return [proc, *proc.children(recursive=True)]

    def cpu_s() -> float:
        total = 0.0
        for p in tree():
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        return total

    procs = tree()
    runner.log(f"idle worker {pid} ({len(procs)} processes): RSS and CPU over {window_s:.0f} s")
    c0, t0 = cpu_s(), time.monotonic()
    time.sleep(window_s)
    cpu = (cpu_s() - c0) / (time.monotonic() - t0) * 100
    rss = sum(p.memory_info().rss for p in procs) / 2**20
    pss = sum(getattr(p.memory_full_info(), "pss", 0) for p in procs) / 2**20
    res.add(
        Metric(
            "worker_idle_pss_mb",
            f"idle worker memory: PSS of its {len(procs)} processes",
            pss or None,
            "MiB",
            "≤ 100 MB",
            lambda v: v * 2**20 <= 100e6,
        )
    )
    res.add(
        Metric(
            "worker_idle_rss_mb",
            f"idle worker RSS, {len(procs)} processes summed (shared pages in each)",
            rss,
            "MiB",
            ref="upper bound; the ≤ 100 MB budget is on PSS",
        )
    )
    res.add(
        Metric(
            "worker_idle_cpu_pct",
            f"idle worker CPU over {window_s:.0f} s, all processes",
            cpu,
            "%",
            "≤ 1 %",
            lambda v: v <= 1,
        )
    )


# -- baseline and output -------------------------------------------------------------------------


def load_baseline(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("figures"), dict) else None


def save_baseline(path: Path, res: Results, quick: bool) -> None:
    data = {
        "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "quick": quick,
        "python": platform.python_version(),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        "figures": {
            k: (round(v, 3) if isinstance(v, float) else v) for k, v in res.figures().items()
        },
    }
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _change(metric: Metric, baseline: dict[str, Any] | None, quick: bool) -> str:
    if baseline is None:
        return ""
    if bool(baseline.get("quick")) != quick:
        return "n/a (quick≠full)"
    old = baseline["figures"].get(metric.key)
    if old is None or metric.value is None:
        return "—"
    text = fmt(float(old), metric.unit)
    if old == 0:
        return text
    change = (metric.value - old) / abs(old) * 100
    return f"{text} ({change:+.0f}%)"


def print_table(
    res: Results,
    baseline: dict[str, Any] | None,
    quick: bool,
    baseline_path: Path,
    title: str = "cq-lsp benchmark",
) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 150)
    saved = "saved baseline" + (f" {baseline.get('saved_at', '')}" if baseline else "") + " (Δ)"
    table = Table(
        title=f"{title}{' (quick)' if quick else ''} — "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs"
    )
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("budget")
    table.add_column("same-run baseline")
    table.add_column(saved)
    table.add_column("verdict", justify="center")
    for m in res.metrics:
        if m.check is None or m.value is None:
            verdict = ""
        else:
            verdict = "[green]✓[/]" if m.check(float(m.value)) else "[red]✗[/]"
        table.add_row(
            m.label, fmt(m.value, m.unit), m.budget, m.ref, _change(m, baseline, quick), verdict
        )
    console.print(table)
    if baseline is None:
        console.print(f"no saved baseline at {baseline_path} (`--save-baseline` writes one)")
    for note in res.notes:
        console.print(f"note: {note}")


# -- main ----------------------------------------------------------------------------------------


def run(args: argparse.Namespace, tmp: Path, res: Results) -> None:
    root = tmp / "corpus"
    root.mkdir()
    runner = Runner(root, bench_env(tmp), verbose=not args.json)
    files = build_corpus(runner, QUICK_FILES if args.quick else None)
    try:
        measure_index(runner, res, len(files))
        measure_size(runner, res)
        ctags_rate = measure_ctags(runner, res, len(files))
        if ctags_rate is not None:
            res.metric("index_files_per_s").ref = f"ctags -R {ctags_rate:,.0f} files/s"
        measure_reindex(runner, res, files)
        queries = build_queries(root, files, root / ".code-query" / "index.db")
        measure_search(runner, res, queries, passes=3)
        flat = [q for group in queries.values() for q in group]
        measure_cli(runner, res, flat[::7], args.cli_runs)
        measure_pickup(runner, res, files, args.pickup_runs, args.idle)
        measure_idle_worker(runner, res, 5.0)
    finally:
        try:
            runner.cq_json("worker", "stop")
        except BenchError as exc:
            print(f"[bench] warning: worker stop failed: {exc}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"only the first {QUICK_FILES} files and fewer repeats (smoke run)",
    )
    p.add_argument("--json", action="store_true", help="print the figures as JSON, no table")
    p.add_argument("--keep", action="store_true", help="keep the temporary corpus and its index")
    p.add_argument(
        "--save-baseline", action="store_true", help="write this run's figures to the baseline file"
    )
    p.add_argument(
        "--baseline",
        type=Path,
        default=DEFAULT_BASELINE,
        metavar="FILE",
        help="the baseline to compare with (default: bench/baseline.json)",
    )
    p.add_argument(
        "--cli-runs",
        type=int,
        default=None,
        metavar="N",
        help="cq-lsp search runs (default 30; 10 with --quick)",
    )
    p.add_argument(
        "--pickup-runs",
        type=int,
        default=None,
        metavar="N",
        help="pickup measurements (default 20; 5 with --quick)",
    )
    p.add_argument(
        "--idle",
        type=float,
        default=3.0,
        metavar="S",
        help="idle seconds before each pickup measurement (default 3)",
    )
    args = p.parse_args(argv)
    if args.cli_runs is None:
        args.cli_runs = 10 if args.quick else 30
    if args.pickup_runs is None:
        args.pickup_runs = 5 if args.quick else 20

    return execute(args, run, prefix="cq-lsp-bench-", title=None)


def execute(
    args: argparse.Namespace,
    run_fn: Callable[[argparse.Namespace, Path, Results], None],
    *,
    prefix: str,
    title: str | None,
) -> int:
    """Run a benchmark in a temporary directory, then print its table (or JSON), the load it
    ran under, any error, and save the baseline when asked. Shared by the bench_* scripts."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    res = Results()
    failed: BaseException | None = None
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    try:
        run_fn(args, tmp, res)
    except Exception as exc:  # BenchError, a failed subprocess, a CqLspError: the tool failed
        failed = exc
    finally:
        if args.keep:
            print(f"[bench] kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if load_before is not None:
        load_after = os.getloadavg()[0]
        res.details["loadavg1"] = {"before": load_before, "after": load_after}
        res.notes.append(
            f"1-min load average {load_before:.2f} before, {load_after:.2f} after the run "
            f"({os.cpu_count()} CPUs): other processes' load skews every timing."
        )
    baseline = load_baseline(args.baseline)
    if args.json:
        out = {
            "quick": args.quick,
            "figures": res.figures(),
            "notes": res.notes,
            "details": res.details,
            "baseline": baseline,
            "error": None if failed is None else str(failed),
        }
        print(json.dumps(out, indent=2, default=str))
    elif res.metrics:
        if title is None:
            print_table(res, baseline, args.quick, args.baseline)
        else:
            print_table(res, baseline, args.quick, args.baseline, title=title)
    if failed is not None:
        print(f"[bench] error: {failed}", file=sys.stderr)
        return 1
    if args.save_baseline:
        save_baseline(args.baseline, res, args.quick)
        print(f"[bench] saved the figures to {args.baseline}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
