"""Honest freshness with real git: changes no commit hook sees are caught, and answers say
whether they describe the file as it is now."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from conftest import Cq, wait_until

from tests.githooks.test_hooks import git, jobs, queued, settle, setup_hooks, write


def _documented(cq: Cq) -> None:
    """Every tracked file documented, in manual mode (no worker runs unless a test says so)."""
    cq.run("init")
    cq.run("config", "set", "processing.mode", "manual")
    cq.run("index")
    cq.run("queue", "process")


def _hit(cq: Cq, query: str, path: str) -> dict[str, Any]:
    hits = {r["path"]: r for r in cq.json("search", query)["results"]}
    assert path in hits, hits
    return hits[path]


def test_an_edit_behind_the_hooks_back_is_stale_until_indexed(cq: Cq, repo: Path) -> None:
    _documented(cq)
    st = cq.json("status")
    assert st["health"] == "ok" and st["index"]["stale"] == 0
    assert _hit(cq, "parse_invoice", "billing/invoice.py")["fresh"] is True
    assert cq.json("show", "billing/invoice.py")["fresh"] is True

    # `sed -i`: no hook fires, git's index is untouched.
    invoice = repo / "billing" / "invoice.py"
    invoice.write_text(invoice.read_text().replace("TAX_RATE = 0.2", "TAX_RATE = 0.25"))
    current = git(repo, "hash-object", "billing/invoice.py").strip()
    documented = cq.json("show", "billing/invoice.py")
    assert documented["fresh"] is False
    assert documented["current_sha"] == current
    assert documented["documented_sha"] == documented["content_sha"] != current
    hit = _hit(cq, "parse_invoice", "billing/invoice.py")
    assert hit["fresh"] is False and hit["current_sha"] == current
    assert _hit(cq, "ParcelRate", "src/shipping/rates.go")["fresh"] is True
    assert "[stale]" in cq.run("search", "parse_invoice").stdout
    assert "stale: documented at" in cq.run("show", "billing/invoice.py").stdout

    st = cq.json("status")
    assert st["index"]["stale"] == 1
    assert st["index"]["staleness"]["examples"] == ["billing/invoice.py"]
    assert st["health"] == "warning"
    assert "1 file changed since indexed — `cq-lsp index`" in st["message"]
    assert "1 stale" in cq.run("status").stdout
    doctor = cq.run("doctor", check=False)
    assert "changed since indexed" in doctor.stdout + doctor.stderr
    assert "all good" not in doctor.stdout

    cq.run("index")
    cq.run("queue", "process")
    st = cq.json("status")
    assert st["health"] == "ok" and st["index"]["stale"] == 0
    assert cq.json("show", "billing/invoice.py")["fresh"] is True


def test_deleted_and_new_files_behind_the_hooks_back(cq: Cq, repo: Path) -> None:
    _documented(cq)
    # config.json is committed by design and never documented: not "not indexed yet".
    git(repo, "add", ".code-query/config.json")
    git(repo, "commit", "-qm", "config")
    assert cq.json("status")["index"]["stale"] == 0
    (repo / "README.md").unlink()
    write(repo, "billing/tax.py", "def vat():\n    return 0.2\n")
    git(repo, "add", "billing/tax.py")  # tracked, never documented
    staleness = cq.json("status")["index"]["staleness"]
    assert staleness["changed"] == 1 and staleness["missing"] == 1
    assert set(staleness["examples"]) == {"README.md", "billing/tax.py"}
    cq.run("index")
    cq.run("queue", "process")
    assert cq.json("status")["index"]["stale"] == 0
    assert "README.md" not in jobs(cq)


def test_auto_mode_status_queues_what_changed(cq: Cq, repo: Path) -> None:
    _documented(cq)
    cq.run("config", "set", "processing.mode", "auto")
    (repo / "README.md").write_text("# Sample shop\n\nNow with refunds.\n")
    st = cq.json("status")
    # Queued (or already documented by the worker it started), never silently stale.
    assert st["index"]["stale"] == 0
    wait_until(lambda: cq.json("show", "README.md")["fresh"] is True)
    assert "refunds" in cq.run("search", "refunds").stdout


def test_reset_hard_and_stash_are_caught_by_the_hooks(cq: Cq, repo: Path) -> None:
    setup_hooks(cq)  # manual mode: the hooks only queue
    cq.run("index")
    cq.run("queue", "process")
    write(repo, "billing/invoice.py", "def refund():\n    pass\n")
    git(repo, "commit", "-qam", "refunds")
    cq.run("queue", "process")
    assert not queued(cq)
    # Back one commit: no post-commit/post-checkout fires, post-index-change does.
    git(repo, "reset", "-q", "--hard", "HEAD~1")
    assert queued(cq) == {"billing/invoice.py"}
    cq.run("queue", "process")
    assert _hit(cq, "parse_invoice", "billing/invoice.py")["fresh"] is True

    # An uncommitted edit documented (as an editor save would), then stashed away.
    write(repo, "README.md", "# Sample shop\n\nwork in progress\n")
    cq.run("index", "README.md")
    cq.run("queue", "process")
    git(repo, "stash", "-q")
    assert queued(cq) == {"README.md"}
    cq.run("queue", "process")
    git(repo, "stash", "pop", "-q")
    assert queued(cq) == {"README.md"}
    # `git add` rewrites only the index: the shim does not even start Python.
    cq.run("queue", "process")
    runs = len((repo / ".code-query" / "logs" / "hooks.log").read_text().splitlines())
    git(repo, "add", "README.md")
    settle(repo)
    assert len((repo / ".code-query" / "logs" / "hooks.log").read_text().splitlines()) == runs


def test_the_check_needs_a_git_work_tree_only(cq: Cq, repo: Path) -> None:
    """A file git no longer tracks but the editor documented (untracked) is checked by stat."""
    _documented(cq)
    write(repo, "notes.py", "def draft():\n    pass\n")
    cq.run("index", "notes.py")
    cq.run("queue", "process")
    assert cq.json("status")["index"]["stale"] == 0
    write(repo, "notes.py", "def final():\n    pass\n")
    assert cq.json("status")["index"]["staleness"]["examples"] == ["notes.py"]
    subprocess.run(["rm", str(repo / "notes.py")], check=True)
    assert cq.json("status")["index"]["staleness"]["examples"] == ["notes.py"]
