"""The language server end to end: a real `python -m cq_lsp --stdio` process driven over the
protocol by pytest-lsp's client, with real git repositories and real worker processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from cq_lsp.commands.table import COMMANDS
from tests.conftest import Cq, make_repo, run_git, survivors, wait_until
from tests.lsp_harness import FAST, drained, lsp_session, plain

pytestmark = pytest.mark.timeout(180)


def _worker_pids(root: Path) -> list[int]:
    out = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info["cmdline"] or []
        if "worker" in cmd and "run" in cmd and str(root) in cmd:
            out.append(p.pid)
    return out


async def test_initialize_advertises_commands_and_reports_status(
    inited: Path, isolated_env: dict[str, str]
) -> None:
    async with lsp_session([inited], isolated_env, options=FAST) as s:
        caps = s.result.capabilities
        assert s.result.server_info is not None and s.result.server_info.name == "cq-lsp"
        commands = set(caps.execute_command_provider.commands)  # type: ignore[union-attr]
        # Exactly the one table: nothing registered by hand, nothing of the table missing.
        assert commands == set(COMMANDS)
        assert caps.workspace_symbol_provider and caps.hover_provider
        # Catching up at startup documents the committed files, and the status says so.
        st = await s.wait_status(inited, drained)
        assert st["health"] == "ok", st
        assert st["index"]["files"] == 4
        assert set(st["worker"]) >= {"state", "pid", "uptimeS", "restarts", "rssBytes"}
        assert set(st["queue"]) >= {"queued", "running", "failed", "done", "oldestQueuedS"}
        assert "worker" in st["message"]


async def test_save_is_queued_documented_and_searchable(
    inited: Path, isolated_env: dict[str, str]
) -> None:
    async with lsp_session([inited], isolated_env, options=FAST) as s:
        await s.wait_status(inited, drained)
        f = inited / "billing" / "refunds.py"
        f.write_text('def issue_refund_voucher(order):\n    """Refund an order."""\n')
        s.open(f)
        s.save(f)
        await s.wait_status(inited, lambda st: drained(st) and st["index"]["files"] == 5)
        found = await s.command("cq.search", {"query": "refund voucher"})
        assert found["results"][0]["path"] == "billing/refunds.py"
        assert found["root"] == str(inited)
        record = await s.command("cq.show", {"path": "billing/refunds.py"})
        assert "issue_refund_voucher" in record["functions"]
        # The same file by absolute path (what an editor sends) picks the right folder.
        record = await s.command("cq.show", str(f))
        assert record["path"] == "billing/refunds.py"


async def test_ignored_and_internal_files_are_not_queued_on_save(
    inited: Path, isolated_env: dict[str, str]
) -> None:
    (inited / ".gitignore").write_text("scratch/\n")
    async with lsp_session([inited], isolated_env, options=FAST) as s:
        await s.wait_status(inited, drained)
        scratch = inited / "scratch" / "tmp.py"
        scratch.parent.mkdir()
        scratch.write_text("X = 1\n")
        s.save(scratch)
        s.save(inited / ".code-query" / "config.json")
        s.save(inited / ".git" / "config")
        f = inited / "kept.py"
        f.write_text("Y = 2\n")
        s.save(f)
        await s.wait_status(inited, lambda st: drained(st) and st["index"]["files"] == 5)
        jobs = await s.command("cq.queue.list")
        paths = {j["path"] for j in jobs["jobs"]}
        assert "kept.py" in paths
        assert not any(p.startswith(("scratch/", ".code-query/", ".git/")) for p in paths)


async def test_uninitialized_folder_then_init_command(
    repo: Path, isolated_env: dict[str, str]
) -> None:
    async with lsp_session([repo], isolated_env, options=FAST) as s:
        st = await s.wait_status(repo, lambda st: True)
        assert st["initialized"] is False and st["health"] == "warning"
        assert "not initialized" in st["message"]
        result = await s.command("cq.init", {})
        assert result["created"] is True and (repo / ".code-query" / "config.json").exists()
        await s.command("cq.index", {})
        st = await s.wait_status(repo, lambda st: st.get("initialized") and drained(st))
        assert st["index"]["files"] == 4


async def test_folder_outside_git_reports_a_clear_status(
    tmp_path: Path, isolated_env: dict[str, str]
) -> None:
    plain_dir = tmp_path / "not-a-repo"
    plain_dir.mkdir()
    async with lsp_session([plain_dir], isolated_env) as s:
        st = await s.wait_status(plain_dir, lambda st: True)
        assert st["health"] == "warning" and "not a git work tree" in st["message"]
        with pytest.raises(JsonRpcException) as exc:
            await s.command("cq.search", "anything")
        assert "git" in str(exc.value)


async def test_invalid_command_arguments_are_invalid_params_errors(
    inited: Path, isolated_env: dict[str, str]
) -> None:
    async with lsp_session([inited], isolated_env, options=FAST) as s:
        cases = [
            ("cq.search", [{}], "query is required"),
            ("cq.search", [{"query": 5}], "query must be a non-empty string"),
            ("cq.search", [{"query": "x", "limit": -1}], "limit must be an integer from 1"),
            ("cq.search", [{"query": "x", "limit": 10**30}], "limit must be an integer from 1"),
            ("cq.queue.history", [{"n": 10**30}], "n must be an integer from 1"),
            ("cq.show", [{"path": "a\0b"}], "path must not contain a NUL"),
            ("cq.queue.add", [{"paths": ["ok.py", "a\0b"]}], "paths [1] must not contain a NUL"),
            ("cq.status", [{"root": "/tmp\0x"}], "root must not contain a NUL"),
            ("cq.show", [{"path": "x" * 100_000}], "path must be at most 4096 characters"),
            ("cq.queue.list", [{"state": ["bogus"]}], "unknown job state"),
            ("cq.show", [{"path": "x", "colour": 1}], "unknown argument(s) colour"),
            ("cq.show", [{"path": "../../etc/passwd"}], "outside the work tree"),
            ("cq.status", [{"root": "/nowhere"}], "not one of the workspace folders"),
            ("cq.queue.add", [7], "must be an object"),
            ("cq.search", ["a", "b"], "too many arguments"),
        ]
        for name, args, expected in cases:
            with pytest.raises(JsonRpcException) as exc:
                await s.command(name, *args)
            assert expected in str(exc.value), (name, args, str(exc.value))
            assert exc.value.code == -32602, (name, exc.value.code)
        # The server is still fine after all of that.
        st = await s.command("cq.status")
        assert st["root"] == str(inited)


async def test_invalid_settings_show_one_message_and_run_on_defaults(
    inited: Path, isolated_env: dict[str, str]
) -> None:
    options = {"showNotifications": "loud", "worker": {"autoStrt": True}, "trusted": True}
    async with lsp_session([inited], isolated_env, options=options) as s:
        st = await s.wait_status(inited, drained)
        shown = [m.message for m in s.client.messages]
        assert len(shown) == 1, shown
        assert "cq.showNotifications" in shown[0] and "autoStrt" in shown[0]
        assert "settingsError" in st and st["health"] == "warning"


async def test_invalid_config_layer_from_editor_keeps_defaults(
    inited: Path, isolated_env: dict[str, str]
) -> None:
    options = {"config": {"processing": {"batch_size": "five"}}}
    async with lsp_session([inited], isolated_env, options=options) as s:
        st = await s.wait_status(inited, lambda st: st.get("configError"))
        assert "processing.batch_size" in st["configError"]
        assert st["health"] == "error"
        # Still documents with the defaults.
        await s.wait_status(inited, drained)


async def _sleep(seconds: float = 0.05) -> None:
    import asyncio

    await asyncio.sleep(seconds)


async def test_index_command_reports_progress(inited: Path, isolated_env: dict[str, str]) -> None:
    for i in range(30):
        (inited / "pkg" / f"m{i}.py").parent.mkdir(exist_ok=True)
        (inited / "pkg" / f"m{i}.py").write_text(f"def f{i}():\n    return {i}\n")
    run_git(inited, "add", "-A")
    run_git(inited, "commit", "-qm", "more")
    async with lsp_session(
        [inited], isolated_env, options={**FAST, "worker": {"autoStart": False}}
    ) as s:
        await s.wait_status(inited, lambda st: st["queue"]["queued"] >= 30)
        await s.command("cq.worker.start")
        result = await s.command("cq.index", {"wait": True})
        assert result["wait"]["cancelledByUser"] is False
        reports = next(
            ps
            for ps in s.client.progress_reports.values()
            if ps and "documenting" in getattr(ps[0], "title", "")
        )
        kinds = [type(r).__name__ for r in reports]
        assert kinds[0] == "WorkDoneProgressBegin" and kinds[-1] == "WorkDoneProgressEnd", kinds
        assert reports[0].cancellable is True


async def test_worker_commands_and_queue_commands(
    inited: Path, isolated_env: dict[str, str]
) -> None:
    async with lsp_session([inited], isolated_env, options=FAST) as s:
        await s.wait_status(inited, drained)
        stopped = await s.command("cq.worker.stop")
        assert stopped["stopped"] is True
        await s.wait_status(inited, lambda st: st["worker"]["state"] == "stopped")
        started = await s.command("cq.worker.start")
        assert started["started"] is True
        assert started["worker"]["state"] == "running" and started["worker"]["pid"]
        await s.wait_status(inited, lambda st: st["worker"]["state"] == "running")
        restarted = await s.command("cq.worker.restart")
        assert restarted["stopped"]["stopped"] is True and restarted["started"] is True
        added = await s.command("cq.queue.add", {"paths": ["README.md", "nope/missing.py"]})
        assert added["unchanged"] == 1
        removed = await s.command("cq.queue.remove", "README.md")
        assert removed["removed"] == 1
        listed = await s.command("cq.queue.list", {"state": ["done"]})
        assert "README.md" not in {j["path"] for j in listed["jobs"]}
        assert (await s.command("cq.queue.clear"))["cleared"] == 0
        assert (await s.command("cq.queue.retry"))["queued"] == 0
        assert (await s.command("cq.queue.cleanup"))["removed"] == 0
        history = await s.command("cq.queue.history", {"n": 5})
        assert history["history"][0]["op"] == "remove"


async def test_commit_outside_the_editor_is_picked_up(
    inited: Path, isolated_env: dict[str, str]
) -> None:
    async with lsp_session([inited], isolated_env, options=FAST) as s:
        await s.wait_status(inited, drained)
        (inited / "billing" / "invoice.py").unlink()
        (inited / "shipping.py").write_text("def ship_parcel():\n    pass\n")
        run_git(inited, "add", "-A")
        run_git(inited, "commit", "-qm", "move things")
        # What the editor's file watcher reports for a commit.
        s.client.workspace_did_change_watched_files(
            types.DidChangeWatchedFilesParams(
                changes=[
                    types.FileEvent(
                        uri=(inited / ".git" / "refs" / "heads" / "main").as_uri(),
                        type=types.FileChangeType.Changed,
                    )
                ]
            )
        )
        await s.eventually(
            "cq.show", "shipping.py", until=lambda r: "ship_parcel" in r["functions"]
        )
        await s.wait_status(inited, lambda st: drained(st) and st["index"]["files"] == 4)
        found = await s.command("cq.search", "ship parcel")
        assert [r["path"] for r in found["results"]][:1] == ["shipping.py"]
        with pytest.raises(JsonRpcException):
            await s.command("cq.show", "billing/invoice.py")


async def test_settings_change_applies_without_restart(
    inited: Path, isolated_env: dict[str, str]
) -> None:
    import asyncio

    async with lsp_session([inited], isolated_env, options=FAST) as s:
        await s.wait_status(inited, drained)
        s.client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(
                settings={"cq": {"processing": {"mode": "manual"}, **FAST}}
            )
        )
        await s.wait_status(inited, lambda st: st.get("mode") == "manual")
        # Stopped from a terminal, not through the editor.
        await asyncio.to_thread(Cq(inited, isolated_env).run, "worker", "stop")
        await s.wait_status(inited, lambda st: st["worker"]["state"] == "stopped")
        f = inited / "later.py"
        f.write_text("Z = 3\n")
        s.save(f)
        st = await s.wait_status(inited, lambda st: st["queue"]["queued"] == 1)
        assert st["worker"]["state"] == "stopped"  # manual: nothing starts by itself
        s.client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"cq": {**FAST}})
        )
        await s.wait_status(inited, lambda st: st.get("mode") == "auto" and drained(st))


async def test_crashed_worker_is_restarted(inited: Path, isolated_env: dict[str, str]) -> None:
    async with lsp_session([inited], isolated_env, options=FAST) as s:
        st = await s.wait_status(inited, lambda st: drained(st) and st["worker"]["pid"])
        pid = st["worker"]["pid"]
        os.killpg(pid, signal.SIGKILL)  # what the OOM killer does
        await s.wait_status(inited, lambda st: st["worker"]["state"] == "crashed")
        # Work arrives for the dead worker: the watchdog restarts it (after its backoff).
        for i in range(50):
            (inited / "late" / f"l{i}.py").parent.mkdir(exist_ok=True)
            (inited / "late" / f"l{i}.py").write_text(f"def late_{i}():\n    return {i}\n")
        await s.command("cq.queue.add", {"paths": [f"late/l{i}.py" for i in range(50)]})
        st = await s.wait_status(inited, lambda st: st["worker"]["restarts"] >= 1, timeout=60)
        st = await s.wait_status(
            inited, lambda st: drained(st) and st["index"]["files"] == 54, timeout=120
        )
        assert st["worker"]["pid"] != pid and st["worker"]["restarts"] == 1
        assert st["health"] == "ok"


async def test_shutdown_stops_the_worker_it_started(
    inited: Path, isolated_env: dict[str, str]
) -> None:
    async with lsp_session([inited], isolated_env, options=FAST) as s:
        st = await s.wait_status(inited, lambda st: drained(st) and st["worker"]["pid"])
        pid = st["worker"]["pid"]
    assert survivors([pid]) == [], "the worker this server started outlived its shutdown"
    assert Cq(inited, isolated_env).json("worker", "status")["state"] == "stopped"


async def test_two_folders_each_report_their_own_status(
    tmp_path: Path, isolated_env: dict[str, str]
) -> None:
    a = make_repo(tmp_path / "alpha", {"a.py": "def alpha_fn():\n    pass\n"})
    b = make_repo(tmp_path / "beta", {"b.py": "def beta_fn():\n    pass\n", "c.py": "C = 1\n"})
    for r in (a, b):
        Cq(r, isolated_env).run("init")
    try:
        async with lsp_session([a, b], isolated_env, options=FAST) as s:
            sa = await s.wait_status(a, drained)
            sb = await s.wait_status(b, drained)
            assert sa["index"]["files"] == 1 and sb["index"]["files"] == 2
            found = await s.command("cq.search", {"query": "beta", "root": str(b)})
            assert found["results"][0]["path"] == "b.py"
            found = await s.command("cq.show", str(a / "a.py"))
            assert found["path"] == "a.py" and found["root"] == str(a)
            both = await s.command("cq.status", {"all": True})
            assert {f["root"] for f in both["folders"]} == {str(a), str(b)}
            # A folder added later is picked up too.
            c = make_repo(tmp_path / "gamma", {"g.py": "G = 1\n"})
            Cq(c, isolated_env).run("init")
            s.client.workspace_did_change_workspace_folders(
                types.DidChangeWorkspaceFoldersParams(
                    event=types.WorkspaceFoldersChangeEvent(
                        added=[types.WorkspaceFolder(uri=c.as_uri(), name="gamma")],
                        removed=[types.WorkspaceFolder(uri=a.as_uri(), name="alpha")],
                    )
                )
            )
            await s.wait_status(c, drained)
            both = await s.command("cq.status", {"all": True})
            assert {f["root"] for f in both["folders"]} == {str(b), str(c)}
    finally:
        for r in (a, b, tmp_path / "gamma"):
            Cq(r, isolated_env).run("worker", "stop", check=False)


async def test_watchers_are_registered_for_files_and_git(
    inited: Path, isolated_env: dict[str, str]
) -> None:
    async with lsp_session([inited], isolated_env, options=FAST) as s:
        await s.wait_status(inited, drained)
        regs = s.client.cq_registrations
        methods = {r.method for r in regs}
        assert "workspace/didChangeWatchedFiles" in methods
        watch = next(r for r in regs if r.method == "workspace/didChangeWatchedFiles")
        globs = [w["globPattern"] for w in plain(watch.register_options)["watchers"]]
        assert "**/*" in globs
        assert f"{inited.as_posix()}/.git/HEAD" in globs


async def test_opening_a_stale_file_queues_it(inited: Path, isolated_env: dict[str, str]) -> None:
    async with lsp_session([inited], isolated_env, options=FAST) as s:
        await s.wait_status(inited, drained)
        f = inited / "billing" / "invoice.py"
        # Changed behind the editor's back (no watcher in this client, no save).
        f.write_text(f.read_text() + "\n\ndef void_invoice(number):\n    pass\n")
        s.open(f)
        await s.eventually(
            "cq.show", "billing/invoice.py", until=lambda r: "void_invoice" in r["functions"]
        )
        # Opening an up-to-date file queues nothing.
        before = await s.command("cq.queue.history", {"n": 100})
        s.open(inited / "README.md", language="markdown")
        await s.wait_status(inited, drained)
        await _sleep(0.5)
        after = await s.command("cq.queue.history", {"n": 100})
        assert len(after["history"]) == len(before["history"])


async def test_cancelling_index_progress_drops_queued_jobs_keeps_documentation(
    inited: Path, isolated_env: dict[str, str]
) -> None:
    for i in range(40):
        (inited / "lots" / f"l{i}.py").parent.mkdir(exist_ok=True)
        (inited / "lots" / f"l{i}.py").write_text(f"def lot_{i}():\n    return {i}\n")
    run_git(inited, "add", "-A")
    run_git(inited, "commit", "-qm", "lots")
    options = {**FAST, "worker": {"autoStart": False}}
    async with lsp_session([inited], isolated_env, options=options) as s:
        await s.command("cq.worker.start")
        await s.wait_status(inited, lambda st: drained(st) and st["index"]["files"] == 44)
        await s.command("cq.worker.stop")
        await s.wait_status(inited, lambda st: st["worker"]["state"] == "stopped")
        for i in range(40):
            (inited / "lots" / f"l{i}.py").write_text(f"def lot_{i}_v2():\n    return {i}\n")
        result = await s.command("cq.index", {})
        assert result["queued"] == 40
        await s.wait_status(inited, lambda st: st["queue"]["queued"] >= 40)
        token = await _progress_token(s)
        s.client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
        history = await s.eventually(
            "cq.queue.history", {"n": 5}, until=lambda h: h["history"][0]["op"] == "cancel"
        )
        assert history["history"][0]["count"] == 40
        st = await s.wait_status(inited, lambda st: st["queue"]["queued"] == 0)
        assert st["index"]["files"] == 44
        record = await s.command("cq.show", "lots/l3.py")
        assert "lot_3" in record["functions"]  # the previous documentation stays
        assert record["fresh"] is False  # ... and says it is stale; that answer queued it
        # The next index run notices the newer content of the others again.
        again = await s.command("cq.index", {})
        assert again["queued"] == 39


async def _progress_token(s: Any, timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for token, reports in s.client.progress_reports.items():
            first = reports[0] if reports else None
            if type(first).__name__ == "WorkDoneProgressBegin" and "documenting" in first.title:
                return token
        await _sleep()
    raise AssertionError("no progress began")


async def test_show_notifications_off_keeps_the_editor_quiet(
    inited: Path, isolated_env: dict[str, str]
) -> None:
    options = {"showNotifications": "off", "processing": {"mode": "sideways"}}
    async with lsp_session([inited], isolated_env, options=options) as s:
        st = await s.wait_status(inited, lambda st: "settingsError" in st)
        assert not s.client.messages
        # Still logged for whoever looks at the log.
        assert any("processing.mode" in m.message for m in s.client.log_messages)
        assert "processing.mode" in st["settingsError"]


async def test_tcp_mode_serves_the_same_protocol(
    inited: Path, isolated_env: dict[str, str]
) -> None:
    import asyncio
    import socket

    from pytest_lsp import client_capabilities
    from pytest_lsp.plugin import make_test_lsp_client

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    server = subprocess.Popen(
        [sys.executable, "-m", "cq_lsp", "serve", "--tcp", "--port", str(port)],
        cwd=inited,
        env=isolated_env,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = make_test_lsp_client()
        for _ in range(100):
            try:
                await client.start_tcp("127.0.0.1", port)
                break
            except OSError:
                await asyncio.sleep(0.1)
        result = await client.initialize_session(
            types.InitializeParams(
                capabilities=client_capabilities("neovim"),
                root_uri=inited.as_uri(),
                workspace_folders=[types.WorkspaceFolder(uri=inited.as_uri(), name="shop")],
            )
        )
        assert result.server_info is not None and result.server_info.name == "cq-lsp"
        status = plain(
            await client.workspace_execute_command_async(
                types.ExecuteCommandParams(command="cq.status")
            )
        )
        assert status["root"] == str(inited)
        await client.shutdown_session()
    finally:
        server.kill()
        server.wait()


async def test_hooks_commands_install_report_and_uninstall(
    inited: Path, isolated_env: dict[str, str]
) -> None:
    async with lsp_session([inited], isolated_env, options=FAST) as s:
        await s.wait_status(inited, drained)
        installed = await s.command("cq.hooks.install")
        assert installed["root"] == str(inited)
        assert (inited / ".git" / "hooks" / "post-commit").exists()
        status = await s.command("cq.hooks.status")
        assert "post-commit" in json.dumps(status)
        await s.command("cq.hooks.uninstall")
        assert not (inited / ".git" / "hooks" / "post-commit").exists()


def _command_config(repo: Path, fake: Path) -> None:
    cfg_path = repo / ".code-query" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg.setdefault("processor", {}).update(
        {"kind": "command", "command": [str(fake)], "fallback": "none"}
    )
    cfg.setdefault("processing", {}).update(
        {"max_retries": 0, "retry_delay_s": 0, "debounce_ms": 50}
    )
    cfg_path.write_text(json.dumps(cfg, indent=2))


@pytest.mark.parametrize("trusted", [True, False])
async def test_editor_trust_decides_whether_the_repository_command_runs(
    inited: Path, isolated_env: dict[str, str], tmp_path: Path, trusted: bool
) -> None:
    from tests.fakes.llm import write_fake_llm

    fake = write_fake_llm(tmp_path / "bin", "json")
    _command_config(inited, fake)
    async with lsp_session([inited], isolated_env, options={"trusted": trusted}) as s:
        st = await s.wait_status(
            inited,
            lambda st: (
                st["queue"]["queued"] == 0
                and st["queue"]["running"] == 0
                and (st["queue"]["done"] + st["queue"]["failed"]) == 4
            ),
            timeout=60,
        )
        if trusted:
            assert st["queue"]["done"] == 4, st
            record = await s.command("cq.show", "billing/invoice.py")
            assert record["processor"].startswith("command"), record["processor"]
        else:
            assert st["queue"]["failed"] == 4, st
            jobs = await s.command("cq.queue.list", {"state": ["failed"]})
            assert "config trust" in jobs["jobs"][0]["error"], jobs["jobs"][0]


async def test_worker_that_cannot_start_is_retried_with_backoff_then_reported(
    inited: Path, isolated_env: dict[str, str]
) -> None:
    lock = inited / ".code-query" / "worker.lock"
    lock.unlink(missing_ok=True)
    lock.mkdir()  # the worker cannot open its lock: it exits at once, every time
    async with lsp_session([inited], isolated_env, options=FAST) as s:
        st = await s.wait_status(inited, lambda st: st.get("workerError"), timeout=90)
        assert st["health"] == "error" and "worker.log" in st["workerError"]
        await s.wait_message("not restarting")
        lock.rmdir()
        await s.command("cq.worker.start")  # the user fixed it: try again
        st = await s.wait_status(inited, lambda st: drained(st) and not st.get("workerError"))
        assert st["index"]["files"] == 4


async def test_nothing_from_the_repository_is_imported_by_the_server(
    inited: Path, isolated_env: dict[str, str], tmp_path: Path
) -> None:
    marker = tmp_path / "imported"
    for name in ("lsprotocol", "pygls", "huey", "attrs"):
        pkg = inited / name
        pkg.mkdir()
        (pkg / "__init__.py").write_text(
            f"open({str(marker)!r}, 'a').write({name!r})\nraise SystemExit('repository code ran')\n"
        )
    # lsp_session starts `python -m cq_lsp --stdio` with the repository as its cwd, as editors do.
    async with lsp_session([inited], isolated_env, options=FAST) as s:
        await s.wait_status(inited, drained)
    assert not marker.exists(), marker.read_text()


async def test_a_worker_the_user_stopped_stays_stopped(
    inited: Path, isolated_env: dict[str, str]
) -> None:
    async with lsp_session([inited], isolated_env, options=FAST) as s:
        await s.wait_status(inited, drained)
        await s.command("cq.worker.stop")
        f = inited / "later.py"
        f.write_text("Z = 3\n")
        s.save(f)
        st = await s.wait_status(inited, lambda st: st["queue"]["queued"] == 1)
        await _sleep(2.5)  # several supervision rounds
        st = s.latest(inited)
        assert st is not None and st["worker"]["state"] == "stopped" and st["userStopped"]
        assert "CQ: Start Worker" in st["message"]
        await s.command("cq.worker.start")
        await s.wait_status(inited, lambda st: drained(st) and st["index"]["files"] == 5)


async def test_new_editor_settings_restart_a_running_worker(
    inited: Path, isolated_env: dict[str, str]
) -> None:
    async with lsp_session([inited], isolated_env, options=FAST) as s:
        st = await s.wait_status(inited, lambda st: drained(st) and st["worker"]["pid"])
        first = st["worker"]["pid"]
        s.client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"cq": {**FAST, "trusted": True}})
        )
        st = await s.wait_status(
            inited, lambda st: st["worker"]["pid"] not in (None, first), timeout=40
        )
        # Trust travels in a hand-off file keyed by the server (the worker's parent), not in the
        # environment any parent shell could set.
        worker = psutil.Process(st["worker"]["pid"])
        assert "CQ_LSP_EDITOR_TRUSTED" not in worker.environ()
        server = psutil.Process(worker.ppid())
        started = round(server.create_time() * 1000)
        handoffs = Path(isolated_env["CQ_LSP_DATA_HOME"]) / "editor-handoff"
        mine = [f for f in handoffs.iterdir() if f.name.startswith(f"{server.pid}-{started}-")]
        assert len(mine) == 1 and json.loads(mine[0].read_text())["trusted"] is True


async def test_shutdown_leaves_a_worker_it_did_not_start(
    inited: Path, isolated_env: dict[str, str]
) -> None:
    import asyncio

    cq = Cq(inited, isolated_env)
    try:
        await asyncio.to_thread(cq.run, "index", "--wait")
        started = await asyncio.to_thread(cq.json, "worker", "start")
        async with lsp_session([inited], isolated_env, options=FAST) as s:
            st = await s.wait_status(inited, lambda st: st["worker"]["state"] == "running")
            assert st["worker"]["pid"] == started["pid"]
        await _sleep(1.0)
        assert psutil.pid_exists(started["pid"])
        status = await asyncio.to_thread(cq.json, "worker", "status")
        assert status["state"] == "running" and status["pid"] == started["pid"]
    finally:
        cq.run("worker", "stop", check=False)


async def test_removing_a_folder_stops_its_idle_worker(
    tmp_path: Path, isolated_env: dict[str, str]
) -> None:
    a = make_repo(tmp_path / "alpha", {"a.py": "A = 1\n"})
    b = make_repo(tmp_path / "beta", {"b.py": "B = 1\n"})
    for r in (a, b):
        Cq(r, isolated_env).run("init")
    try:
        async with lsp_session([a, b], isolated_env, options=FAST) as s:
            sa = await s.wait_status(a, lambda st: drained(st) and st["worker"]["pid"])
            await s.wait_status(b, drained)
            s.client.workspace_did_change_workspace_folders(
                types.DidChangeWorkspaceFoldersParams(
                    event=types.WorkspaceFoldersChangeEvent(
                        added=[], removed=[types.WorkspaceFolder(uri=a.as_uri(), name="alpha")]
                    )
                )
            )
            wait_until(
                lambda: (
                    not psutil.pid_exists(sa["worker"]["pid"])
                    or psutil.Process(sa["worker"]["pid"]).status() == "zombie"
                ),
                timeout=20,
            )
            both = await s.command("cq.status", {"all": True})
            assert [f["root"] for f in both["folders"]] == [str(b)]
    finally:
        for r in (a, b):
            Cq(r, isolated_env).run("worker", "stop", check=False)


async def test_commit_in_a_linked_worktree_is_picked_up(
    inited: Path, isolated_env: dict[str, str], tmp_path: Path
) -> None:
    linked = tmp_path / "linked"
    run_git(inited, "worktree", "add", "-q", "-b", "side", str(linked))
    Cq(linked, isolated_env).run("init")
    try:
        async with lsp_session([linked], isolated_env, options=FAST) as s:
            await s.wait_status(linked, drained)
            regs = s.client.cq_registrations
            globs = [
                w["globPattern"]
                for r in regs
                if r.method == "workspace/didChangeWatchedFiles"
                for w in plain(r.register_options)["watchers"]
            ]
            git_dir = Path(run_git(linked, "rev-parse", "--absolute-git-dir").strip())
            assert f"{git_dir.as_posix()}/HEAD" in globs, globs
            (linked / "side.py").write_text("def side_quest():\n    pass\n")
            run_git(linked, "add", "side.py")
            run_git(linked, "commit", "-qm", "side")
            s.client.workspace_did_change_watched_files(
                types.DidChangeWatchedFilesParams(
                    changes=[
                        types.FileEvent(
                            uri=(git_dir / "HEAD").as_uri(), type=types.FileChangeType.Changed
                        )
                    ]
                )
            )
            await s.eventually("cq.show", "side.py", until=lambda r: "side_quest" in r["functions"])
    finally:
        Cq(linked, isolated_env).run("worker", "stop", check=False)


async def test_bad_input_from_the_editor_is_ignored_or_refused_and_the_server_keeps_serving(
    inited: Path, isolated_env: dict[str, str], tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere.py"
    outside.write_text("X = 1\n")
    async with lsp_session([inited], isolated_env, options=FAST) as s:
        await s.wait_status(inited, drained)
        with pytest.raises(JsonRpcException) as exc:
            await s.command("cq.bogus")
        assert "cq.bogus" in str(exc.value)
        # Saves and changes the server must not queue: outside the root, non-file URIs.
        s.save(outside)
        for uri in ("untitled:Untitled-1", "vscode-notebook-cell:/x.ipynb#c1", "git:/x.py"):
            s.client.text_document_did_save(
                types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
            )
            s.client.text_document_did_open(
                types.DidOpenTextDocumentParams(
                    text_document=types.TextDocumentItem(
                        uri=uri, language_id="python", version=1, text="X = 1\n"
                    )
                )
            )
        s.client.workspace_did_change_watched_files(
            types.DidChangeWatchedFilesParams(
                changes=[types.FileEvent(uri=outside.as_uri(), type=types.FileChangeType.Created)]
            )
        )
        added = await s.command("cq.queue.add", str(outside))  # the CLI's JSON, refusal included
        assert added["queued"] == 0 and added["refused"][0]["reason"] == "outside"
        hover = await s.client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri="untitled:Untitled-1"),
                position=types.Position(line=0, character=0),
            )
        )
        assert hover is None
        await _sleep(1.0)
        jobs = await s.command("cq.queue.list")
        assert all("elsewhere" not in j["path"] for j in jobs["jobs"])
        assert len(jobs["jobs"]) == 4
        st = await s.command("cq.status")
        assert st["health"] == "ok"


async def test_an_outside_edit_is_noticed_and_queued(
    inited: Path, isolated_env: dict[str, str]
) -> None:
    """No save, no hook: the periodic refresh compares the work tree with the ledger and, with
    workers starting by themselves, queues what changed."""
    async with lsp_session([inited], isolated_env, options=FAST) as s:
        await s.wait_status(inited, lambda st: drained(st) and st["index"]["files"] == 4)
        invoice = inited / "billing" / "invoice.py"
        invoice.write_text(invoice.read_text().replace("0.2", "0.25"))
        history = await s.eventually(
            "cq.queue.history",
            {"n": 20},
            until=lambda h: any(e["source"] == "freshness" for e in h["history"]),
        )
        assert any(e["op"] == "enqueue" and e["source"] == "freshness" for e in history["history"])
        await s.eventually(
            "cq.show", {"path": "billing/invoice.py"}, until=lambda r: r["fresh"] is True
        )
