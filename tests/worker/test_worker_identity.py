"""Whoever holds worker.lock is found, reported and stoppable; a worker serves one work tree.

Real workers, real files: a worker stuck on its way out (worker.json gone, lock held), one whose
index.db is corrupted under it, one whose .code-query/ is deleted, and a work tree copied with
``cp -a`` while its worker runs.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import psutil

from tests.conftest import Cq, run_git, survivors, wait_until


def _group(pid: int) -> list[int]:
    parent = psutil.Process(pid)
    return [pid, *(c.pid for c in parent.children(recursive=True))]


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_lock_holder_without_worker_json_is_reported_and_stopped(cq: Cq, repo: Path) -> None:
    cq.run("init")
    cq.run("config", "set", "processing.mode", "manual")
    pid = cq.json("worker", "start")["pid"]
    # A worker stuck on its way out: it removed worker.json, still holds worker.lock.
    os.kill(pid, signal.SIGSTOP)
    try:
        (repo / ".code-query" / "worker.json").unlink()
        status = cq.json("worker", "status")
        assert status["pid"] == pid and status["state"] in ("unresponsive", "stopping"), status
        assert "worker stopped" not in cq.json("status")["message"]
        started = cq.json("worker", "start")
        assert started == {**started, "started": False, "pid": pid}
        stopped = cq.json("worker", "stop")
        assert stopped["stopped"] is True and stopped["pid"] == pid
        assert _gone(pid)
    finally:
        if not _gone(pid):
            os.killpg(pid, signal.SIGKILL)
    assert cq.json("worker", "status")["state"] == "stopped"
    assert cq.json("worker", "start")["started"] is True


def test_a_worker_whose_index_db_is_corrupted_exits_with_its_children(cq: Cq, repo: Path) -> None:
    gen = repo / "gen"
    gen.mkdir()
    for i in range(600):
        (gen / f"m{i}.py").write_text(f'"""M {i}."""\n\ndef f_{i}():\n    return {i}\n')
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-qm", "many")
    cq.run("init")
    cq.run("config", "set", "worker.threads", "2")
    cq.run("index")
    pid = cq.json("worker", "status")["pid"]
    group = wait_until(lambda: g if len(g := _group(pid)) >= 3 else None)
    db = repo / ".code-query" / "index.db"
    with open(db, "r+b") as fh:
        size = os.fstat(fh.fileno()).st_size
        for offset in range(0, size, 3 * 4096):
            fh.seek(offset)
            fh.write(os.urandom(4096))
    cq.run("status", check=False)  # finds the corruption, moves index.db aside, rebuilds it
    # The worker and its forked workers end (before the fix the worker waited for its children
    # forever, holding worker.lock with no worker.json).
    assert survivors(group, timeout=40) == []
    cq.run("index", "--wait")
    assert cq.json("status")["queue"]["queued"] == 0


def test_a_worker_whose_state_dir_is_deleted_exits(cq: Cq, repo: Path) -> None:
    cq.run("init")
    pid = cq.json("worker", "start")["pid"]
    group = _group(pid)
    shutil.rmtree(repo / ".code-query")
    assert survivors(group, timeout=30) == []
    cq.run("init")
    second = cq.json("worker", "start")
    assert second["started"] is True and second["pid"] != pid


def test_a_copied_work_tree_does_not_adopt_the_original_worker(
    cq: Cq, repo: Path, cq_factory: object
) -> None:
    cq.run("init")
    y_pid = cq.json("worker", "start")["pid"]
    copy = repo.parent / "copy"
    subprocess.run(["cp", "-a", str(repo), str(copy)], check=True)
    x = cq_factory(copy)  # type: ignore[operator]
    assert x.json("worker", "status")["state"] == "stopped"
    assert x.json("worker", "stop")["stopped"] is False
    assert not _gone(y_pid) and cq.json("worker", "status")["pid"] == y_pid
    (copy / "billing" / "invoice.py").write_text('"""Copied and edited."""\n')
    x.run("queue", "add", "billing/invoice.py")
    wait_until(
        lambda: x.json("show", "billing/invoice.py")["overview"].startswith("Copied"),
        timeout=60,
    )
    x_pid = x.json("worker", "status")["pid"]
    assert x_pid not in (None, y_pid)
    x.run("worker", "stop")
    assert not _gone(y_pid) and cq.json("worker", "status")["state"] == "running"


def test_a_worker_whose_redis_stops_does_not_linger(cq: Cq, repo: Path, tmp_path: Path) -> None:
    from tests.core.test_queue_contract import _running_redis, use_backend

    server = _running_redis(tmp_path)
    try:
        use_backend(cq, server)
        cq.run("config", "set", "worker.idle_exit_s", "600")
        pid = cq.json("worker", "start")["pid"]
        group = wait_until(lambda: g if len(g := _group(pid)) >= 2 else None)
        server.stop()
        # The worker's once-a-second look at the queue fails: it exits, and its forked workers
        # with it (before the fix it waited for them forever, holding worker.lock, unfindable).
        assert survivors(group, timeout=40) == []
        assert cq.json("worker", "status")["state"] in ("stopped", "crashed")
        log = (repo / ".code-query" / "logs" / "worker.stderr").read_text()
        assert "the Redis queue at" in log and "is unreachable" in log
    finally:
        server.stop()
