"""The queue contract, run against both backends: SQLite (queue.db) and a real Redis server.

Every test runs twice. The Redis run starts a private ``redis-server`` (Debian's package, which
scripts/setup.sh installs) on a free loopback port in the test's temp folder, and stops it by pid.
Producers are the real CLI, consumers the real worker it starts; the test process only reads
the ledger and the queue, through the same core classes the faces use.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from cq_lsp.core.workspace import Workspace
from cq_lsp.worktree.project import Project
from tests.conftest import Cq, kill_group, run_git, torn_jobs, wait_until
from tests.store_helpers import claim, release

BACKENDS = ("sqlite", "redis")


class RedisServer:
    """A redis-server of our own: loopback only, no persistence, in a temp folder."""

    def __init__(self, exe: str, workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.exe = exe
        self.workdir = workdir
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, port: int | None = None) -> None:
        for _ in range(5):  # another process may take the free port before redis binds it
            self.port = port or _free_port()
            self.proc = subprocess.Popen(
                [
                    self.exe,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--dir",
                    str(self.workdir),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--daemonize",
                    "no",
                    "--logfile",
                    str(self.workdir / "redis.log"),
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.proc.poll() is None:
                if self.ping():
                    return
                time.sleep(0.02)
            self.stop()
            if port is not None:
                break
        raise RuntimeError(f"redis-server did not start; see {self.workdir / 'redis.log'}")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_server_exe() -> str:
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip(
            "redis-server is not installed (scripts/setup.sh installs it: "
            "apt-get install redis-server); the Redis half of the queue contract cannot run"
        )
    return exe


def _running_redis(tmp_path: Path) -> RedisServer:
    server = RedisServer(redis_server_exe(), tmp_path / "redis")
    server.start()
    return server


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RedisServer | None]:
    """None for SQLite; a running private Redis server for Redis."""
    if request.param == "sqlite":
        yield None
        return
    server = _running_redis(tmp_path)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = _running_redis(tmp_path)
    try:
        yield server
    finally:
        server.stop()


def use_backend(cq: Cq, server: RedisServer | None) -> Cq:
    """``cq-lsp init`` with its queue on ``server`` (None: SQLite)."""
    cq.run("init")
    if server is not None:
        cq.run("config", "set", "queue.url", server.url)
        cq.run("config", "set", "queue.backend", "redis")
    assert cq.json("config", "show")["config"]["queue"]["backend"] == (
        "redis" if server is not None else "sqlite"
    )
    return cq


@pytest.fixture
def qcq(backend: RedisServer | None, cq: Cq) -> Cq:
    """An initialised repository whose queue is the backend under test.

    ``backend`` comes first, so it is torn down after ``cq`` has stopped the worker.
    """
    return use_backend(cq, backend)


def workspace(repo: Path) -> Workspace:
    return Workspace(Project(repo))


def pending(repo: Path) -> Counter[tuple[str, str]]:
    """Every job on the queue or its schedule, counted (a duplicate shows as 2)."""
    ws = workspace(repo)
    try:
        return Counter(ws.transport.pending_list())
    finally:
        ws.close()


def many_files(repo: Path, n: int, stem: str = "mod") -> None:
    gen = repo / "gen"
    gen.mkdir(exist_ok=True)
    for i in range(n):
        (gen / f"{stem}_{i}.py").write_text(
            f'"""Module {i}."""\n\ndef {stem}_probe_{i}():\n    return {i}\n'
        )
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-qm", f"{n} files")


# -- enqueue ---------------------------------------------------------------------------------------


def test_enqueue_is_idempotent_and_a_new_sha_supersedes(qcq: Cq, repo: Path) -> None:
    qcq.run("config", "set", "processing.mode", "manual")  # nothing consumes yet
    first = qcq.json("queue", "add", "billing/invoice.py")
    again = qcq.json("queue", "add", "billing/invoice.py")
    assert (first["queued"], again["queued"], again["unchanged"]) == (1, 0, 1)
    old_sha = qcq.json("queue", "list")["jobs"][0]["sha"]
    assert pending(repo) == {("billing/invoice.py", old_sha): 1}

    (repo / "billing" / "invoice.py").write_text('"""Invoices, edited."""\n\nNEW_RATE = 3\n')
    assert qcq.json("queue", "add", "billing/invoice.py")["queued"] == 1
    jobs = qcq.json("queue", "list")["jobs"]
    assert len(jobs) == 1 and jobs[0]["sha"] != old_sha and jobs[0]["state"] == "queued"
    new_sha = jobs[0]["sha"]
    # Both tasks travel; only the current one is documented.
    assert pending(repo) == {("billing/invoice.py", old_sha): 1, ("billing/invoice.py", new_sha): 1}
    calls_before = qcq.json("status")["documenter"]["calls"]
    qcq.run("worker", "start")
    wait_until(lambda: qcq.json("queue", "status")["done"] == 1, timeout=30)
    shown = qcq.json("show", "billing/invoice.py")
    assert shown["content_sha"] == new_sha and "NEW_RATE" in shown["constants"]
    assert qcq.json("status")["documenter"]["calls"] == calls_before + 1
    wait_until(lambda: not pending(repo), timeout=30)  # the stale task was consumed as a no-op


def test_bulk_enqueue_sends_batches_in_one_write(qcq: Cq, repo: Path) -> None:
    many_files(repo, 23)
    qcq.run("config", "set", "processing.mode", "manual")
    qcq.run("config", "set", "processing.batch_size", "5")
    out = qcq.json("index")
    assert out["queued"] == 27
    ws = workspace(repo)
    try:
        tasks = [*ws.transport.huey.pending()]
        jobs = Counter(ws.transport.pending_list())
    finally:
        ws.close()
    assert len(jobs) == 27 and max(jobs.values()) == 1  # every job once
    assert sorted(len(t.args[0]) for t in tasks) == [2] + [5] * 5  # batches of batch_size


# -- consuming -------------------------------------------------------------------------------------


def test_the_worker_documents_everything(qcq: Cq, repo: Path) -> None:
    out = qcq.json("index", "--wait")
    assert out["queued"] == 4 and out["wait"]["documented"] == 4
    status = qcq.json("status")
    assert status["queue"]["done"] == 4 and status["health"] == "ok"
    assert qcq.json("search", "parse invoice")["results"][0]["path"] == "billing/invoice.py"
    wait_until(lambda: not pending(repo), timeout=10)
    # An idle worker picks up a single saved file.
    (repo / "billing" / "invoice.py").write_text("def parse_invoice_again():\n    pass\n")
    qcq.run("index", "billing/invoice.py")
    wait_until(lambda: qcq.json("queue", "status")["done"] == 4 and not pending(repo), timeout=30)
    assert "parse_invoice_again" in qcq.json("show", "billing/invoice.py")["functions"]


def test_kill_9_mid_run_loses_nothing(qcq: Cq, repo: Path) -> None:
    many_files(repo, 1500)
    total = 1504
    # On a loaded machine the worker may finish before the kill lands: then every file gets a new
    # version and the run starts again, so the kill always hits a worker with work in hand.
    for version in range(4):
        qcq.run("index")  # auto mode: starts the worker
        pid = wait_until(lambda: qcq.json("worker", "status")["pid"], timeout=20)
        wait_until(lambda: qcq.json("status")["queue"]["done"] > 100, timeout=60)
        kill_group(pid)
        assert qcq.json("worker", "status")["state"] == "crashed"
        assert torn_jobs(repo) == (0, 0)
        if qcq.json("status")["queue"]["done"] < total:
            break
        for i in range(1500):
            with (repo / "gen" / f"mod_{i}.py").open("a") as fh:
                fh.write(f"VERSION = {version + 1}\n")
    else:
        pytest.fail("the worker finished every run before the kill landed")
    qcq.run("index", "--wait")  # starts a worker, which recovers first
    status = qcq.json("status")
    assert status["queue"]["done"] == total and status["queue"]["running"] == 0
    assert status["index"]["files"] == total and torn_jobs(repo) == (0, 0)
    assert qcq.json("search", "mod_probe_777")["results"][0]["path"] == "gen/mod_777.py"


def test_jobs_missing_from_the_queue_are_resent(qcq: Cq, repo: Path) -> None:
    many_files(repo, 6)
    qcq.run("config", "set", "processing.mode", "manual")
    ws = workspace(repo)
    try:
        # A producer that died between its ledger commit and its send...
        ws.enqueue_paths(["gen/mod_0.py", "gen/mod_1.py"], source="test", send=False)
        # ...and a worker that died holding a job.
        ws.enqueue_paths(["gen/mod_2.py"], source="test", send=False)
        sha = ws.ledger.job("gen/mod_2.py")["sha"]  # type: ignore[index]
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        assert claim(ws.ledger, "gen/mod_2.py", sha, pid=dead.pid)
        assert ws.transport.pending_count() == 0
    finally:
        ws.close()
    qcq.run("worker", "start")  # recovery before consuming
    wait_until(lambda: qcq.json("queue", "status")["done"] == 3, timeout=30)
    # While the worker runs: a job whose send was lost is re-sent by its reconcile loop.
    ws = workspace(repo)
    try:
        ws.enqueue_paths(["gen/mod_3.py"], source="test", send=False)
    finally:
        ws.close()
    wait_until(lambda: qcq.json("queue", "status")["done"] == 4, timeout=60)
    assert qcq.json("queue", "status")["queued"] == 0


# -- queue commands --------------------------------------------------------------------------------


def test_remove_clear_and_retry(qcq: Cq, repo: Path) -> None:
    many_files(repo, 5)
    qcq.run("config", "set", "processing.mode", "manual")
    qcq.run("index")
    assert qcq.json("queue", "remove", "gen/mod_0.py")["removed"] == 1
    assert "gen/mod_0.py" not in {j["path"] for j in qcq.json("queue", "list")["jobs"]}
    assert qcq.json("queue", "clear")["cleared"] == 8
    assert qcq.json("queue", "status")["queued"] == 0
    # The cleared jobs' tasks are still on the queue; the worker consumes them as no-ops.
    assert pending(repo)
    calls = qcq.json("status")["documenter"]["calls"]
    qcq.run("worker", "start")
    wait_until(lambda: not pending(repo), timeout=30)
    assert qcq.json("status")["documenter"]["calls"] == calls
    assert qcq.json("queue", "status")["done"] == 0
    qcq.run("worker", "stop")

    # A job that failed for good goes back on the queue with `queue retry`.
    ws = workspace(repo)
    try:
        ws.enqueue_paths(["gen/mod_1.py"], source="test", send=False)
        sha = ws.ledger.job("gen/mod_1.py")["sha"]  # type: ignore[index]
        assert claim(ws.ledger, "gen/mod_1.py", sha, pid=os.getpid())
        release(ws.ledger, "gen/mod_1.py", sha, "the documenter gave up", final=True)
    finally:
        ws.close()
    assert qcq.json("queue", "status")["failed"] == 1
    assert qcq.json("queue", "retry")["queued"] == 1
    assert [j["state"] for j in qcq.json("queue", "list")["jobs"]] == ["queued"]
    qcq.run("worker", "start")
    wait_until(lambda: qcq.json("queue", "status")["done"] == 1, timeout=30)
    assert qcq.json("queue", "status")["failed"] == 0


def test_a_failing_documenter_is_retried_after_a_delay_then_fails(
    qcq: Cq, repo: Path, tmp_path: Path
) -> None:
    """Retries travel through the backend's schedule (Huey's, in queue.db or a Redis ZSET)."""
    from tests.fakes.llm import write_fake_llm

    fake = write_fake_llm(tmp_path / "bin", "json")
    qcq.env["FAKE_LLM_FAIL_ON"] = "render"
    user = Path(qcq.env["CQ_LSP_CONFIG_HOME"]) / "config.json"
    user.parent.mkdir(parents=True, exist_ok=True)
    user.write_text(
        json.dumps(
            {
                "schema_version": 2,
                "processor": {
                    "kind": "command",
                    "command": [str(fake)],
                    "env": ["FAKE_LLM_FAIL_ON"],
                    "fallback": "none",
                },
                "processing": {"max_retries": 1, "retry_delay_s": 1},
            }
        )
    )
    # The repository's config leaves the documenter to the user file.
    cfg = repo / ".code-query" / "config.json"
    data = json.loads(cfg.read_text())
    keep = {k: v for k, v in data.items() if k in ("schema_version", "queue")}
    cfg.write_text(json.dumps(keep))
    out = qcq.json("index", "--wait", check=False)
    assert out["wait"]["newlyFailed"] == 1
    failed = qcq.json("queue", "list", "--state", "failed")["jobs"]
    assert [(j["path"], j["attempts"]) for j in failed] == [("billing/render.ts", 2)]
    assert "refuses" in failed[0]["error"]
    assert qcq.json("queue", "status")["done"] == 3
    # Fixed (here: the static documenter), `queue retry` documents it.
    qcq.run("config", "set", "processor.kind", "static")
    qcq.run("worker", "restart")
    assert qcq.json("queue", "retry")["queued"] == 1
    wait_until(lambda: qcq.json("queue", "status")["done"] == 4, timeout=30)


# -- a backend that cannot be reached --------------------------------------------------------------


def test_an_unreachable_redis_is_a_clear_error_and_loses_no_job(
    redis_server: RedisServer, cq: Cq, repo: Path
) -> None:
    """(An unusable queue.db is tests/test_storage_*.py's subject.)"""
    backend = redis_server
    qcq = use_backend(cq, backend)
    port = backend.port
    backend.stop()
    proc = qcq.run("queue", "add", "billing/invoice.py", check=False)
    assert proc.returncode == 1
    assert f"the Redis queue at {backend.url} is unreachable" in proc.stderr
    assert "no job was lost" in proc.stderr and "Traceback" not in proc.stderr
    assert [j["state"] for j in qcq.json("queue", "list")["jobs"]] == ["queued"]
    # A worker cannot start without its queue, and says why.
    proc = qcq.run("worker", "start", check=False)
    assert proc.returncode == 1 and "is unreachable" in proc.stderr
    backend.start(port)  # the same URL again
    qcq.run("worker", "start")  # re-sends the job the queue never got
    wait_until(lambda: qcq.json("queue", "status")["done"] == 1, timeout=30)


def test_one_process_can_use_both_backends(tmp_path: Path, isolated_env: dict[str, str]) -> None:
    """huey is imported without redis-py for SQLite; Redis still works in the same process."""
    server = _running_redis(tmp_path)
    try:
        script = r"""
import json, sys
from pathlib import Path
from cq_lsp.worktree.project import Project
from cq_lsp.core.workspace import Workspace
out = {}
for root in sys.argv[1:]:
    ws = Workspace(Project(root))
    ws.transport.send([("f.py", "1" * 40, 0.0), ("g.py", "2" * 40, 0.0)])
    redis_loaded = sys.modules.get("redis") is not None
    out[ws.config.queue.backend] = [redis_loaded, sorted(ws.transport.pending_jobs())]
print(json.dumps(out))
"""
        roots = []
        for name in ("lite", "red"):
            root = tmp_path / name
            root.mkdir()
            run_git(root, "init", "-q")
            cq = Cq(root, isolated_env)
            cq.run("init")
            if name == "red":
                cq.run("config", "set", "queue.url", server.url)
                cq.run("config", "set", "queue.backend", "redis")
            roots.append(str(root))
        proc = subprocess.run(
            [sys.executable, "-c", script, *roots],
            env=isolated_env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        out = json.loads(proc.stdout)
        jobs = [["f.py", "1" * 40], ["g.py", "2" * 40]]
        assert out == {"sqlite": [False, jobs], "redis": [True, jobs]}
    finally:
        server.stop()
