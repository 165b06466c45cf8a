"""A full disk, a read-only or immutable .code-query/, and an index.db locked by another process.

The tests run as root, so permissions cannot make a file unwritable. Real means do: a tiny tmpfs
mounted on .code-query/ and filled up, a read-only bind mount, ``chattr +i``, and a second real
process holding SQLite's write lock. Each case: the CLI says what is wrong and what to do, the
worker pauses rather than fails, and once storage is back every job is documented — none lost,
none half-written. Skipped (with the reason) only where the machine refuses to mount or chattr.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Cq, run_git, torn_jobs, wait_until

N_FILES = 300


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=60, check=False)


def mount_tmpfs(path: Path, size: str) -> None:
    path.mkdir(exist_ok=True)
    proc = _run("mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path))
    if proc.returncode != 0:
        pytest.skip(
            f"cannot mount a tmpfs here (needs root in a mount-capable sandbox): "
            f"{proc.stderr.strip()}"
        )


def bind_read_only(path: Path) -> None:
    proc = _run("mount", "--bind", str(path), str(path))
    if proc.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {proc.stderr.strip()}")
    proc = _run("mount", "-o", "remount,ro,bind", str(path))
    if proc.returncode != 0:
        _run("umount", str(path))
        pytest.skip(f"cannot remount read-only here: {proc.stderr.strip()}")


def unmount(path: Path) -> None:
    proc = _run("umount", str(path))
    if proc.returncode != 0:
        _run("umount", "-l", str(path))


def fill(folder: Path, leave_bytes: int = 0) -> Path:
    """Fill the file system of ``folder`` until ``leave_bytes`` (about) stay free."""
    filler = folder / "filler.bin"
    chunk = b"\0" * 65536
    with open(filler, "wb") as fh:
        try:
            while True:
                free = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
                if free <= leave_bytes:
                    break
                fh.write(chunk if free - leave_bytes >= len(chunk) else chunk[: free - leave_bytes])
                fh.flush()
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
    return filler


def many_files(repo: Path, n: int = N_FILES) -> None:
    gen = repo / "gen"
    gen.mkdir(exist_ok=True)
    body = "".join(f"def helper_{j}(value):\n    return value + {j}\n\n" for j in range(40))
    for i in range(n):
        (gen / f"mod_{i}.py").write_text(f'"""Module {i}."""\n\n{body}def probe_{i}():\n    pass\n')
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-qm", f"{n} files")


@pytest.fixture
def small_disk(cq: Cq, repo: Path) -> Iterator[Path]:
    """.code-query/ on a 32 MB tmpfs of its own, initialised, manual mode, files queued."""
    many_files(repo)
    state = repo / ".code-query"
    mount_tmpfs(state, "32m")
    try:
        cq.run("init")
        cq.run("config", "set", "processing.mode", "manual")
        assert cq.json("index")["queued"] == N_FILES + 4
        yield state
    finally:
        cq.stop_worker()
        unmount(state)


def test_a_full_disk_pauses_the_worker_and_loses_nothing(
    cq: Cq, repo: Path, small_disk: Path
) -> None:
    # Room to start the worker and to document a few files, not all of them.
    filler = fill(small_disk, leave_bytes=192 * 1024)
    pid = cq.json("worker", "start")["pid"]

    # The worker fills the rest of the disk and then waits: it does not die, fail jobs or
    # write half a job.
    def stalled() -> bool:
        a = cq.json("queue", "status")
        time.sleep(1.5)
        b = cq.json("queue", "status")
        return a["done"] == b["done"] and a["queued"] > 0

    wait_until(stalled, timeout=60, interval=0.1)
    status = cq.json("status")
    assert status["queue"]["failed"] == 0 and status["queue"]["done"] < N_FILES + 4
    assert status["worker"]["pid"] == pid and status["worker"]["state"] == "running"
    assert torn_jobs(repo) == (0, 0)
    # While full, the CLI says what is wrong and what to do.
    (repo / "gen" / "mod_0.py").write_text('"""Edited."""\n')
    proc = cq.run("index", "gen/mod_0.py", check=False)
    assert proc.returncode == 1, proc.stdout
    assert "full" in proc.stderr and "free some" in proc.stderr
    assert "no job was lost" in proc.stderr and "Traceback" not in proc.stderr

    filler.unlink()  # space again: the same worker goes on by itself
    wait_until(lambda: cq.json("queue", "status")["done"] == N_FILES + 4, timeout=180, interval=0.5)
    assert cq.json("worker", "status")["pid"] == pid
    assert torn_jobs(repo) == (0, 0)
    assert cq.json("status")["index"]["files"] == N_FILES + 4
    # The edit refused while the disk was full is taken now.
    cq.run("index", "gen/mod_0.py")
    wait_until(lambda: cq.json("show", "gen/mod_0.py")["overview"].startswith("Edited"), timeout=30)


def test_a_full_disk_stops_foreground_processing_with_a_clear_error(
    cq: Cq, repo: Path, small_disk: Path
) -> None:
    filler = fill(small_disk, leave_bytes=64 * 1024)
    proc = cq.run("queue", "process", check=False)
    assert proc.returncode == 1
    assert "the disk is full" in proc.stderr and "no job was lost" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert torn_jobs(repo) == (0, 0)
    queued = cq.json("queue", "status")
    assert queued["failed"] == 0 and queued["queued"] + queued["running"] > 0
    filler.unlink()
    cq.run("queue", "process")  # takes back the jobs the failed run held, then the rest
    status = cq.json("queue", "status")
    assert (status["done"], status["queued"], status["running"]) == (N_FILES + 4, 0, 0)
    assert torn_jobs(repo) == (0, 0)


def test_a_read_only_state_dir_is_named_and_nothing_is_lost(cq: Cq, repo: Path) -> None:
    cq.run("init")
    cq.run("config", "set", "processing.mode", "manual")
    cq.run("index", "billing/invoice.py")
    state = repo / ".code-query"
    bind_read_only(state)
    try:
        for argv in (("index",), ("worker", "start"), ("queue", "add", "README.md")):
            proc = cq.run(*argv, check=False)
            assert proc.returncode == 1, argv
            assert "read-only file system" in proc.stderr, (argv, proc.stderr)
            assert "remount it read-write" in proc.stderr and "Traceback" not in proc.stderr
    finally:
        unmount(state)
    assert [j["path"] for j in cq.json("queue", "list")["jobs"]] == ["billing/invoice.py"]
    cq.run("config", "set", "processing.mode", "auto")
    out = cq.json("index", "--wait")
    assert out["queued"] == 3 and cq.json("queue", "status")["done"] == 4


def test_an_immutable_index_db_is_named(cq: Cq, repo: Path) -> None:
    cq.run("init")
    db = repo / ".code-query" / "index.db"
    proc = _run("chattr", "+i", str(db))
    if proc.returncode != 0:
        pytest.skip(f"chattr +i is not supported here: {proc.stderr.strip()}")
    try:
        proc = cq.run("index", check=False)
        assert proc.returncode == 1
        assert "index.db is not writable" in proc.stderr and "chattr -i" in proc.stderr
    finally:
        _run("chattr", "-i", str(db))
    assert cq.json("index", "--wait")["wait"]["documented"] == 4


LOCKER = r"""
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
"""


def test_a_locked_index_db_is_waited_out_and_reported(cq: Cq, repo: Path) -> None:
    many_files(repo, 600)
    total = 600 + 4
    cq.env["CQ_LSP_BUSY_TIMEOUT_S"] = "1"  # the CLI and the worker it starts give up after 1 s
    cq.run("init")
    cq.run("config", "set", "processing.mode", "manual")
    assert cq.json("index")["queued"] == total
    db = repo / ".code-query" / "index.db"

    def lock(seconds: float) -> subprocess.Popen[str]:
        locker = subprocess.Popen(
            [sys.executable, "-c", LOCKER, str(db), str(seconds)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
        return locker

    locker = lock(6)
    try:
        # Producers hear about it after the timeout, with what to do.
        proc = cq.run("queue", "add", "README.md", check=False)
        assert proc.returncode == 1
        assert "locked by another process for 1 s" in proc.stderr
        assert "No job was lost" in proc.stderr and "Traceback" not in proc.stderr
        # A worker cannot recover the ledger before consuming, and says why.
        started = cq.run("worker", "start", check=False)
        assert started.returncode == 1 and "locked by another process" in started.stderr
        locker.wait(timeout=30)
    finally:
        if locker.poll() is None:
            locker.send_signal(signal.SIGKILL)
            locker.wait()

    # A running worker pauses on a lock and goes on: lock while it documents.
    pid = cq.json("worker", "start")["pid"]
    locker = lock(4)
    try:
        done_at_lock = cq.json("queue", "status")["done"]
        locker.wait(timeout=30)
    finally:
        if locker.poll() is None:
            locker.send_signal(signal.SIGKILL)
            locker.wait()
    assert done_at_lock < total, "the worker finished before the lock was taken"
    wait_until(lambda: cq.json("queue", "status")["done"] == total, timeout=120)
    status = cq.json("status")
    assert status["worker"]["pid"] == pid and status["queue"]["failed"] == 0
    assert torn_jobs(repo) == (0, 0)
    log = (repo / ".code-query" / "logs" / "worker.log").read_text()
    assert "is locked by another process" in log or "stayed locked by another process" in log
    assert "retrying in" in log  # it paused and said why, rather than failing jobs
