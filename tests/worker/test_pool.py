"""The team store and the worker pool across "machines": separate processes with their own user
config and data dirs, one real redis-server, a fake LLM that counts its calls.

The pool worker runs in a mount namespace where the folder holding every repository is an empty
tmpfs: it cannot read a single file of them, so what it documents came with the request.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cq_lsp.config.schema import Config, ProcessorConfig
from cq_lsp.documenters.select import documenter_fingerprint
from cq_lsp.store.cache import content_sha256, decode_record, doc_key
from tests.conftest import Cq, make_repo, run_git
from tests.core.test_queue_contract import RedisServer, redis_server_exe
from tests.fakes.llm import write_fake_llm

N_FILES = 8
FILES = {
    f"lib/part{i}.py": f'"""Part {i}."""\n\n\ndef part{i}(x):\n    return x + {i}\n'
    for i in range(N_FILES)
}


class Machine:
    """A user on their own machine: own HOME, user config, data dir and fake-LLM call log."""

    def __init__(self, base: Path, name: str, fake: Path, **settings: Any) -> None:
        self.dir = base / "machines" / name
        self.log = self.dir / "llm.log"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("CODEQUERY_", "CQ_"))}
        self.env.update(
            HOME=str(self.dir / "home"),
            CQ_LSP_CONFIG_HOME=str(self.dir / "config"),
            CQ_LSP_DATA_HOME=str(self.dir / "data"),
            FAKE_LLM_LOG=str(self.log),
            FAKE_LLM_SLEEP_S="0.3",
            GIT_AUTHOR_NAME="t",
            GIT_COMMITTER_NAME="t",
            GIT_AUTHOR_EMAIL="t@example.invalid",
            GIT_COMMITTER_EMAIL="t@example.invalid",
            CQ_LSP_BUSY_TIMEOUT_S="60",
        )
        config: dict[str, Any] = {
            "schema_version": 2,
            "processor": {
                "kind": "command",
                "command": [str(fake)],
                "env": ["FAKE_LLM_LOG", "FAKE_LLM_SLEEP_S"],
                "timeout_s": 5,
            },
            "processing": {"mode": "manual"},
            "worker": {"threads": 2},
            **settings,
        }
        (self.dir / "config").mkdir(parents=True)
        (self.dir / "home").mkdir()
        (self.dir / "config" / "config.json").write_text(json.dumps(config), encoding="utf-8")

    def calls(self) -> list[str]:
        if not self.log.exists():
            return []
        return [x for x in self.log.read_text().splitlines() if not x.startswith("done ")]

    def clone(self, origin: Path, dest: Path) -> Path:
        subprocess.run(["git", "clone", "-q", str(origin), str(dest)], check=True, env=self.env)
        Cq(dest, self.env).run("init")
        return dest

    def index(self, root: Path, **kw: Any) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "cq_lsp", "index", "--wait", "--root", str(root)],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            **kw,
        )

    def status(self, root: Path) -> dict[str, Any]:
        result: dict[str, Any] = Cq(root, self.env).json("status")
        return result


def finish(proc: subprocess.Popen[str], timeout: float = 180) -> None:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{out}\n{err}"


def start_pool(machine: Machine, url: str, hidden: Path, probe: Path) -> subprocess.Popen[str]:
    """`cq-lsp pool run` where ``hidden`` (the repositories' parent) is an empty tmpfs."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is needed to hide the repositories from the pool")
    script = (
        'mount -t tmpfs cq-hidden "$1" || exit 97; '
        'test -e "$2" && exit 98; '
        'exec "$3" -m cq_lsp pool run --url "$4" --threads 2'
    )
    cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh"]
    proc = subprocess.Popen(
        [*cmd, str(hidden), str(probe), sys.executable, url],
        env=machine.env,
        cwd=machine.dir,
        stdout=subprocess.DEVNULL,
        stderr=open(machine.dir / "pool.log", "a"),
        text=True,
    )
    deadline = time.monotonic() + 60
    import redis

    r = redis.Redis.from_url(url)
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log = (machine.dir / "pool.log").read_text()
            if proc.returncode == 97:
                pytest.skip(f"cannot mount a tmpfs in a private mount namespace here: {log}")
            raise AssertionError(f"pool worker exited {proc.returncode}: {log}")
        if any(True for _ in r.scan_iter(match="cq:pool:worker:*")):
            return proc
        time.sleep(0.1)
    raise AssertionError("the pool worker never announced itself")


@pytest.fixture
def redis_server(tmp_path: Path) -> Any:
    server = RedisServer(redis_server_exe(), tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fake(tmp_path: Path) -> Path:
    return write_fake_llm(tmp_path / "bin", "timed")


def origin_repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "work" / "origin", dict(FILES))


def check_records(machine: Machine, root: Path, fake: Path) -> None:
    """Every file is in the index with ITS documentation, and the local store holds each record
    under the key of the content it documents (the fake names the path in its overview)."""
    db = sqlite3.connect(root / ".code-query" / "index.db")
    rows = dict(db.execute("SELECT filepath, overview FROM files").fetchall())
    assert {k: rows.get(k) for k in FILES} == {k: f"Fake LLM overview of {k}." for k in FILES}
    cfg = Config(processor=ProcessorConfig(kind="command", command=(str(fake),), timeout_s=5))
    fp = documenter_fingerprint(cfg)
    store = sqlite3.connect(Path(machine.env["CQ_LSP_DATA_HOME"]) / "docs-cache.db")
    stored = dict(store.execute("SELECT key, record FROM records").fetchall())
    by_key = {doc_key(fp, content_sha256(t.encode()), "python", None): p for p, t in FILES.items()}
    for key, blob in stored.items():
        assert key in by_key, "a record under a key that is no file's"
        record = decode_record(blob, path=by_key[key], language="python")
        assert record.overview == f"Fake LLM overview of {by_key[key]}."


def test_pool_documents_content_it_cannot_read_and_a_teammate_reuses_it(
    tmp_path: Path, redis_server: RedisServer, fake: Path
) -> None:
    url = redis_server.url
    origin = origin_repo(tmp_path)
    pool = Machine(tmp_path, "pool", fake)
    alice = Machine(tmp_path, "alice", fake, pool={"url": url, "timeout_s": 60})
    bob = Machine(tmp_path, "bob", fake, cache={"url": url, "write": False})
    worker = start_pool(pool, url, tmp_path / "work", origin / "lib" / "part0.py")
    try:
        a_root = alice.clone(origin, tmp_path / "work" / "alice")
        finish(alice.index(a_root))
        assert alice.calls() == []
        assert sorted(pool.calls()) == sorted(FILES)
        st = alice.status(a_root)
        assert st["sharing"]["reused"]["pool"] == N_FILES
        assert st["sharing"]["pool"]["workersSeen"] == 1
        assert "file content to the pool" in st["sharing"]["where"]["summary"]
        check_records(alice, a_root, fake)

        b_root = bob.clone(origin, tmp_path / "work" / "bob")
        finish(bob.index(b_root))
        assert bob.calls() == [] and len(pool.calls()) == N_FILES
        assert bob.status(b_root)["sharing"]["reused"]["teamStore"] == N_FILES
        check_records(bob, b_root, fake)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)


def test_teammates_indexing_at_once_document_each_file_once(
    tmp_path: Path, redis_server: RedisServer, fake: Path
) -> None:
    origin = origin_repo(tmp_path)
    mates = [Machine(tmp_path, f"m{i}", fake, cache={"url": redis_server.url}) for i in range(3)]
    roots = [m.clone(origin, tmp_path / "work" / f"m{i}") for i, m in enumerate(mates)]
    procs = [m.index(r) for m, r in zip(mates, roots, strict=True)]
    for p in procs:
        finish(p)
    every = [c for m in mates for c in m.calls()]
    assert sorted(every) == sorted(FILES), "a file was documented by two machines"
    for m, r in zip(mates, roots, strict=True):
        check_records(m, r, fake)


def test_a_dead_team_store_never_blocks_documenting(tmp_path: Path, fake: Path) -> None:
    from tests.core.test_queue_contract import _free_port

    url = f"redis://127.0.0.1:{_free_port()}/0"  # nothing listens there
    origin = origin_repo(tmp_path)
    m = Machine(tmp_path, "solo", fake, cache={"url": url})
    root = m.clone(origin, tmp_path / "work" / "solo")
    finish(m.index(root))
    assert sorted(m.calls()) == sorted(FILES)
    st = m.status(root)
    problems = [p for p in st["message"].split(" · ") if "team store" in p]
    assert len(problems) == 1 and "unreachable" in problems[0]
    doctor = Cq(root, m.env).run("doctor", check=False).stdout
    assert "team store redis://127.0.0.1" in doctor and "unreachable" in doctor


def test_kill_9_pool_local_worker_and_redis_loses_nothing(tmp_path: Path, fake: Path) -> None:
    server = RedisServer(redis_server_exe(), tmp_path / "redis")
    rng = random.Random(int(os.environ.get("CQ_TEST_SEED", "16")))
    server.start()
    port = server.port
    url = server.url
    origin = origin_repo(tmp_path)
    pool = Machine(tmp_path, "pool", fake)
    me = Machine(tmp_path, "me", fake, pool={"url": url, "timeout_s": 3})
    root = me.clone(origin, tmp_path / "work" / "me")
    probe = origin / "lib" / "part0.py"
    worker = start_pool(pool, url, tmp_path / "work", probe)
    local = me.index(root)
    kills = {"pool": 0, "local": 0, "redis": 0}
    try:
        for _ in range(3):
            time.sleep(rng.uniform(0.2, 1.2))
            victim = rng.choice(sorted(kills))
            kills[victim] += 1
            if victim == "pool":
                worker.kill()
                worker.wait()
                worker = start_pool(pool, url, tmp_path / "work", probe)
            elif victim == "local":
                local.kill()
                local.communicate()
                local = me.index(root)
            else:
                assert server.proc is not None
                server.proc.kill()
                server.proc.wait()
                server.start(port=port)
        local.communicate(timeout=300)
        finish(me.index(root))  # the local worker's next run takes up what a kill left
    finally:
        worker.kill()
        worker.wait()
        server.stop()
    check_records(me, root, fake)
    st = me.status(root)
    assert st["queue"]["done"] == N_FILES and st["queue"]["failed"] == 0
    # A call that a kill -9 cut short is made again; nothing else is.
    calls = len(me.calls()) + len(pool.calls())
    assert N_FILES <= calls <= N_FILES + 2 * (kills["pool"] + kills["local"] + kills["redis"])


# The ACL set-up the README documents (Redis >= 7 for the %R read-only key selectors).
ACL_USERS = {
    "cq-writer": "on >writer-pw ~cq:* ~huey.* &* +@all -@dangerous",
    "cq-reader": "on >reader-pw %R~cq:doc:* +@read +@connection",
    "cq-pool-client": (
        "on >client-pw %R~cq:doc:* %R~cq:pool:worker:* ~huey.* &* +@all -@dangerous"
    ),
}


def test_with_acls_only_ci_and_the_pool_write(
    tmp_path: Path, redis_server: RedisServer, fake: Path
) -> None:
    import redis

    admin = redis.Redis.from_url(redis_server.url)
    for user, rules in ACL_USERS.items():
        admin.acl_setuser(user, reset=True)
        admin.execute_command("ACL", "SETUSER", user, *rules.split())

    def url(user: str, pw: str) -> str:
        return f"redis://{user}:{pw}@127.0.0.1:{redis_server.port}/0"

    writer, reader = url("cq-writer", "writer-pw"), url("cq-reader", "reader-pw")
    with pytest.raises(redis.exceptions.NoPermissionError):
        redis.Redis.from_url(reader).set("cq:doc:forged", b"x")

    origin = origin_repo(tmp_path)
    ci = Machine(tmp_path, "ci", fake, cache={"url": writer})
    finish(ci.index(ci.clone(origin, tmp_path / "work" / "ci")))
    assert sorted(ci.calls()) == sorted(FILES)

    dev = Machine(tmp_path, "dev", fake, cache={"url": reader, "write": False})
    d_root = dev.clone(origin, tmp_path / "work" / "dev")
    finish(dev.index(d_root))
    assert dev.calls() == []
    assert dev.status(d_root)["sharing"]["reused"]["teamStore"] == N_FILES

    # A reader's new content is documented on its own machine and never written to the store.
    (d_root / "lib" / "new.py").write_text("def new():\n    return 1\n", encoding="utf-8")
    run_git(d_root, "add", "lib/new.py")
    finish(dev.index(d_root))
    assert dev.calls() == ["lib/new.py"]
    assert len(list(admin.scan_iter(match="cq:doc:*"))) == N_FILES

    # Through the pool: the client queues requests, the pool (a writer) documents and stores.
    pool = Machine(tmp_path, "pool", fake)
    client = Machine(
        tmp_path,
        "client",
        fake,
        cache={"write": False},
        pool={"url": url("cq-pool-client", "client-pw"), "timeout_s": 60},
    )
    worker = start_pool(pool, writer, tmp_path / "work", origin / "lib" / "part0.py")
    try:
        c_root = client.clone(origin, tmp_path / "work" / "client")
        (c_root / "lib" / "pooled.py").write_text("def pooled():\n    pass\n", encoding="utf-8")
        run_git(c_root, "add", "lib/pooled.py")
        finish(client.index(c_root))
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    assert client.calls() == [] and pool.calls() == ["lib/pooled.py"]
    assert len(list(admin.scan_iter(match="cq:doc:*"))) == N_FILES + 1
