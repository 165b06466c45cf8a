"""Shared fixtures: real git repositories in temp folders and the real `cq-lsp` program."""

from __future__ import annotations

import inspect
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

SAMPLE_FILES: dict[str, str] = {
    "billing/invoice.py": '''"""Invoices: parsing text into totals."""

import decimal
import requests

TAX_RATE = 0.2


def parse_invoice(text: str, *, strict: bool = False) -> dict:
    """Parse an invoice from its text form."""
    return {}


class InvoiceTotals:
    """Sums the lines of an invoice."""

    def compute(self, lines: list) -> float:
        return 0.0
''',
    "billing/render.ts": """// Rendering invoices as HTML.
import { format } from "date-fns";

export function renderInvoiceHtml(total: number): string {
  return `<b>${total}</b>`;
}

export interface RenderOptions { dark: boolean }
""",
    "README.md": "# Sample shop\n\nA tiny shop used by the cq-lsp tests.\n",
    "src/shipping/rates.go": """// Package shipping computes parcel rates.
package shipping

// ParcelRate returns the price of a parcel by weight.
func ParcelRate(weightKg float64) float64 { return weightKg * 2 }
""",
}


def run_git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """User config and data dirs inside the test's temp folder; no CODEQUERY_* leaking in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEQUERY_")}
    env["CQ_LSP_CONFIG_HOME"] = str(tmp_path / "user-config")
    env["CQ_LSP_DATA_HOME"] = str(tmp_path / "user-data")
    env["GIT_AUTHOR_NAME"] = env["GIT_COMMITTER_NAME"] = "cq test"
    env["GIT_AUTHOR_EMAIL"] = env["GIT_COMMITTER_EMAIL"] = "cq@example.invalid"
    env.pop("NO_COLOR", None)
    for k in list(os.environ):
        if k.startswith("CODEQUERY_"):
            monkeypatch.delenv(k)
    for k in (
        "CQ_LSP_CONFIG_HOME",
        "CQ_LSP_DATA_HOME",
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
    ):
        monkeypatch.setenv(k, env[k])
    return env


def make_repo(root: Path, files: dict[str, str | bytes] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    run_git(root, "init", "-q", "-b", "main")
    for rel, content in (SAMPLE_FILES if files is None else files).items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, encoding="utf-8")
    run_git(root, "add", "-A")
    run_git(root, "commit", "-q", "-m", "initial", "--allow-empty")
    return root


@pytest.fixture
def repo(tmp_path: Path, isolated_env: dict[str, str]) -> Path:
    """A git repository with a few source files in several languages, committed."""
    return make_repo(tmp_path / "shop")


class Cq:
    """Runs the real program (`python -m cq_lsp`) in a repository."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.env = env

    def run(
        self,
        *args: str,
        check: bool = True,
        cwd: Path | None = None,
        timeout: float = 120,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "cq_lsp", *args],
            cwd=cwd or self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"cq-lsp {' '.join(args)} exited {proc.returncode}\n"
                f"stdout: {proc.stdout}\nstderr: {proc.stderr}"
            )
        return proc

    def json(self, *args: str, check: bool = True, cwd: Path | None = None) -> Any:
        proc = self.run(*args, "--json", check=check, cwd=cwd)
        return json.loads(proc.stdout)

    def stop_worker(self) -> None:
        self.run("worker", "stop", check=False)


@pytest.fixture
def cq(repo: Path, isolated_env: dict[str, str]) -> Iterator[Cq]:
    runner = Cq(repo, isolated_env)
    yield runner
    runner.stop_worker()


@pytest.fixture
def cq_factory(isolated_env: dict[str, str]) -> Iterator[Callable[[Path], Cq]]:
    made: list[Cq] = []

    def make(root: Path) -> Cq:
        c = Cq(root, isolated_env)
        made.append(c)
        return c

    yield make
    for c in made:
        c.stop_worker()


def wait_until(
    predicate: Callable[[], Any],
    timeout: float = 30.0,
    interval: float = 0.05,
    *,
    what: str | None = None,
    show: Callable[[], Any] | None = None,
) -> Any:
    """Poll until ``predicate`` is truthy (for eventual states, never as a timing assertion).

    A failure says what it waited for (``what``, else the predicate's source) and the last value
    seen (``show()`` when given — say the status object — else the predicate's last result).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            seen = show() if show is not None else value
            raise AssertionError(
                f"waited {timeout} s for {what or _describe(predicate)}; last seen: {seen!r:.2000}"
            )
        time.sleep(interval)


def _describe(predicate: Callable[[], Any]) -> str:
    try:
        source = " ".join(inspect.getsource(predicate).split())
    except (OSError, TypeError):
        return getattr(predicate, "__qualname__", repr(predicate))
    start = source.find("lambda")
    return source[start:] if start >= 0 else source


def torn_jobs(repo: Path) -> tuple[int, int]:
    """Jobs marked done without their documentation, and documentation of a job's content written
    while the job is not done: both must stay 0 whatever moment a worker dies (the ledger is the
    truth). A file whose newer version is queued keeps its older documentation: not torn."""
    import sqlite3

    uri = (repo / ".code-query" / "index.db").as_uri() + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=30)
    try:
        done_without = conn.execute(
            "SELECT COUNT(*) FROM jobs j LEFT JOIN files f ON f.filepath = j.path "
            "WHERE j.state = 'done' AND (f.id IS NULL OR f.content_sha != j.sha)"
        ).fetchone()[0]
        documented_not_done = conn.execute(
            "SELECT COUNT(*) FROM files f JOIN jobs j ON j.path = f.filepath "
            "WHERE j.state != 'done' AND f.content_sha = j.sha"
        ).fetchone()[0]
    finally:
        conn.close()
    return int(done_without), int(documented_not_done)


def kill_group(pid: int) -> None:
    """kill -9 a worker and its forked children (its process group), and wait until it is gone."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    wait_until(
        lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE,
        timeout=10,
    )


def survivors(pids: list[int], timeout: float = 20.0) -> list[int]:
    """The processes among ``pids`` still alive (not gone, not a zombie) after ``timeout``."""

    def alive(pid: int) -> bool:
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    deadline = time.monotonic() + timeout
    left = [p for p in pids if alive(p)]
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [p for p in left if alive(p)]
    return left
