"""Benchmark documentation sharing (issue 16): the local store, the team store, the worker pool.

1. A documented 2,000-file repository (CPython's ``Lib/*.py``, fake LLM that answers at once):
   a second clone and a new ``git worktree add`` are indexed — documenter calls (budget 0) and
   files/s (budget ≥ 1,000).
2. Ten simulated teammates (own user config and data dirs each) index the same commit at once,
   with a team store on a private redis-server and a fake LLM taking 200 ms a file: total LLM
   calls (budget = the number of distinct files).
3. 300 files, fake LLM 200 ms a file: the local worker alone (processor.concurrency 2, 2 threads)
   against a pool of 3 ``cq-lsp pool run`` workers of 2 threads each (budget ≥ 2.5× faster).
4. The static documenter in process on the same 2,000 files: the store off, on with every key a
   miss (look-up + write), on with every key a hit (budget: the miss run ≤ 5 % slower).

Numbers are printed, never asserted. Needs redis-server (scripts/setup.sh installs it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.core.test_queue_contract import RedisServer  # noqa: E402
from tests.fakes.llm import write_fake_llm  # noqa: E402

GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
}


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def corpus(dest: Path, limit: int) -> int:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    n = 0
    for dirpath, dirnames, filenames in os.walk(stdlib):
        dirnames[:] = sorted(d for d in dirnames if d not in ("site-packages", "__pycache__"))
        for name in sorted(filenames):
            if name.endswith(".py") and n < limit:
                src = Path(dirpath, name)
                rel = src.relative_to(stdlib)
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dest / rel)
                n += 1
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    subprocess.run(
        ["git", "-C", str(dest), "commit", "-q", "-m", "corpus"],
        check=True,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
    )
    return n


def small_repo(dest: Path, files: int) -> None:
    dest.mkdir(parents=True)
    for i in range(files):
        (dest / f"m{i:04d}.py").write_text(f'"""Module {i}."""\n\n\ndef f{i}():\n    return {i}\n')
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    subprocess.run(
        ["git", "-C", str(dest), "commit", "-q", "-m", "c"],
        check=True,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
    )


class Machine:
    def __init__(self, base: Path, name: str, fake: Path | None, sleep_s: float, **cfg: Any):
        self.dir = base / name
        self.log = self.dir / "llm.log"
        (self.dir / "config").mkdir(parents=True)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("CODEQUERY_", "CQ_"))}
        self.env.update(
            GIT_ENV,
            CQ_LSP_CONFIG_HOME=str(self.dir / "config"),
            CQ_LSP_DATA_HOME=str(self.dir / "data"),
            FAKE_LLM_LOG=str(self.log),
            FAKE_LLM_SLEEP_S=str(sleep_s),
        )
        processor: dict[str, Any] = {"kind": "static"}
        if fake is not None:
            processor = {
                "kind": "command",
                "command": [str(fake)],
                "env": ["FAKE_LLM_LOG", "FAKE_LLM_SLEEP_S"],
                "timeout_s": 60,
            }
        config = {"schema_version": 2, "processor": processor, "processing": {"mode": "manual"}}
        config.update(cfg)
        (self.dir / "config" / "config.json").write_text(json.dumps(config))

    def calls(self) -> int:
        if not self.log.exists():
            return 0
        return sum(1 for x in self.log.read_text().splitlines() if not x.startswith("done "))

    def cq(self, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cq_lsp", *args, "--root", str(root)],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )

    def index_proc(self, root: Path) -> subprocess.Popen[str]:
        self.cq(root, "init")
        return subprocess.Popen(
            [sys.executable, "-m", "cq_lsp", "index", "--wait", "--root", str(root)],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def index(self, root: Path) -> float:
        t = time.perf_counter()
        proc = self.index_proc(root)
        out, err = proc.communicate()
        if proc.returncode:
            raise RuntimeError(f"index failed: {out}\n{err}")
        return time.perf_counter() - t


def row(name: str, value: str, budget: str) -> None:
    print(f"| {name} | {value} | {budget} |", flush=True)


def part_clone(base: Path, files: int) -> None:
    fake = write_fake_llm(base / "bin", "timed")
    origin = base / "origin"
    n = corpus(origin, files)
    me = Machine(base, "me", fake, 0.0, worker={"threads": 2})
    first = me.index(origin)
    calls_first = me.calls()
    clone = base / "clone"
    git(base, "clone", "-q", str(origin), str(clone))
    t_clone = me.index(clone)
    calls_clone = me.calls() - calls_first
    git(origin, "worktree", "add", "-q", str(base / "linked"))
    t_wt = me.index(base / "linked")
    calls_wt = me.calls() - calls_first - calls_clone
    row(f"first index, {n} files, fake LLM 0 ms", f"{first:.1f} s ({calls_first} calls)", "—")
    row(
        "second clone: calls, files/s (index --wait wall)",
        f"{calls_clone} calls, {n / t_clone:,.0f} files/s ({t_clone:.2f} s)",
        "0, ≥ 1,000",
    )
    row(
        "new worktree: calls, files/s (index --wait wall)",
        f"{calls_wt} calls, {n / t_wt:,.0f} files/s ({t_wt:.2f} s)",
        "0, ≥ 1,000",
    )


def part_team(base: Path, url: str, files: int, mates: int) -> None:
    fake = write_fake_llm(base / "bin", "timed")
    origin = base / "origin"
    small_repo(origin, files)
    ms = [Machine(base, f"mate{i}", fake, 0.2, cache={"url": url}) for i in range(mates)]
    roots = []
    for i in range(len(ms)):
        root = base / f"clone{i}"
        git(base, "clone", "-q", str(origin), str(root))
        roots.append(root)
    t = time.perf_counter()
    procs = [m.index_proc(r) for m, r in zip(ms, roots, strict=True)]
    for p in procs:
        p.communicate()
    wall = time.perf_counter() - t
    total = sum(m.calls() for m in ms)
    row(
        f"{mates} teammates, {files} files, fake LLM 200 ms: total LLM calls",
        f"{total} ({wall:.1f} s wall)",
        f"= {files}",
    )


def part_pool(base: Path, url: str, files: int, workers: int) -> None:
    fake = write_fake_llm(base / "bin", "timed")
    origin = base / "origin"
    small_repo(origin, files)
    alone = Machine(base, "alone", fake, 0.2, cache={"local": False}, worker={"threads": 2})
    root_a = base / "a"
    git(base, "clone", "-q", str(origin), str(root_a))
    t_alone = alone.index(root_a)
    # One machine per pool worker: each has its own LLM slots (processor.concurrency).
    pool_ms = [Machine(base, f"pool{i}", fake, 0.2, cache={"local": False}) for i in range(workers)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "cq_lsp", "pool", "run", "--url", url, "--threads", "2"],
            env=m.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for m in pool_ms
    ]
    try:
        import redis

        r = redis.Redis.from_url(url)
        deadline = time.monotonic() + 60
        while len(list(r.scan_iter(match="cq:pool:worker:*"))) < workers:
            if time.monotonic() > deadline:
                raise RuntimeError("pool workers did not start")
            time.sleep(0.1)
        # A pool of its own keys: the team store must not answer from the first run.
        me = Machine(
            base,
            "me",
            fake,
            0.2,
            cache={"local": False},
            pool={"url": url, "timeout_s": 120},
            worker={"threads": 3 * workers},  # the pool always has the next request queued
        )
        root_p = base / "p"
        git(base, "clone", "-q", str(origin), str(root_p))
        t_pool = me.index(root_p)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()
    row(
        f"{files} files, fake LLM 200 ms: local alone (2 threads, concurrency 2)",
        f"{t_alone:.1f} s ({alone.calls()} calls)",
        "—",
    )
    row(
        f"same with a pool of {workers} × 2 threads",
        f"{t_pool:.1f} s (pool calls {sum(m.calls() for m in pool_ms)}, local {me.calls()}); "
        f"{t_alone / t_pool:.2f}× faster",
        "≥ 2.5×",
    )


def part_overhead(base: Path, files: int, rounds: int) -> None:
    """In process, as `queue process` does: the same corpus, store off / miss / hit."""
    from cq_lsp.core.runner import document_queued
    from cq_lsp.core.workspace import Workspace
    from cq_lsp.worktree.project import open_project

    origin = base / "origin"
    n = corpus(origin, files)
    results: dict[str, list[float]] = {"off": [], "miss": [], "hit": []}
    expected = 0
    for r in range(rounds):
        # The order alternates, so a slow spell of the machine does not always hit one mode.
        for mode in ("off", "miss", "hit") if r % 2 == 0 else ("miss", "hit", "off"):
            data = base / f"data-{r}-{mode}"
            if mode == "hit":
                data = base / f"data-{r}-miss"  # warmed by the miss run just before
            os.environ["CQ_LSP_DATA_HOME"] = str(data)
            cfg_dir = base / f"cfg-{mode}"
            cfg_dir.mkdir(exist_ok=True)
            cache = {"local": mode != "off"}
            (cfg_dir / "config.json").write_text(
                json.dumps({"schema_version": 2, "processing": {"mode": "manual"}, "cache": cache})
            )
            os.environ["CQ_LSP_CONFIG_HOME"] = str(cfg_dir)
            shutil.rmtree(origin / ".code-query", ignore_errors=True)
            subprocess.run(
                [sys.executable, "-m", "cq_lsp", "init", "--root", str(origin)],
                check=True,
                capture_output=True,
            )
            subprocess.run(
                [sys.executable, "-m", "cq_lsp", "index", "--root", str(origin)],
                check=True,
                capture_output=True,
            )
            ws = Workspace(open_project(str(origin)))
            # CPU time of this process: on a shared machine, other processes' load moves the
            # wall clock by tens of percent between runs; the CPU the work costs moves less.
            t = time.process_time()
            out = document_queued(ws, threads=2)
            elapsed = time.process_time() - t
            ws.close()
            # A few stdlib files are refused by the guard (size); every mode must agree.
            expected = expected or out["documented"]
            if out["documented"] != expected or not expected:
                raise RuntimeError(f"{mode}: documented {out['documented']} of {expected}")
            results[mode].append(expected / elapsed)
    off = statistics.median(results["off"])
    for mode in ("off", "miss", "hit"):
        med = statistics.median(results[mode])
        change = "" if mode == "off" else f" ({(med / off - 1) * 100:+.1f} %)"
        budget = "≥ −5 %" if mode == "miss" else "—"
        row(
            f"static, {n} files in process, store {mode}",
            f"{med:,.0f} files per CPU-s{change}",
            budget,
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--team-files", type=int, default=40)
    ap.add_argument("--pool-files", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", choices=["clone", "team", "pool", "overhead"])
    args = ap.parse_args()
    exe = shutil.which("redis-server")
    print("| measure | result | budget |\n|---|---|---|", flush=True)
    with tempfile.TemporaryDirectory(prefix="cq-bench-team-") as tmp:
        base = Path(tmp)
        server = None
        if exe and args.only in (None, "team", "pool"):
            server = RedisServer(exe, base / "redis")
            server.start()
        try:
            if args.only in (None, "clone"):
                part_clone(base / "clone", args.files)
            if server is not None and args.only in (None, "team"):
                part_team(base / "team", server.url.replace("/0", "/1"), args.team_files, 10)
            if server is not None and args.only in (None, "pool"):
                part_pool(base / "pool", server.url.replace("/0", "/2"), args.pool_files, 3)
            if args.only in (None, "overhead"):
                part_overhead(base / "overhead", args.files, args.rounds)
        finally:
            if server is not None:
                server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
