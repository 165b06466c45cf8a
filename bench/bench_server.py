"""Benchmark the language server against the budgets of docs/architecture.md, in one run:

1. server start → ``initialize`` answered, next to ``python -c "import pygls.lsp.server"``
   (interleaved, so both see the same machine load); budget: ≤ 0.1 s above the reference;
2. didSave → the job durably in the ledger, with 10,000 jobs already queued (manual mode, so the
   queue stays full); budget p95 ≤ 10 ms. Measured from the client: the save is sent, then the
   ledger is polled read-only every 0.5 ms, so the figure includes that polling granularity;
3. didSave → a ``cq/status`` that shows the file done (static documenter, auto mode), with the
   default ``debounce_ms`` (1000) and with 0; budget p95 ≤ 1.5 s;
4. the idle server's RSS; budget ≤ 80 MB;
5. floods (``--floods`` runs only these): 5,000 didSave sent at once with ``debounce_ms`` 0, one
   didChangeWatchedFiles with 200,000 changes, a 20 MB search query — each followed by 20
   ``cq.status`` requests in a row; budget p95 ≤ 100 ms (the first one after a flood included).

Timings are printed, never asserted.
Usage: ``.venv/bin/python bench/bench_server.py [--quick] [--floods]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from lsprotocol import types
from pytest_lsp import client_capabilities
from pytest_lsp.plugin import make_test_lsp_client

GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
}


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def cq(root: Path, env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "cq_lsp", *args], cwd=root, env=env, check=True, capture_output=True
    )


def make_repo(root: Path, n: int, env: dict[str, str]) -> Path:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    for i in range(n):
        d = root / f"pkg{i // 500}"
        d.mkdir(exist_ok=True)
        (d / f"mod{i}.py").write_text(
            f'"""Module {i}."""\n\n\ndef compute_{i}(x):\n    """Compute {i}."""\n'
            f"    return x * {i}\n"
        )
    git(root, "add", "-A")
    subprocess.run(
        ["git", "-C", str(root), "commit", "-qm", "init"], check=True, capture_output=True, env=env
    )
    cq(root, env, "init")
    return root


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


async def start(root: Path, env: dict[str, str], options: dict[str, Any]) -> Any:
    client = make_test_lsp_client()
    client.cq = []

    @client.feature("cq/status")
    def on_status(params: Any) -> None:
        client.cq.append((time.perf_counter(), params))

    @client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def on_register(params: Any) -> None:
        return None  # an editor would start watching; the bench saves explicitly

    await client.start_io(
        sys.executable, "-m", "cq_lsp", "--stdio", "--log-level", "warning", env=env, cwd=str(root)
    )
    await client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            process_id=os.getpid(),
            root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
            initialization_options=options,
        )
    )
    return client


def bench_startup(root: Path, env: dict[str, str], runs: int) -> dict[str, float]:
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"processId": None, "rootUri": root.as_uri(), "capabilities": {}},
    }
    body = json.dumps(init).encode()
    message = f"Content-Length: {len(body)}\r\n\r\n".encode() + body
    server_times: list[float] = []
    ref_times: list[float] = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import pygls.lsp.server"], check=True, env=env)
        ref_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "cq_lsp", "--stdio"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=str(root),
        )
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(message)
        proc.stdin.flush()
        header = proc.stdout.readline()  # Content-Length of the initialize result
        server_times.append(time.perf_counter() - t0)
        assert header.startswith(b"Content-Length"), header
        proc.kill()
        proc.wait()
    return {
        "reference_median_s": statistics.median(ref_times),
        "server_median_s": statistics.median(server_times),
        "overhead_s": statistics.median(server_times) - statistics.median(ref_times),
    }


async def bench_save_to_ledger(root: Path, env: dict[str, str], saves: int) -> dict[str, Any]:
    options = {"processing": {"mode": "manual"}, "config": {"processing": {"debounce_ms": 0}}}
    client = await start(root, env, options)
    db = sqlite3.connect(f"file:{root / '.code-query' / 'index.db'}?mode=ro", uri=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        queued = db.execute("SELECT COUNT(*) FROM jobs WHERE state='queued'").fetchone()[0]
        if queued >= 10_000:
            break
        await asyncio.sleep(0.2)
    latencies: list[float] = []
    target = root / "pkg0" / "mod1.py"

    def sha() -> str | None:
        row = db.execute("SELECT sha FROM jobs WHERE path='pkg0/mod1.py'").fetchone()
        return row[0] if row else None

    for i in range(saves):
        previous = sha()
        target.write_text(f"def saved_{i}():\n    return {i}\n")  # new content: a new sha
        t0 = time.perf_counter()
        client.text_document_did_save(
            types.DidSaveTextDocumentParams(
                text_document=types.TextDocumentIdentifier(uri=target.as_uri())
            )
        )
        while sha() == previous:
            await asyncio.sleep(0.0005)
            if time.perf_counter() - t0 > 10:
                raise RuntimeError("save never reached the ledger")
        latencies.append(time.perf_counter() - t0)
    rss = psutil.Process(client._server.pid).memory_info().rss
    await client.shutdown_session()
    return {
        "queued": queued,
        "p50_ms": pct(latencies, 50) * 1000,
        "p95_ms": pct(latencies, 95) * 1000,
        "server_rss": rss,
    }


async def bench_save_to_done(
    root: Path, env: dict[str, str], saves: int, debounce_ms: int
) -> dict[str, Any]:
    options = {"config": {"processing": {"debounce_ms": debounce_ms}}}
    client = await start(root, env, options)

    def done_count() -> tuple[int, bool] | None:
        if not client.cq:
            return None
        st = client.cq[-1][1]
        q = st.queue
        return q.done, q.queued == 0 and q.running == 0

    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        dc = done_count()
        if dc and dc[1] and dc[0] > 0:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)
    latencies: list[float] = []
    for i in range(saves):
        target = root / "pkg0" / f"fresh{i}_{debounce_ms}.py"
        target.write_text(f"def fresh_{i}():\n    return {i}\n")
        before = done_count()
        assert before is not None
        seen = len(client.cq)
        t0 = time.perf_counter()
        client.text_document_did_save(
            types.DidSaveTextDocumentParams(
                text_document=types.TextDocumentIdentifier(uri=target.as_uri())
            )
        )
        while True:
            arrived = [(t, st) for t, st in client.cq[seen:]]
            hit = next(
                (
                    t
                    for t, st in arrived
                    if st.queue.done > before[0] and st.queue.queued == 0 and st.queue.running == 0
                ),
                None,
            )
            if hit is not None:
                latencies.append(hit - t0)
                break
            if time.perf_counter() - t0 > 30:
                raise RuntimeError("the saved file never showed as done")
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)
    pid = client._server.pid
    await asyncio.sleep(3.0)  # let the last job's status settle: then the server is idle
    rss = psutil.Process(pid).memory_info().rss
    proc = psutil.Process(pid)
    proc.cpu_percent(None)
    await asyncio.sleep(10.0)
    cpu = proc.cpu_percent(None)
    await client.shutdown_session()
    return {
        "p50_s": pct(latencies, 50),
        "p95_s": pct(latencies, 95),
        "idle_rss": rss,
        "idle_cpu_pct": cpu,
    }


async def _status_latencies(client: Any, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="cq.status", arguments=[])
        )
        out.append((time.perf_counter() - t0) * 1000)
    return out


async def bench_floods(root: Path, env: dict[str, str], n_status: int = 20) -> dict[str, Any]:
    """cq.status latency (ms) at rest and right after each flood."""
    options = {"config": {"processing": {"debounce_ms": 0, "mode": "manual"}}}
    client = await start(root, env, options)
    files = sorted(root.glob("pkg*/mod*.py"))
    out: dict[str, Any] = {}
    await asyncio.sleep(1.0)
    out["idle"] = await _status_latencies(client, n_status)
    for i in range(5000):
        client.text_document_did_save(
            types.DidSaveTextDocumentParams(
                text_document=types.TextDocumentIdentifier(uri=files[i % len(files)].as_uri())
            )
        )
    out["saves_5000"] = await _status_latencies(client, n_status)
    changes = [
        types.FileEvent(uri=files[i % len(files)].as_uri(), type=types.FileChangeType.Changed)
        for i in range(200_000)
    ]
    client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(changes=changes))
    out["watched_200k"] = await _status_latencies(client, n_status)
    t0 = time.perf_counter()
    try:
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="cq.search", arguments=["x" * 20_000_000])
        )
    except Exception:  # refused: the query is over the cap
        pass
    out["search_20mb_ms"] = (time.perf_counter() - t0) * 1000
    out["after_search"] = await _status_latencies(client, n_status)
    await client.shutdown_session()
    return out


def print_floods(floods: dict[str, Any]) -> None:
    print("cq.status latency (ms), 20 requests in a row after each flood; budget p95 ≤ 100 ms")
    print(f"{'after':<22}{'first':>8}{'p50':>8}{'p95':>8}{'max':>8}")
    for key in ("idle", "saves_5000", "watched_200k", "after_search"):
        v = floods[key]
        print(f"{key:<22}{v[0]:>8.1f}{pct(v, 50):>8.1f}{pct(v, 95):>8.1f}{max(v):>8.1f}")
    print(f"20 MB cq.search query refused in {floods['search_20mb_ms']:.0f} ms")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer runs (a smoke test)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--floods", action="store_true", help="only the flood benchmark (5.)")
    args = ap.parse_args()
    runs, saves = (3, 10) if args.quick else (10, 40)
    tmp = Path(tempfile.mkdtemp(prefix="cq-bench-server-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEQUERY_")}
    env.update(GIT_ENV)
    env["CQ_LSP_CONFIG_HOME"] = str(tmp / "user-config")
    env["CQ_LSP_DATA_HOME"] = str(tmp / "user-data")
    results: dict[str, Any] = {}
    if args.floods:
        try:
            floods = asyncio.run(bench_floods(make_repo(tmp / "floods", 1000, env), env))
        finally:
            subprocess.run(["rm", "-rf", str(tmp)], check=False)
        if args.json:
            print(json.dumps(floods, indent=2))
        else:
            print_floods(floods)
        return 0
    try:
        small = make_repo(tmp / "small", 200, env)
        results["floods"] = asyncio.run(bench_floods(small, env))
        results["startup"] = bench_startup(small, env, runs)
        results["save_done_debounce0"] = asyncio.run(bench_save_to_done(small, env, saves, 0))
        results["save_done_default"] = asyncio.run(
            bench_save_to_done(small, env, max(5, saves // 4), 1000)
        )
        subprocess.run(
            [sys.executable, "-m", "cq_lsp", "worker", "stop"],
            cwd=small,
            env=env,
            capture_output=True,
        )
        big = make_repo(tmp / "big", 10_050, env)
        results["save_ledger"] = asyncio.run(bench_save_to_ledger(big, env, saves))
    finally:
        for r in ("small", "big"):
            if (tmp / r).exists():
                subprocess.run(
                    [sys.executable, "-m", "cq_lsp", "worker", "stop"],
                    cwd=tmp / r,
                    env=env,
                    capture_output=True,
                )
        subprocess.run(["rm", "-rf", str(tmp)], check=False)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    s, d0, dd, led = (
        results["startup"],
        results["save_done_debounce0"],
        results["save_done_default"],
        results["save_ledger"],
    )
    mib = 1024 * 1024
    rows = [
        (
            "start → initialize answered (median)",
            f"{s['server_median_s'] * 1000:.0f} ms",
            f"ref {s['reference_median_s'] * 1000:.0f} ms; +{s['overhead_s'] * 1000:.0f} ms",
            "≤ +100 ms",
            s["overhead_s"] <= 0.1,
        ),
        (
            f"didSave → ledger, {led['queued']:,} queued (p95)",
            f"{led['p95_ms']:.1f} ms",
            f"p50 {led['p50_ms']:.1f} ms",
            "≤ 10 ms",
            led["p95_ms"] <= 10,
        ),
        (
            "didSave → cq/status done, debounce 0 (p95)",
            f"{d0['p95_s'] * 1000:.0f} ms",
            f"p50 {d0['p50_s'] * 1000:.0f} ms",
            "≤ 1500 ms",
            d0["p95_s"] <= 1.5,
        ),
        (
            "didSave → cq/status done, debounce 1000 (p95)",
            f"{dd['p95_s'] * 1000:.0f} ms",
            f"p50 {dd['p50_s'] * 1000:.0f} ms",
            "≤ 1500 ms",
            dd["p95_s"] <= 1.5,
        ),
        (
            "idle server RSS",
            f"{d0['idle_rss'] / mib:.0f} MiB",
            f"CPU {d0['idle_cpu_pct']:.1f} %",
            "≤ 80 MB",
            d0["idle_rss"] <= 80e6,
        ),
    ]
    print_floods(results["floods"])
    try:
        from rich.console import Console
        from rich.table import Table

        table = Table(title="cq-lsp language server")
        for col in ("what", "measured", "detail", "budget", ""):
            table.add_column(col)
        for what, value, detail, budget, ok in rows:
            table.add_row(what, value, detail, budget, "[green]✓[/]" if ok else "[red]✗[/]")
        Console().print(table)
    except ImportError:  # pragma: no cover
        for row in rows:
            print(" | ".join(map(str, row)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
