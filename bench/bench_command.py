"""Benchmark the command (LLM) documenter's own cost, and how fast a hung LLM lets go.

1. A fake LLM that answers at once (a ``/bin/sh`` script: read stdin, print a JSON record) is run
   bare — ``subprocess.run`` with the prompt on stdin — and through ``CommandDocumenter``
   (placeholders, temp dir, minimal env, session, bounded reads, answer parsing), with and without
   the cross-process concurrency slots. The difference of the medians is our overhead per file.
2. The same through the worker's code for a whole job (``JobRunner``: claim, read, document,
   commit, counters) on a temporary git repository.
3. A fake LLM that hangs (and starts a child that hangs too) with ``timeout_s`` = 1: the time
   until ``document()`` gives up, and — through the real CLI and worker — from the job being
   claimed to it being released, plus how many of the hung processes are still alive after.

Budgets (issue 6): overhead ≤ 20 ms per file; a hung LLM never holds a worker longer than
``timeout_s`` + 1 s. Timings are printed, never asserted; exit status 1 only when something failed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cq_lsp.documenters.base import DocumentContext  # noqa: E402
from cq_lsp.documenters.command import CommandDocumenter, CommandError  # noqa: E402
from cq_lsp.documenters.prompt import build_prompt  # noqa: E402
from cq_lsp.documenters.slots import SlotLimiter  # noqa: E402

OVERHEAD_BUDGET_MS = 20.0
RECORD = {
    "overview": "Decodes JSON.",
    "functions": {"decode": {"signature": "decode(s)", "doc": "Parse s.", "line": 1}},
    "dependencies": [],
}


def sample_file() -> tuple[str, str]:
    """A real, stable source file: the running Python's json/decoder.py (~12 KB)."""
    import json.decoder

    path = Path(json.decoder.__file__)
    return "json/decoder.py", path.read_text(encoding="utf-8")


def write_fakes(directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    instant = directory / "instant-llm"
    answer = json.dumps(RECORD).replace("'", "'\\''")
    instant.write_text(f"#!/bin/sh\ncat >/dev/null\nprintf '%s\\n' '{answer}'\n")
    hung = directory / "hung-llm"
    hung.write_text(
        f"#!{sys.executable} -S\nimport os, subprocess, sys, time\nsys.stdin.read()\n"
        "child = subprocess.Popen([sys.executable, '-S', '-c', 'import time; time.sleep(120)'])\n"
        "with open(os.environ['HUNG_PIDS'], 'a') as fh:\n"
        "    fh.write(f'{os.getpid()} {child.pid}\\n')\n"
        "time.sleep(120)\n"
    )
    for f in (instant, hung):
        f.chmod(0o755)
    return instant, hung


def timed(fn: Callable[[], Any], runs: int) -> list[float]:
    fn()  # warm-up: imports, page cache
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(0.95 * len(ordered) + 0.5) - 1))]


def alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def bench_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CODEQUERY_", "CQ_LSP_"))}
    env.update(
        CQ_LSP_CONFIG_HOME=str(tmp / "config-home"),
        CQ_LSP_DATA_HOME=str(tmp / "data-home"),
        GIT_AUTHOR_NAME="cq-lsp bench",
        GIT_AUTHOR_EMAIL="bench@example.invalid",
        GIT_COMMITTER_NAME="cq-lsp bench",
        GIT_COMMITTER_EMAIL="bench@example.invalid",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
    )
    return env


def make_repo(root: Path, files: dict[str, str], env: dict[str, str]) -> None:
    root.mkdir(parents=True)
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "corpus"]):
        subprocess.run(["git", "-C", str(root), *args], env=env, check=True)


def user_config(env: dict[str, str], processor: dict[str, Any], **processing: Any) -> None:
    path = Path(env["CQ_LSP_CONFIG_HOME"]) / "config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"schema_version": 2, "processor": {"kind": "command", **processor}}
    data["processing"] = {"retry_delay_s": 0, **processing}
    path.write_text(json.dumps(data))


def cq(env: dict[str, str], root: Path, *args: str, ok: Sequence[int] = (0,)) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "cq_lsp", "--root", str(root), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode not in ok:
        raise RuntimeError(f"cq-lsp {' '.join(args)} exited {proc.returncode}: {proc.stderr}")
    return proc.stdout


# -- measurements ------------------------------------------------------------------------------


def measure_documenter(instant: Path, tmp: Path, runs: int) -> dict[str, list[float]]:
    rel, content = sample_file()
    prompt = build_prompt(rel, content, "python").encode()
    ctx = DocumentContext()

    def bare() -> None:
        proc = subprocess.run([str(instant)], input=prompt, capture_output=True, check=True)
        assert proc.stdout

    plain = CommandDocumenter([str(instant), "{path}"], timeout_s=30)
    slotted = CommandDocumenter(
        [str(instant), "{path}"], timeout_s=30, limiter=SlotLimiter(tmp / "slots", 2)
    )
    samples: dict[str, list[float]] = {"bare": [], "document": [], "slots": []}
    # Interleaved rounds, so drift in machine load hits every variant alike.
    for _ in range(max(1, runs // 10)):
        samples["bare"] += timed(bare, 10)
        samples["document"] += timed(lambda: plain.document(rel, content, "python", ctx), 10)
        samples["slots"] += timed(lambda: slotted.document(rel, content, "python", ctx), 10)
    return samples


def measure_jobs(instant: Path, tmp: Path, runs: int) -> list[float]:
    """Per-job wall time of JobRunner on a real repository, the instant fake as the LLM."""
    env = bench_env(tmp / "jobs-env")
    _, content = sample_file()
    files = {f"pkg/m{i}.py": content + f"\n# variant {i}\n" for i in range(runs + 1)}
    root = tmp / "jobs-repo"
    make_repo(root, files, env)
    user_config(env, {"command": [str(instant), "{path}"], "concurrency": 2})
    cq(env, root, "init")
    (root / ".code-query" / "config.json").write_text('{"schema_version": 2}\n')
    saved = dict(os.environ)
    os.environ.update(env)  # the workspace reads the user config through these
    try:
        from cq_lsp.core.runner import JobRunner
        from cq_lsp.core.status import build_status
        from cq_lsp.core.workspace import Workspace
        from cq_lsp.worktree.project import Project

        ws = Workspace(Project(root), live=True)
        report = ws.enqueue_paths(sorted(files), source="bench", send=False)
        runner = JobRunner(ws)
        out = []
        for i, (rel, sha, _delay) in enumerate(report.result.queued):
            t = time.perf_counter()
            runner(rel, sha, 1)
            if i:  # the first one pays for imports
                out.append((time.perf_counter() - t) * 1000)
        status = build_status(ws)["documenter"]
        ws.close()
        if status.get("llmCalls") != len(files) or status.get("llmFailures"):
            raise RuntimeError(f"the jobs did not all go through the LLM command: {status}")
        return out
    finally:
        os.environ.clear()
        os.environ.update(saved)


def measure_hung_direct(hung: Path, tmp: Path, timeout_s: float) -> tuple[float, int]:
    pids_file = tmp / "hung-direct-pids"
    doc = CommandDocumenter(
        [str(hung)],
        timeout_s=timeout_s,
        env_names=["HUNG_PIDS"],
        environ={**os.environ, "HUNG_PIDS": str(pids_file)},
    )
    t = time.perf_counter()
    try:
        doc.document("a.py", "x = 1\n", "python", DocumentContext())
    except CommandError:
        pass
    else:
        raise RuntimeError("the hung fake LLM answered")
    elapsed = time.perf_counter() - t
    time.sleep(0.2)
    left = sum(alive(int(p)) for p in pids_file.read_text().split())
    return elapsed, left


def measure_hung_worker(hung: Path, tmp: Path, timeout_s: float) -> tuple[float, float, int]:
    env = bench_env(tmp / "hung-env")
    pids_file = tmp / "hung-worker-pids"
    env["HUNG_PIDS"] = str(pids_file)
    root = tmp / "hung-repo"
    make_repo(root, {"a.py": "x = 1\n"}, env)
    user_config(
        env,
        {"command": [str(hung)], "env": ["HUNG_PIDS"], "timeout_s": timeout_s, "fallback": "none"},
        max_retries=0,
    )
    cq(env, root, "init")
    (root / ".code-query" / "config.json").write_text('{"schema_version": 2}\n')
    try:
        t = time.perf_counter()
        cq(env, root, "index", str(root / "a.py"), "--wait", "--json", ok=(1,))
        wall = time.perf_counter() - t
        with sqlite3.connect(root / ".code-query" / "index.db") as conn:
            started, finished, state = conn.execute(
                "SELECT started_at, finished_at, state FROM jobs WHERE path = 'a.py'"
            ).fetchone()
        if state != "failed":
            raise RuntimeError(f"the hung job ended {state}, not failed")
        time.sleep(0.2)
        left = sum(alive(int(p)) for p in pids_file.read_text().split())
        return finished - started, wall, left
    finally:
        cq(env, root, "worker", "stop", ok=(0, 1))


# -- the table ---------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--runs", type=int, default=100, help="calls per variant (default 100)")
    p.add_argument("--quick", action="store_true", help="30 calls per variant")
    p.add_argument("--timeout", type=float, default=1.0, help="timeout_s of the hung LLM (1)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = p.parse_args(argv)
    runs = 30 if args.quick else args.runs
    if not Path("/bin/sh").exists():
        print("needs /bin/sh for the instant fake LLM", file=sys.stderr)
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="cq-lsp-bench-command-"))
    try:
        instant, hung = write_fakes(tmp / "bin")
        print("[bench] documenter vs bare exec ...", file=sys.stderr)
        doc = measure_documenter(instant, tmp, runs)
        print("[bench] whole jobs through JobRunner ...", file=sys.stderr)
        jobs = measure_jobs(instant, tmp, runs)
        print("[bench] hung LLM ...", file=sys.stderr)
        hung_direct, left_direct = measure_hung_direct(hung, tmp, args.timeout)
        hung_held, hung_wall, left_worker = measure_hung_worker(hung, tmp, args.timeout)
    except Exception as exc:  # the tool or the set-up failed
        print(f"[bench] failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    med = {k: statistics.median(v) for k, v in doc.items()}
    job_med = statistics.median(jobs)
    limit_s = args.timeout + 1
    budget = f"≤ {OVERHEAD_BUDGET_MS:g} ms"
    over = {k: med[k] - med["bare"] for k in ("document", "slots")}
    over["job"] = job_med - med["bare"]
    left = left_direct + left_worker
    rows: list[tuple[str, str, str, str]] = [
        ("bare exec of the fake LLM: median / p95", _ms(doc["bare"]), "", "reference"),
        ("document(): median / p95", _ms(doc["document"]), "", ""),
        (
            "  overhead vs bare (median)",
            f"{over['document']:+.2f} ms",
            budget,
            _ok(over["document"] <= OVERHEAD_BUDGET_MS),
        ),
        ("document() with concurrency slots: median / p95", _ms(doc["slots"]), "", ""),
        (
            "  overhead vs bare (median)",
            f"{over['slots']:+.2f} ms",
            budget,
            _ok(over["slots"] <= OVERHEAD_BUDGET_MS),
        ),
        ("whole job (claim, read, LLM, commit): median / p95", _ms(jobs), "", ""),
        (
            "  overhead vs bare (median)",
            f"{over['job']:+.2f} ms",
            budget,
            _ok(over["job"] <= OVERHEAD_BUDGET_MS),
        ),
        (
            f"hung LLM, timeout_s={args.timeout:g}: document() gives up after",
            f"{hung_direct:.2f} s",
            f"≤ {limit_s:g} s",
            _ok(hung_direct <= limit_s),
        ),
        (
            "hung LLM in the worker: claimed → released",
            f"{hung_held:.2f} s",
            f"≤ {limit_s:g} s",
            _ok(hung_held <= limit_s),
        ),
        ("  `cq-lsp index a.py --wait` wall (worker start included)", f"{hung_wall:.2f} s", "", ""),
        (
            "hung processes (program + child) alive after",
            f"{left_direct} direct, {left_worker} worker",
            "0",
            _ok(left == 0),
        ),
    ]
    if args.json:
        print(
            json.dumps(
                {
                    "runs": runs,
                    "bare_median_ms": med["bare"],
                    "document_median_ms": med["document"],
                    "slots_median_ms": med["slots"],
                    "job_median_ms": job_med,
                    "overhead_ms": med["document"] - med["bare"],
                    "job_overhead_ms": job_med - med["bare"],
                    "hung_direct_s": hung_direct,
                    "hung_worker_held_s": hung_held,
                    "hung_left_alive": left_direct + left_worker,
                }
            )
        )
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"cq-lsp command documenter — {runs} calls per variant")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("budget")
    table.add_column("", justify="center")
    for row in rows:
        table.add_row(*row)
    Console(width=None if sys.stdout.isatty() else 120).print(table)
    return 0


def _ms(values: Sequence[float]) -> str:
    return f"{statistics.median(values):.2f} / {p95(values):.2f} ms"


def _ok(good: bool) -> str:
    return "[green]✓[/]" if good else "[red]✗[/]"


if __name__ == "__main__":
    sys.exit(main())
