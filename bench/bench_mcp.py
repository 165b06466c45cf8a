"""Benchmark `cq-lsp mcp`: start → initialize answered, search tool round trip, idle memory.

The corpus is bench_index.py's: the running Python's ``Lib/*.py`` copied into a temporary git
repository, committed, and documented with ``cq-lsp index --wait`` (default configuration).
The server is the real program on stdio, spoken to in raw newline-delimited JSON-RPC (MCP's stdio
framing), so the client's own cost is not in the figures.

Budgets (docs/architecture.md, issue 17): start → initialize ≤ 300 ms; search round trip
p50 ≤ 20 ms; idle RSS ≤ 60 MB. Printed, never asserted; exit status 1 only when something failed.

    .venv/bin/python bench/bench_mcp.py [--quick] [--json] [--runs N] [--calls N] [--keep]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from bench_index import (  # noqa: E402
    NATURAL_QUERIES,
    QUICK_FILES,
    BenchError,
    Runner,
    bench_env,
    build_corpus,
)

IDENTIFIER_QUERIES = (
    "urlparse",
    "HTTPConnection",
    "TemporaryDirectory",
    "JSONDecodeError",
    "ThreadPoolExecutor",
    "parse_args",
    "getLogger",
    "namedtuple",
    "SequenceMatcher",
    "run_until_complete",
)


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


class McpProcess:
    """`cq-lsp mcp` on stdio, spoken to line by line."""

    def __init__(self, runner: Runner) -> None:
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [*runner.cq, "mcp"],
            cwd=runner.root,
            env=runner.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )
        self.next_id = 0

    @property
    def stdin(self) -> IO[str]:
        assert self.proc.stdin is not None
        return self.proc.stdin

    def request(self, method: str, params: dict[str, Any]) -> tuple[dict[str, Any], float]:
        self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}
        t0 = time.perf_counter()
        self.stdin.write(json.dumps(msg) + "\n")
        self.stdin.flush()
        assert self.proc.stdout is not None
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise BenchError(f"cq-lsp mcp exited during {method}")
            answer = json.loads(line)
            if answer.get("id") == self.next_id:
                return answer, time.perf_counter() - t0

    def initialize(self) -> float:
        """Seconds from the process start to the initialize result."""
        answer, _ = self.request(
            "initialize",
            {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "bench_mcp", "version": "0"},
            },
        )
        if "result" not in answer:
            raise BenchError(f"initialize failed: {answer}")
        elapsed = time.perf_counter() - self.started
        self.stdin.write(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        self.stdin.write("\n")
        self.stdin.flush()
        return elapsed

    def close(self) -> None:
        try:
            self.stdin.close()
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


def measure(runner: Runner, runs: int, calls: int) -> dict[str, Any]:
    py = sys.executable
    ref = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([py, "-c", "import mcp.server.lowlevel"], check=True, env=runner.env)
        ref.append(time.perf_counter() - t0)
    # The SDK alone: its import's peak RSS (KB on Linux), the floor under the server's.
    out = subprocess.run(
        [py, "-c", "import mcp.server.lowlevel, mcp.server.stdio, resource; "
         "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"],
        check=True, env=runner.env, capture_output=True, text=True,
    ).stdout  # fmt: skip
    sdk_rss = int(out.strip()) * 1024
    starts = []
    for _ in range(runs):
        server = McpProcess(runner)
        starts.append(server.initialize())
        server.close()

    server = McpProcess(runner)
    server.initialize()
    queries = [*NATURAL_QUERIES, *IDENTIFIER_QUERIES]
    rtts: list[float] = []
    empty = 0
    try:
        for q in queries[:5]:  # warm-up: first connection, page cache
            server.request("tools/call", {"name": "search", "arguments": {"query": q}})
        for i in range(calls):
            q = queries[i % len(queries)]
            answer, rtt = server.request(
                "tools/call", {"name": "search", "arguments": {"query": q, "limit": 10}}
            )
            result = answer.get("result") or {}
            if result.get("isError") or "error" in answer:
                raise BenchError(f"search {q!r} failed: {answer}")
            if not result.get("structuredContent", {}).get("results"):
                empty += 1
            rtts.append(rtt)
        catchup = []
        for _ in range(5):
            answer, rtt = server.request(
                "tools/call", {"name": "find_files_needing_catchup", "arguments": {}}
            )
            if (answer.get("result") or {}).get("isError") or "error" in answer:
                raise BenchError(f"find_files_needing_catchup failed: {answer}")
            catchup.append(rtt)
        time.sleep(2.0)
        import psutil

        proc = psutil.Process(server.proc.pid)
        rss = proc.memory_info().rss
        try:
            pss = proc.memory_full_info().pss
        except (psutil.AccessDenied, AttributeError):
            pss = None
    finally:
        server.close()
    return {
        "import_mcp_p50_s": pct(ref, 50),
        "start_initialize_p50_s": pct(starts, 50),
        "start_initialize_max_s": max(starts),
        "search_rtt_p50_s": pct(rtts, 50),
        "search_rtt_p95_s": pct(rtts, 95),
        "search_rtt_max_s": max(rtts),
        "search_calls": len(rtts),
        "search_empty": empty,
        "catchup_rtt_p50_s": pct(catchup, 50),
        "idle_rss_bytes": rss,
        "idle_pss_bytes": pss,
        "sdk_import_rss_bytes": sdk_rss,
    }


def table(fig: dict[str, Any], n_files: int) -> str:
    def ms(v: float) -> str:
        return f"{v * 1000:.1f} ms"

    def mb(v: float | None) -> str:
        return "n/a" if v is None else f"{v / 1e6:.1f} MB"

    def verdict(ok: bool) -> str:
        return "✓" if ok else "✗"

    rows = [
        ("corpus .py files (documented)", str(n_files), "", "", ""),
        (
            "start → initialize answered: p50",
            ms(fig["start_initialize_p50_s"]),
            "≤ 300 ms",
            f"import mcp.server.lowlevel {ms(fig['import_mcp_p50_s'])}",
            verdict(fig["start_initialize_p50_s"] <= 0.3),
        ),
        ("start → initialize answered: max", ms(fig["start_initialize_max_s"]), "", "", ""),
        (
            "search tool round trip: p50",
            ms(fig["search_rtt_p50_s"]),
            "≤ 20 ms",
            f"{fig['search_calls']} calls, {fig['search_empty']} empty",
            verdict(fig["search_rtt_p50_s"] <= 0.02),
        ),
        ("search tool round trip: p95", ms(fig["search_rtt_p95_s"]), "", "", ""),
        ("search tool round trip: max", ms(fig["search_rtt_max_s"]), "", "", ""),
        (
            "find_files_needing_catchup round trip: p50",
            ms(fig["catchup_rtt_p50_s"]),
            "",
            "git ls-files -s + diff-files + ledger",
            "",
        ),
        (
            "idle RSS (after the searches)",
            mb(fig["idle_rss_bytes"]),
            "≤ 60 MB",
            f"PSS {mb(fig['idle_pss_bytes'])}; importing the SDK {mb(fig['sdk_import_rss_bytes'])}",
            verdict(fig["idle_rss_bytes"] <= 60e6),
        ),
    ]
    head = ("row", "value", "budget", "same-run reference", "verdict")
    widths = [max(len(r[i]) for r in (head, *rows)) for i in range(5)]
    lines = [" | ".join(c.ljust(w) for c, w in zip(head, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    lines += [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help=f"first {QUICK_FILES} files only")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--runs", type=int, default=10, help="server starts to time (default 10)")
    ap.add_argument("--calls", type=int, default=200, help="search calls to time (default 200)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary repository")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="cq-bench-mcp-"))
    root = tmp / "lib"
    root.mkdir()
    runner = Runner(root, bench_env(tmp), verbose=True)
    try:
        files = build_corpus(runner, QUICK_FILES if args.quick else None)
        runner.cq_json("init")
        runner.log("documenting the corpus (cq-lsp index --wait)")
        runner.cq_json("index", "--wait")
        runner.log("measuring cq-lsp mcp")
        fig = measure(runner, args.runs, args.calls)
    except BenchError as exc:
        print(f"bench_mcp: {exc}", file=sys.stderr)
        return 1
    finally:
        runner.run([*runner.cq, "--root", str(root), "worker", "stop"], ok=(0, 1, 2))
        if args.keep:
            print(f"[bench] kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        print(json.dumps({"files": len(files), **fig}, indent=2))
    else:
        print(table(fig, len(files)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
