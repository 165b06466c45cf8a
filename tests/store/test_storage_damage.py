"""Reads survive a full or read-only .code-query/; an empty or displaced index.db is named.

Real mounts (a tiny tmpfs filled up, a read-only bind mount) as in test_storage_failures.py:
`status`, `search`, `show` and `queue list` answer from what SQLite can read, writes say the disk
is full and that no job was lost; a 0-byte index.db is rebuilt like a corrupt one and a directory
in its place is reported with the fix.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.conftest import Cq
from tests.store.test_storage_failures import bind_read_only, fill, mount_tmpfs, unmount

FULL = "the disk holding .code-query/ is full: free space, no job was lost"


def _reads_work(cq: Cq) -> None:
    status = cq.json("status")
    assert status["queue"]["done"] == 4 and status["index"]["files"] == 4, status
    assert cq.json("search", "parse_invoice")["results"][0]["path"] == "billing/invoice.py"
    assert cq.json("show", "billing/invoice.py")["path"] == "billing/invoice.py"
    assert len(cq.json("queue", "list")["jobs"]) == 4


def test_a_full_disk_still_reads_and_says_what_to_do_on_write(cq: Cq, repo: Path) -> None:
    state = repo / ".code-query"
    mount_tmpfs(state, "4m")
    try:
        cq.run("init")
        cq.run("config", "set", "processing.mode", "manual")
        cq.run("index", "--wait")
        filler = fill(state)
        _reads_work(cq)
        (repo / "billing" / "invoice.py").write_text('"""Edited while the disk is full."""\n')
        for argv in (("queue", "add", "billing/invoice.py"), ("index",)):
            proc = cq.run(*argv, check=False)
            assert proc.returncode == 1, (argv, proc.stdout)
            assert FULL in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
        filler.unlink()
        assert cq.json("queue", "add", "billing/invoice.py")["queued"] == 1
    finally:
        unmount(state)


def test_a_read_only_state_dir_still_reads(cq: Cq, repo: Path) -> None:
    cq.run("init")
    cq.run("config", "set", "processing.mode", "manual")
    cq.run("index", "--wait")
    state = repo / ".code-query"
    bind_read_only(state)
    try:
        _reads_work(cq)
        # A write is refused with what to do, and nothing is half-recorded.
        (repo / "billing" / "invoice.py").write_text("def parse_invoice_v2():\n    pass\n")
        proc = cq.run("queue", "add", "billing/invoice.py", check=False)
        assert proc.returncode == 1 and "cannot be written" in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
    finally:
        unmount(state)


def test_an_empty_index_db_is_rebuilt_and_said(cq: Cq, repo: Path) -> None:
    cq.run("init")
    cq.run("index", "--wait")
    db = repo / ".code-query" / "index.db"
    cq.run("worker", "stop")
    for side in ("index.db-wal", "index.db-shm"):
        (repo / ".code-query" / side).unlink(missing_ok=True)
    db.write_bytes(b"")
    proc = cq.run("status", check=False)
    assert proc.returncode == 0, proc.stderr
    assert "was corrupt" in proc.stderr and "rebuilt" in proc.stderr, proc.stderr
    assert any(p.name.startswith("index.db.corrupt-") for p in db.parent.iterdir())


def test_a_directory_in_place_of_index_db_is_named_with_the_fix(cq: Cq, repo: Path) -> None:
    cq.run("init")
    db = repo / ".code-query" / "index.db"
    os.remove(db)
    db.mkdir()
    for argv in (("status",), ("search", "invoice"), ("index",)):
        proc = cq.run(*argv, check=False)
        assert proc.returncode == 1, argv
        assert "is a directory" in proc.stderr and "mv " in proc.stderr, proc.stderr
    shutil.move(str(db), str(db) + ".moved")
    assert cq.json("index", "--wait")["wait"]["documented"] == 4
