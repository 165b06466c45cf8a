"""The worker's life: identity, crashes at random moments, hangs, and what status says."""

from __future__ import annotations

import json
import os
import random
import signal
import time
from pathlib import Path

import psutil

from tests.conftest import Cq, kill_group, run_git, survivors, torn_jobs, wait_until


def _many_files(repo: Path, n: int, round_: int = 0) -> None:
    gen = repo / "gen"
    gen.mkdir(exist_ok=True)
    for i in range(n):
        (gen / f"m{i}.py").write_text(
            f'"""Module {i}, round {round_}."""\n\ndef crash_probe_{i}():\n    return {i}\n'
        )
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-qm", f"many files, round {round_}")


def test_kill_9_at_random_moments_loses_nothing(cq: Cq, repo: Path) -> None:
    n = 6000
    total = n + 4
    _many_files(repo, n)
    cq.run("init")
    cq.run("config", "set", "worker.threads", "2")
    cq.run("index")  # queues everything (in batches), starts a worker
    rng = random.Random(20261122)
    kills = rounds = 0
    done_at_kill: list[int] = []
    for _ in range(25):
        status = cq.json("status")
        if status["queue"]["done"] >= total:
            if kills >= 8 or rounds >= 3:
                break
            # The worker outran the kills (a fast machine, or a slow CLI on a loaded one): a
            # new version of every file is new work, so the next kills land mid-run again.
            rounds += 1
            _many_files(repo, n, rounds)
            cq.run("index")
            status = cq.json("status")
        pid = status["worker"]["pid"] or cq.json("worker", "start")["pid"]
        time.sleep(rng.uniform(0.02, 0.4))
        kill_group(pid)
        kills += 1
        # Whatever the worker was doing — claiming a batch, documenting, committing — nothing
        # is half-written.
        assert torn_jobs(repo) == (0, 0)
        done_at_kill.append(cq.json("status")["queue"]["done"])
        assert cq.json("worker", "status")["state"] == "crashed"
        cq.run("worker", "start")  # recovers what the dead worker held, then consumes
    # Killed often, and mostly mid-run: with work both done and left at those moments.
    assert kills >= 5, "the run finished before the worker could be killed often enough"
    assert sum(0 < d < total for d in done_at_kill) >= 4, done_at_kill
    cq.run("index", "--wait")
    status = cq.json("status")
    assert status["queue"] == {
        **status["queue"],
        "done": total,
        "queued": 0,
        "running": 0,
        "failed": 0,
    }
    assert status["index"]["files"] == total
    assert torn_jobs(repo) == (0, 0)
    for i in (0, 2999, n - 1):
        assert cq.json("search", f"crash_probe_{i}")["results"][0]["path"] == f"gen/m{i}.py"
        # The latest version of each file, not one a killed worker was documenting.
        assert f"round {rounds}" in cq.json("show", f"gen/m{i}.py")["overview"]


def test_a_reused_pid_is_never_ours_and_never_signalled(cq: Cq, repo: Path) -> None:
    cq.run("init")
    me = psutil.Process()
    # worker.json naming a live process that is not our worker (this test's own pid).
    (repo / ".code-query" / "worker.json").write_text(
        json.dumps(
            {
                "pid": me.pid,
                "create_time": me.create_time() - 1000,
                "cmdline": me.cmdline(),
                "started_at": time.time(),
            }
        )
    )
    assert cq.json("worker", "status")["state"] == "crashed"
    out = cq.json("worker", "stop")
    assert out["stopped"] is False
    assert psutil.pid_exists(me.pid)  # still alive: we are running this line
    # Same pid and create time but another command line is not ours either.
    (repo / ".code-query" / "worker.json").write_text(
        json.dumps(
            {
                "pid": me.pid,
                "create_time": me.create_time(),
                "cmdline": ["something", "else"],
            }
        )
    )
    assert cq.json("worker", "status")["state"] == "crashed"
    started = cq.json("worker", "start")
    assert started["started"] is True and started["pid"] != me.pid


def test_corrupt_or_foreign_worker_json(cq: Cq, repo: Path) -> None:
    cq.run("init")
    wj = repo / ".code-query" / "worker.json"
    for garbage in ("{not json", '["a list"]', '{"pid": "12"}', ""):
        wj.write_text(garbage)
        assert cq.json("worker", "status")["state"] == "stopped"
    started = cq.json("worker", "start")
    assert started["started"] is True
    info = json.loads(wj.read_text())
    assert info["pid"] == started["pid"] and info["cmdline"][-2:] == ["worker", "run"]


def test_stop_when_stopped_and_start_twice(cq: Cq) -> None:
    cq.run("init")
    out = cq.json("worker", "stop")
    assert (out["stopped"], out["message"]) == (False, "worker not running")
    assert out["worker"]["state"] == "stopped"  # the status part afterwards, as cq.worker.stop
    first = cq.json("worker", "start")
    second = cq.json("worker", "start")
    assert first["started"] is True and second["started"] is False
    assert second["pid"] == first["pid"]
    stopped = cq.json("worker", "stop")
    assert stopped["stopped"] is True and stopped["graceful"] is True
    assert cq.json("worker", "status")["state"] == "stopped"


def test_a_hung_worker_is_reported_unresponsive(cq: Cq) -> None:
    cq.run("init")
    cq.run("config", "set", "processing.worker_check_interval", "1")
    pid = cq.json("worker", "start")["pid"]
    wait_until(lambda: cq.json("worker", "status")["state"] == "running", timeout=10)
    os.kill(pid, signal.SIGSTOP)
    try:
        wait_until(lambda: cq.json("worker", "status")["state"] == "unresponsive", timeout=15)
        status = cq.json("status")
        assert status["health"] == "error" and "unresponsive" in status["message"]
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_until(lambda: cq.json("worker", "status")["state"] == "running", timeout=10)


def test_idle_worker_exits_by_itself(cq: Cq) -> None:
    cq.run("init")
    cq.run("config", "set", "worker.idle_exit_s", "2")
    pid = cq.json("worker", "start")["pid"]
    wait_until(
        lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE,
        timeout=15,
    )
    assert cq.json("worker", "status")["state"] == "stopped"  # a clean exit, not a crash


def test_worker_logs_tail_and_status_fields(cq: Cq) -> None:
    cq.run("init")
    cq.run("index", "--wait")
    lines = cq.run("worker", "logs", "-n", "3").stdout.splitlines()
    assert len(lines) == 3
    status = cq.json("worker", "status")
    assert status["state"] == "running"
    assert status["rssBytes"] > 10_000_000 and status["uptimeS"] >= 0


def test_kill_9_of_the_worker_leaves_no_forked_worker_behind(repo: Path, cq: Cq) -> None:
    """The OOM killer or a user may kill only the worker process itself, not its group."""
    cq.run("init")
    cq.run("config", "set", "worker.threads", "2")
    started = cq.json("worker", "start")
    parent = psutil.Process(started["pid"])
    children = wait_until(lambda: parent.children() if len(parent.children()) >= 2 else None)
    os.kill(parent.pid, signal.SIGKILL)
    assert survivors([c.pid for c in children], timeout=10) == []
