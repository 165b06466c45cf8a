"""Adversarial regressions (issue 12): symlinks into git's data, the check-then-read race, hook
arguments that look like options, names no file system accepts. Real git, real CLI, a real
process swapping directories."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from cq_lsp.errors import PathRefused
from cq_lsp.worktree.guard import PathGuard
from tests.conftest import Cq, make_repo, run_git
from tests.fakes.llm import write_fake_llm

TOKEN = "SECRETTOKEN4242"


def _search(cq: Cq, word: str) -> set[str]:
    return {r["path"] for r in cq.json("search", word, "--limit", "100")["results"]}


def _jobs(cq: Cq) -> dict[str, dict[str, Any]]:
    return {j["path"]: j for j in cq.json("queue", "list", "-n", "1000")["jobs"]}


# -- 1. symlinks into .git/ and .code-query/ ------------------------------------------------------


@pytest.fixture
def leaky(tmp_path: Path, isolated_env: dict[str, str]) -> Cq:
    """A repository whose .git/config holds a credential, and tracked symlinks leading there."""
    root = make_repo(tmp_path / "r", {"a.py": '"""CONTROLWORD module."""\nx = 1\n'})
    with open(root / ".git" / "config", "a", encoding="utf-8") as fh:
        fh.write(f'[remote "o"]\n\turl = https://u:{TOKEN}@example.invalid/r.git\n')
    os.symlink(".git/config", root / "notes.txt")
    os.symlink(".git", root / "gd")
    os.symlink(".code-query", root / "cqlink")
    os.symlink("gd/config", root / "via_dir_link.txt")
    run_git(root, "add", "-A")
    run_git(root, "commit", "-q", "-m", "links")
    cq = Cq(root, isolated_env)
    cq.run("init")
    cq.run("config", "set", "processing.mode", "manual")
    cq.run("config", "set", "processing.delay_seconds", "0")
    return cq


def test_index_never_documents_a_symlink_into_git_dir(leaky: Cq) -> None:
    leaky.run("index", "--wait")
    assert _search(leaky, "CONTROLWORD") == {"a.py"}  # the index works: the control is found
    assert _search(leaky, TOKEN) == set()
    jobs = _jobs(leaky)
    for rel in ("notes.txt", "via_dir_link.txt"):
        assert jobs[rel]["state"] == "skipped", jobs[rel]
        assert jobs[rel]["reason"] == "internal_link", jobs[rel]


def test_queue_add_refuses_every_name_leading_into_git_or_state_dir(leaky: Cq) -> None:
    names = ["notes.txt", "gd/config", "cqlink/config.json", "via_dir_link.txt", "gd/HEAD"]
    proc = leaky.run("queue", "add", *names, "--json", check=False)
    out = proc.stdout + proc.stderr
    for name in names:
        assert name in out
    leaky.run("queue", "process", check=False)
    assert _search(leaky, TOKEN) == set()
    assert not any(j["state"] == "done" for j in _jobs(leaky).values() if j["path"] in names)


def test_post_commit_hook_never_documents_a_symlink_into_git_dir(leaky: Cq) -> None:
    os.symlink("gd/config", leaky.root / "later.txt")
    run_git(leaky.root, "add", "later.txt")
    run_git(leaky.root, "commit", "-q", "-m", "another link")
    env = {**leaky.env, "CQ_LSP_HOOK_DETACHED": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "cq_lsp", "hook", "post-commit"],
        cwd=leaky.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "later.txt" in proc.stderr and "into .git/" in proc.stderr
    leaky.run("queue", "process")
    assert _search(leaky, TOKEN) == set()
    assert _jobs(leaky)["later.txt"]["reason"] == "internal_link"


def test_a_git_dir_inside_the_tree_under_another_name_is_internal(
    tmp_path: Path, isolated_env: dict[str, str]
) -> None:
    root = tmp_path / "sep"
    root.mkdir()
    run_git(root, "init", "-q", "--separate-git-dir", str(root / "gitstore"))
    (root / "gitstore" / "secret").write_text(TOKEN + "\n")
    os.symlink("gitstore/secret", root / "n.txt")
    guard = PathGuard(root, [], 1_000_000)
    for name in ("n.txt", "gitstore/secret"):
        with pytest.raises(PathRefused) as info:
            guard.read(guard.to_rel(name))
        assert info.value.reason in ("internal", "internal_link")


# -- 2. the check-then-read race ------------------------------------------------------------------

SWAPPER = textwrap.dedent(
    """
    import ctypes, os, sys
    libc = ctypes.CDLL(None, use_errno=True)
    AT_FDCWD, RENAME_EXCHANGE = -100, 2
    a, b, limit = os.fsencode(sys.argv[1]), os.fsencode(sys.argv[2]), int(sys.argv[3])
    done = 0
    for _ in range(limit):
        if libc.renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) != 0:
            sys.exit("renameat2: " + os.strerror(ctypes.get_errno()))
        done += 1
        if done == 1:
            print("swapping", flush=True)
    print(done, flush=True)
    """
)


def _race_tree(tmp_path: Path, n: int) -> Path:
    root = make_repo(tmp_path / "r", {"a.py": "x = 1\n"})
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "d").mkdir()
    for i in range(n):
        (root / "d" / f"f{i}.py").write_text(f'"""INSIDEWORD {i}."""\n')
        (outside / f"f{i}.py").write_text(f'"""OUTSIDEWORD {i}."""\n')
    os.symlink("../outside", root / "evil")
    return root


def _start_swapper(root: Path, swaps: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", SWAPPER, str(root / "d"), str(root / "evil"), str(swaps)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    if first.strip() != "swapping":
        proc.wait()
        pytest.skip(f"renameat2(RENAME_EXCHANGE) unavailable: {proc.stderr.read().strip()}")
    return proc


def test_guard_never_reads_outside_while_a_dir_and_a_symlink_swap(
    tmp_path: Path, isolated_env: dict[str, str]
) -> None:
    root = _race_tree(tmp_path, 1)
    guard = PathGuard(root, [], 1_000_000)
    swapper = _start_swapper(root, 20_000)
    outcomes: dict[str, int] = {}
    outside_reads = raw_errors = 0
    try:
        while swapper.poll() is None:
            try:
                content = guard.read("d/f0.py")
            except PathRefused as exc:
                outcomes[exc.reason] = outcomes.get(exc.reason, 0) + 1
                continue
            except OSError:
                raw_errors += 1
                continue
            if b"OUTSIDEWORD" in content.data:
                outside_reads += 1
            outcomes["read"] = outcomes.get("read", 0) + 1
    finally:
        swapper.wait(timeout=60)
    assert swapper.returncode == 0, swapper.stderr.read() if swapper.stderr else ""
    assert sum(outcomes.values()) > 0
    assert outside_reads == 0, outcomes
    assert raw_errors == 0, outcomes
    # The file exists throughout, inside or (through the symlink) outside: never "missing".
    assert set(outcomes) <= {"read", "escapes"}, outcomes


def test_enqueue_and_documenting_store_no_outside_content_during_swaps(
    tmp_path: Path, isolated_env: dict[str, str]
) -> None:
    from cq_lsp.core.runner import document_queued
    from cq_lsp.core.workspace import Workspace
    from cq_lsp.store.search import search
    from cq_lsp.worktree.project import Project

    n, rounds = 40, 8
    root = _race_tree(tmp_path, n)
    cq = Cq(root, isolated_env)
    cq.run("init")
    cq.run("config", "set", "processing.mode", "manual")
    cq.run("config", "set", "processing.delay_seconds", "0")
    # Descriptors of the real directories: each round changes every file wherever the swapper
    # has put its directory, so every round documents all of them again.
    inside_fd = os.open(root / "d", os.O_RDONLY)
    outside_fd = os.open(tmp_path / "outside", os.O_RDONLY)
    rels = [f"d/f{i}.py" for i in range(n)]
    ws = Workspace(Project(root))
    swapper = _start_swapper(root, 50_000_000)
    leaked: list[tuple[int, str]] = []
    try:
        for r in range(rounds):
            for i in range(n):
                for fd, word in ((inside_fd, "INSIDEWORD"), (outside_fd, "OUTSIDEWORD")):
                    f = os.open(f"f{i}.py", os.O_WRONLY | os.O_TRUNC, dir_fd=fd)
                    os.write(f, f'"""{word} {i} round {r}."""\n'.encode())
                    os.close(f)
            ws.enqueue_paths(rels, source="test", send=False)
            document_queued(ws, threads=2)
            hits = search(ws.db, "OUTSIDEWORD", limit=100)["results"]
            leaked.extend((r, hit["path"]) for hit in hits)
        # And through the real CLI.
        cq.run("queue", "add", *rels, check=False)
        cq.run("queue", "process", check=False)
    finally:
        swapper.kill()
        swapper.wait(timeout=60)
        ws.close()
        os.close(inside_fd)
        os.close(outside_fd)
    assert leaked == []
    assert _search(cq, "OUTSIDEWORD") == set()
    if os.path.islink(root / "d"):  # leave the real directory under its own name
        os.rename(root / "d", root / "tmp")
        os.rename(root / "evil", root / "d")
        os.rename(root / "tmp", root / "evil")
    cq.run("queue", "add", *rels)
    cq.run("queue", "process")
    assert _search(cq, "INSIDEWORD") == set(rels)


# -- 7. names no file system accepts ------------------------------------------------------------


def test_a_name_over_255_bytes_is_refused_and_breaks_nothing_later(cq: Cq) -> None:
    cq.run("init")
    cq.run("config", "set", "processing.mode", "manual")
    long_name = "a" * 300 + ".py"
    proc = cq.run("queue", "add", long_name, check=False)
    assert "Traceback" not in proc.stderr
    assert "longer than file systems allow" in proc.stdout + proc.stderr
    nested = "d/" * 3000 + "x.py"  # ENAMETOOLONG for the whole path, each part short
    proc = cq.run("queue", "add", nested, check=False)
    assert "Traceback" not in proc.stderr
    assert cq.run("index", "--wait").returncode == 0
    assert cq.run("queue", "cleanup").returncode == 0


def test_symlink_loops_and_long_paths_are_refusals_not_oserrors(
    tmp_path: Path, isolated_env: dict[str, str]
) -> None:
    root = make_repo(tmp_path / "r", {"a.py": "x = 1\n"})
    os.symlink("loop2", root / "loop1")
    os.symlink("loop1", root / "loop2")
    guard = PathGuard(root, [], 1_000_000)
    cases = {
        "loop1": "symlink_loop",
        "loop1/x.py": "symlink_loop",
        "a" * 300: "bad_name",
        "b/" * 3000 + "x.py": "missing",
    }
    for name, reason in cases.items():
        with pytest.raises(PathRefused) as info:
            guard.read(name)
        assert info.value.reason == reason, (name[:20], info.value.message)
    with pytest.raises(PathRefused) as info:
        guard.to_rel("a" * 300)
    assert info.value.reason == "bad_name"
    assert guard.exists("a" * 300) is False


# -- 4. trust is for a repository's own file; editor trust does not travel in the environment -----


def _command_repo(root: Path, env: dict[str, str], fake: Path) -> Cq:
    make_repo(root, {"a.py": '"""A module."""\nx = 1\n'})
    cq = Cq(root, env)
    cq.run("init")
    cq.run("config", "set", "processor.command", json.dumps([str(fake), "{path}"]))
    cq.run("config", "set", "processor.kind", "command")
    cq.run("config", "set", "processor.env", '["FAKE_LLM_LOG"]')
    cq.run("config", "set", "processing.retry_delay_s", "0")
    return cq


def _llm_calls(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def test_a_symlinked_config_never_borrows_another_repositorys_trust(
    tmp_path: Path, isolated_env: dict[str, str]
) -> None:
    log = tmp_path / "llm.log"
    env = {**isolated_env, "FAKE_LLM_LOG": str(log)}
    fake = write_fake_llm(tmp_path / "bin", "json")
    a = _command_repo(tmp_path / "A", env, fake)
    a.run("config", "trust")
    b = _command_repo(tmp_path / "B", env, fake)
    b_config = b.root / ".code-query" / "config.json"
    b_config.unlink()
    b_config.symlink_to(a.root / ".code-query" / "config.json")
    try:
        refused = b.run("config", "trust", check=False)
        assert refused.returncode == 2 and "symlink" in refused.stderr, refused.stderr
        assert b.run("index", "--wait", check=False).returncode == 1
        assert "symlink" in _jobs(b)["a.py"]["error"]
        assert _llm_calls(log) == []
        # A's own file stays trusted for A.
        a.run("index", "--wait")
        assert len(_llm_calls(log)) == 1
    finally:
        a.stop_worker()
        b.stop_worker()


def test_editor_trust_is_not_read_from_the_environment(
    tmp_path: Path, isolated_env: dict[str, str]
) -> None:
    log = tmp_path / "llm.log"
    env = {
        **isolated_env,
        "FAKE_LLM_LOG": str(log),
        "CQ_LSP_EDITOR_TRUSTED": "1",
        "CQ_LSP_EDITOR_SETTINGS": '{"processor": {"kind": "command"}}',
    }
    cq = _command_repo(tmp_path / "r", env, write_fake_llm(tmp_path / "bin", "json"))
    try:
        assert cq.run("index", "--wait", check=False).returncode == 1
        assert "cq-lsp config trust" in _jobs(cq)["a.py"]["error"]
        assert _llm_calls(log) == []
    finally:
        cq.stop_worker()


HANDOFF_CHILD = "import json, sys; from cq_lsp.core import editor_env; " + (
    "print(json.dumps(editor_env.decode(sys.argv[1])))"
)
HANDOFF_SERVER = textwrap.dedent(
    """
    import subprocess, sys
    from cq_lsp.core import editor_env
    editor_env.encode({"model": "m1"}, True, sys.argv[1])
    child = [sys.executable, "-c", sys.argv[2], sys.argv[1]]
    print(subprocess.run(child, capture_output=True, text=True, check=True).stdout.strip())
    """
)


def test_editor_handoff_reaches_only_a_worker_the_server_started(
    tmp_path: Path, isolated_env: dict[str, str]
) -> None:
    root = make_repo(tmp_path / "r", {"a.py": "x = 1\n"})

    def run(*args: str) -> Any:
        proc = subprocess.run(
            [sys.executable, "-c", *args], env=isolated_env, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout.strip().splitlines()[-1])

    # The "server" wrote the hand-off and started the child: the child gets settings and trust.
    assert run(HANDOFF_SERVER, str(root), HANDOFF_CHILD) == [{"model": "m1"}, True]
    # The same child started by anyone else finds nothing, even with the server's file left over.
    assert run(HANDOFF_CHILD, str(root)) == [None, False]
    files = list((tmp_path / "user-data" / "editor-handoff").iterdir())
    assert files and all(f.stat().st_mode & 0o777 == 0o600 for f in files)


# -- 1 and 7 through the language server: didSave goes through the same guard ---------------------


@pytest.mark.timeout(180)
async def test_did_save_of_links_into_git_and_of_impossible_names(
    tmp_path: Path, isolated_env: dict[str, str]
) -> None:
    from tests.lsp_harness import lsp_session

    root = make_repo(tmp_path / "r", {"a.py": "x = 1\n"})
    with open(root / ".git" / "config", "a", encoding="utf-8") as fh:
        fh.write(f'[remote "o"]\n\turl = https://u:{TOKEN}@example.invalid/r.git\n')
    Cq(root, isolated_env).run("init")
    options = {"config": {"processing": {"debounce_ms": 50}}}
    async with lsp_session([root], isolated_env, options=options) as s:
        await s.wait_status(root, lambda st: st["queue"]["done"] > 0 and not st["queue"]["queued"])
        os.symlink(".git/config", root / "notes.txt")
        os.symlink(".git", root / "gd")
        s.save(root / "notes.txt")
        s.save(root / "gd" / "config")
        s.save(root / ("n" * 300 + ".py"))
        kept = root / "kept.py"
        kept.write_text("KEPTWORD = 2\n")
        s.save(kept)
        await s.wait_status(
            root, lambda st: st["index"]["files"] == 2 and not st["queue"]["queued"], timeout=60
        )
        found = await s.command("cq.search", {"query": TOKEN})
        assert found["results"] == []
        jobs = {j["path"]: j for j in (await s.command("cq.queue.list"))["jobs"]}
        assert jobs["notes.txt"]["state"] == "skipped"
        assert jobs["notes.txt"]["reason"] == "internal_link"
        assert not any(
            p.startswith(("gd/", "nnnn")) and j["state"] == "done" for p, j in jobs.items()
        )
        status = await s.command("cq.status")
        assert status["health"] in ("ok", "warning"), status


@pytest.mark.timeout(180)
async def test_server_answers_status_whatever_config_json_becomes(
    tmp_path: Path, isolated_env: dict[str, str]
) -> None:
    import asyncio

    from tests.lsp_harness import lsp_session

    root = make_repo(tmp_path / "r", {"a.py": "x = 1\n"})
    Cq(root, isolated_env).run("init")
    config = root / ".code-query" / "config.json"
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    options = {"config": {"processing": {"debounce_ms": 50}}}
    async with lsp_session([root], isolated_env, options=options) as s:
        await s.wait_status(root, lambda st: st["queue"]["done"] > 0)
        for make in (
            lambda: config.write_text('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"),
            lambda: config.write_text('{"processing": {"batch_size": ' + "9" * 5000 + "}}"),
            lambda: config.symlink_to(fifo),
            lambda: config.symlink_to("/dev/zero"),
        ):
            config.unlink()
            make()
            # Live workspaces look at config files at most once a second: ask until it shows.
            for _ in range(100):
                status = await asyncio.wait_for(s.command("cq.status"), timeout=60)
                assert isinstance(status, dict) and status.get("root") == str(root), status
                if status["health"] == "error":
                    break
                await asyncio.sleep(0.2)
            assert "config.json is invalid" in status["message"], status
