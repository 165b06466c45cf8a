"""End to end through the real program: git repositories, the CLI, a real worker process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from tests.conftest import Cq, make_repo, run_git, wait_until


def test_python_m_and_console_script_are_the_same_program(cq: Cq) -> None:
    bin_dir = Path(sys.executable).parent
    script = subprocess.run(
        [str(bin_dir / "cq-lsp"), "--version"], capture_output=True, text=True, check=True
    )
    module = cq.run("--version")
    assert script.stdout == module.stdout
    assert module.stdout.startswith("cq-lsp ")


def test_init_creates_config_and_gitignore(cq: Cq, repo: Path) -> None:
    out = cq.json("init")
    assert out["created"] is True
    config = json.loads((repo / ".code-query" / "config.json").read_text())
    assert config["schema_version"] == 2
    assert config["dataset_name"] == "shop"
    ignore = (repo / ".code-query" / ".gitignore").read_text()
    assert "*" in ignore.splitlines() and "!config.json" in ignore.splitlines()
    # git sees only config.json (and the .gitignore) under .code-query/
    (repo / ".code-query" / "index.db").exists()
    status = run_git(repo, "status", "--porcelain", "--untracked-files=all")
    assert ".code-query/config.json" in status
    assert "index.db" not in status and "queue.db" not in status
    # A second init keeps the existing config.
    (repo / ".code-query" / "config.json").write_text(
        json.dumps({**config, "model": "opus"}), encoding="utf-8"
    )
    again = cq.json("init")
    assert again["created"] is False
    assert json.loads((repo / ".code-query" / "config.json").read_text())["model"] == "opus"


def test_commands_before_init_say_how_to_fix(cq: Cq) -> None:
    proc = cq.run("status", check=False)
    assert proc.returncode == 2
    assert "cq-lsp init" in proc.stderr


def test_outside_a_work_tree_is_a_usage_error(tmp_path: Path, isolated_env: dict) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    proc = Cq(plain, isolated_env).run("status", check=False)
    assert proc.returncode == 2
    assert "not inside a git work tree" in proc.stderr


def test_index_wait_documents_everything_then_search_show_status(cq: Cq, repo: Path) -> None:
    cq.run("init")
    out = cq.json("index", "--wait")
    assert out["queued"] == 4
    assert out["wait"]["documented"] == 4
    status = cq.json("status")
    assert status["root"] == str(repo)
    assert status["queue"]["done"] == 4 and status["queue"]["queued"] == 0
    assert status["index"]["files"] == 4
    assert status["health"] == "ok"
    assert status["worker"]["state"] in ("running", "starting")
    assert set(status["worker"]) >= {"state", "pid", "uptimeS", "restarts", "rssBytes"}

    found = cq.json("search", "invoice")
    paths = [r["path"] for r in found["results"]]
    assert paths[0] == "billing/invoice.py"
    assert "billing/render.ts" in paths  # renderInvoiceHtml, split into words
    assert set(found["results"][0]) >= {"path", "score", "snippet", "overview"}

    record = cq.json("show", "billing/invoice.py")
    for key in (
        "path",
        "filename",
        "language",
        "overview",
        "functions",
        "exports",
        "imports",
        "types_interfaces_classes",
        "constants",
        "dependencies",
        "other_notes",
        "ddd_context",
        "content_sha",
        "documented_at_commit",
        "documented_at",
        "processor",
    ):
        assert key in record, key
    assert record["functions"]["parse_invoice"]["line"] == 9
    assert "compute" in record["types_interfaces_classes"]["InvoiceTotals"]["methods"]
    assert record["dependencies"] == ["requests"]
    assert record["documented_at_commit"] == run_git(repo, "rev-parse", "HEAD").strip()
    assert record["content_sha"] == run_git(repo, "hash-object", "billing/invoice.py").strip()

    # The human views work too.
    assert "billing/invoice.py" in cq.run("search", "parse", "invoice").stdout
    assert "parse_invoice" in cq.run("show", "billing/invoice.py").stdout
    assert "4 documented" in cq.run("status").stdout


def test_unchanged_reindex_calls_no_documenter_and_edits_replace_words(cq: Cq, repo: Path) -> None:
    cq.run("init")
    cq.run("index", "--wait")
    calls = cq.json("status")["documenter"]["calls"]
    again = cq.json("index", "--wait")
    assert again["queued"] == 0 and again["unchanged"] == 4
    assert cq.json("status")["documenter"]["calls"] == calls

    target = repo / "billing" / "invoice.py"
    target.write_text('"""Refunds now."""\n\ndef issue_zorblax_refund():\n    pass\n')
    out = cq.json("index", "--wait")
    assert out["queued"] == 1
    assert cq.json("status")["documenter"]["calls"] == calls + 1
    assert [r["path"] for r in cq.json("search", "zorblax")["results"]] == ["billing/invoice.py"]
    # The old words are gone from the index (no stale FTS rows).
    assert "billing/invoice.py" not in [r["path"] for r in cq.json("search", "totals")["results"]]


def test_deleted_and_renamed_files_leave_the_index(cq: Cq, repo: Path) -> None:
    cq.run("init")
    cq.run("index", "--wait")
    run_git(repo, "rm", "-q", "README.md")
    run_git(repo, "mv", "src/shipping/rates.go", "src/shipping/parcel.go")
    run_git(repo, "commit", "-qm", "delete and rename")
    out = cq.json("index", "--wait")
    assert out["removed"] == 2 and out["queued"] == 1
    assert cq.json("status")["index"]["files"] == 3
    missing = cq.run("show", "README.md", check=False)
    assert missing.returncode == 1 and "README.md: no such file" in missing.stderr
    assert cq.json("show", "src/shipping/parcel.go")["functions"]["ParcelRate"]


def test_refused_paths_are_reported_with_reasons(cq: Cq, repo: Path, tmp_path: Path) -> None:
    cq.run("init")
    (repo / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0binary")
    (repo / "big.txt").write_text("x" * 2000)
    cq.run("config", "set", "processor.max_file_bytes", "1000")
    sibling = tmp_path / "shop2"
    sibling.mkdir()
    (sibling / "evil.py").write_text("x = 1\n")
    (repo / "escape.py").symlink_to(sibling / "evil.py")
    proc = cq.run(
        "queue",
        "add",
        "logo.png",
        "big.txt",
        "../shop2/evil.py",
        str(sibling / "evil.py"),
        "escape.py",
        ".git/config",
        "--json",
        check=False,
    )
    result = json.loads(proc.stdout)
    reasons = {r["path"]: r["reason"] for r in result["refused"]}
    assert reasons == {
        "logo.png": "binary",
        "big.txt": "too_large",
        "../shop2/evil.py": "outside",
        str(sibling / "evil.py"): "outside",
        "escape.py": "escapes",
        ".git/config": "internal",
    }
    assert proc.returncode == 1
    jobs = {j["path"]: j for j in cq.json("queue", "list", "--state", "skipped")["jobs"]}
    assert jobs["logo.png"]["error"] == "logo.png: binary file (contains NUL bytes)"
    assert "max_file_bytes" in jobs["big.txt"]["error"]
    assert "escape.py" in jobs
    assert not any("shop2" in p for p in jobs)  # paths outside are never recorded
    shown = cq.run("show", "logo.png", check=False)
    assert shown.returncode == 1 and "binary" in shown.stderr


def test_file_deleted_between_enqueue_and_processing(cq: Cq, repo: Path) -> None:
    cq.run("init")
    cq.run("config", "set", "processing.mode", "manual")
    out = cq.json("index")
    assert out["queued"] == 4
    (repo / "README.md").unlink()
    processed = cq.json("queue", "process")
    assert processed["documented"] == 3 and processed["newlyFailed"] == 0
    status = cq.json("status")
    assert status["queue"]["queued"] == 0 and status["queue"]["failed"] == 0
    assert status["index"]["files"] == 3
    assert status["worker"]["state"] == "stopped"  # manual mode never started one


def test_json_output_is_only_json(cq: Cq) -> None:
    cq.run("init")
    for args in (
        ("index", "--wait"),
        ("status",),
        ("queue", "list"),
        ("queue", "history"),
        ("search", "parcel rate"),
        ("config", "show"),
        ("worker", "status"),
    ):
        proc = cq.run(*args, "--json")
        parsed = json.loads(proc.stdout)  # raises if anything else reached stdout
        assert isinstance(parsed, dict) and parsed, args


def test_history_records_operations_without_contents(cq: Cq, repo: Path) -> None:
    (repo / "secret.py").write_text('TOKEN = "s3cr3t-do-not-log"\n')
    run_git(repo, "add", "secret.py")
    run_git(repo, "commit", "-qm", "secret")
    cq.run("init")
    cq.run("index", "--wait")
    history = cq.json("queue", "history", "-n", "50")["history"]
    assert any(h["op"] == "enqueue" and h["count"] == 5 for h in history)
    assert "s3cr3t" not in json.dumps(history)
    log = (repo / ".code-query" / "logs" / "worker.log").read_text()
    assert "s3cr3t" not in log


def test_non_utf8_and_spaced_names(cq: Cq, repo: Path) -> None:
    weird = os.fsencode(repo) + b"/caf\xe9 menu.py"
    with open(weird, "wb") as fh:
        fh.write(b'"""Menu of the cafe."""\ndef list_croissants():\n    pass\n')
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-qm", "weird name")
    cq.run("init")
    out = cq.json("index", "--wait")
    assert out["queued"] == 5
    hits = cq.json("search", "croissants")["results"]
    assert len(hits) == 1 and hits[0]["path"] == "caf\\xe9 menu.py"
    shown = cq.json("show", os.fsdecode(b"caf\xe9 menu.py"))
    assert "list_croissants" in shown["functions"]


def test_corrupt_index_is_rebuilt_and_reported(cq: Cq, repo: Path) -> None:
    cq.run("init")
    cq.run("index", "--wait")
    cq.run("worker", "stop")
    db = repo / ".code-query" / "index.db"
    for side in ("index.db-wal", "index.db-shm"):
        (repo / ".code-query" / side).unlink(missing_ok=True)
    db.write_bytes(b"this is not a database" * 100)
    proc = cq.run("status", "--json")
    assert "corrupt" in proc.stderr and "rebuilt" in proc.stderr
    assert list((repo / ".code-query").glob("index.db.corrupt-*"))
    wait_until(lambda: cq.json("status")["index"]["files"] == 4)


def test_malformed_config_is_a_clear_usage_error(cq: Cq, repo: Path) -> None:
    cq.run("init")
    (repo / ".code-query" / "config.json").write_text('{"processing": {"batch_size": 5,}}')
    proc = cq.run("index", check=False)
    assert proc.returncode == 2
    assert "config.json" in proc.stderr and "line 1" in proc.stderr
    (repo / ".code-query" / "config.json").write_text('{"processing": {"batch_size": "five"}}')
    proc = cq.run("config", "validate", check=False)
    assert proc.returncode == 2
    assert 'processing.batch_size: must be an integer from 1 to 100, got "five"' in proc.stderr


def test_idle_worker_picks_up_new_work(cq: Cq, repo: Path) -> None:
    cq.run("init")
    cq.run("index", "--wait")
    pid = cq.json("worker", "status")["pid"]
    time.sleep(1.5)  # let the worker's poll interval back off to its idle maximum
    (repo / "billing" / "late.py").write_text("def quasar_total():\n    pass\n")
    cq.run("index", "billing/late.py")
    wait_until(lambda: cq.json("search", "quasar")["results"], timeout=10)
    assert cq.json("worker", "status")["pid"] == pid  # the same worker did it


def test_ctrl_c_during_index_wait_loses_nothing(cq: Cq, repo: Path) -> None:
    # Enough files that the interrupt lands while following, not after the command finished.
    for i in range(1200):
        (repo / "gen").mkdir(exist_ok=True)
        (repo / "gen" / f"mod_{i}.py").write_text(f"def func_{i}():\n    return {i}\n")
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-qm", "many")
    cq.run("init")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cq_lsp", "index", "--wait"],
        cwd=repo,
        env=cq.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Following: the worker runs and the jobs are in the ledger (the first index starts the
    # worker while it reads the files).
    wait_until(lambda: (repo / ".code-query" / "worker.json").exists(), timeout=20)
    wait_until(lambda: cq.json("queue", "status")["queued"] > 0, timeout=20, interval=0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    if proc.returncode == 130:  # interrupted while following (not already finished)
        assert "stopped following" in err and "nothing is half-done" in err
    else:
        assert proc.returncode == 0
    wait_until(lambda: cq.json("status")["queue"]["done"] == 1204, timeout=120)
    assert cq.json("status")["index"]["files"] == 1204


def test_killed_worker_loses_no_job(cq: Cq, repo: Path) -> None:
    for i in range(400):
        (repo / "gen").mkdir(exist_ok=True)
        (repo / "gen" / f"mod_{i}.py").write_text(f"def kill_target_{i}():\n    return {i}\n")
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-qm", "many")
    cq.run("init")
    cq.run("index")  # auto mode: starts the worker
    info = wait_until(lambda: cq.json("worker", "status")["pid"], timeout=20)
    wait_until(lambda: cq.json("status")["queue"]["done"] > 20, timeout=30)
    os.kill(info, signal.SIGKILL)
    wait_until(
        lambda: (
            not psutil.pid_exists(info) or psutil.Process(info).status() == psutil.STATUS_ZOMBIE
        ),
        timeout=10,
    )
    assert cq.json("worker", "status")["state"] == "crashed"
    cq.run("index", "--wait")  # supervises: starts a worker, which recovers first
    status = cq.json("status")
    assert status["queue"]["done"] == 404 and status["queue"]["running"] == 0
    assert status["index"]["files"] == 404


def test_second_worker_is_refused(cq: Cq, repo: Path) -> None:
    cq.run("init")
    cq.run("worker", "start")
    proc = cq.run("worker", "run", check=False)
    assert proc.returncode == 1
    assert "another worker already runs" in proc.stderr
    again = cq.json("worker", "start")
    assert again["started"] is False


def test_a_second_repository_is_independent(cq: Cq, repo: Path, tmp_path: Path, cq_factory) -> None:
    other = make_repo(tmp_path / "shop2", {"only.py": "def sibling_only():\n    pass\n"})
    cq.run("init")
    cq.run("index", "--wait")
    cq2 = cq_factory(other)
    cq2.run("init")
    cq2.run("index", "--wait")
    assert cq2.json("status")["index"]["files"] == 1
    assert cq.json("search", "sibling_only")["results"] == []
    assert cq.json("status", cwd=repo / "billing")["root"] == str(repo)


def test_jobs_that_never_reached_the_queue_are_resent(cq: Cq, repo: Path) -> None:
    """A producer killed between its ledger commit and its send strands queued jobs."""
    from cq_lsp.core.workspace import Workspace
    from cq_lsp.worktree.project import Project

    cq.run("init")
    cq.run("index", "--wait")  # a worker is now running and idle
    (repo / "billing" / "stranded.py").write_text("def stranded_nebula():\n    pass\n")
    ws = Workspace(Project(repo))
    report = ws.enqueue_paths(["billing/stranded.py"], source="test", send=False)
    assert len(report.result.queued) == 1
    assert ws.transport.pending_count() == 0  # really never sent
    ws.close()
    # The running worker notices the ledger holds work the queue does not, and sends it.
    wait_until(lambda: cq.json("search", "stranded_nebula")["results"], timeout=30)


def test_jobs_stranded_while_no_worker_ran_are_recovered_at_start(cq: Cq, repo: Path) -> None:
    from cq_lsp.core.workspace import Workspace
    from cq_lsp.worktree.project import Project

    cq.run("init")
    cq.run("config", "set", "processing.mode", "manual")
    ws = Workspace(Project(repo))
    report = ws.enqueue_all(source="test", send=False)
    assert len(report.result.queued) == 4
    ws.close()
    cq.run("worker", "start")
    wait_until(lambda: cq.json("status")["queue"]["done"] == 4, timeout=30)
    history = cq.json("queue", "history")["history"]
    assert cq.json("status")["index"]["files"] == 4
    assert any(h["op"] == "enqueue" and h["source"] == "test" for h in history)


def test_queue_clear_keeps_earlier_documentation(cq: Cq, repo: Path) -> None:
    cq.run("init")
    cq.run("index", "--wait")
    cq.run("config", "set", "processing.mode", "manual")
    cq.run("worker", "stop")  # the auto-mode worker would document the new jobs at once
    invoice = repo / "billing" / "invoice.py"
    invoice.write_text(invoice.read_text() + "\n\ndef later_addition():\n    pass\n")
    (repo / "brand_new.py").write_text("def brand_new():\n    pass\n")
    cq.run("queue", "add", "billing/invoice.py", "brand_new.py")
    assert cq.json("queue", "clear")["cleared"] == 2
    status = cq.json("queue", "status")
    assert status["queued"] == 0
    # The older record of invoice.py stays searchable; the never-documented file is simply gone.
    shown = cq.json("show", "billing/invoice.py")
    assert "parse_invoice" in shown["functions"] and "later_addition" not in shown["functions"]
    assert cq.run("show", "brand_new.py", check=False).returncode == 1
    # The next index run sees the newer content again (brand_new.py is untracked: not indexed).
    assert cq.json("index")["queued"] == 1
