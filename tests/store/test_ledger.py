"""The ledger: idempotent (path, sha) jobs, supersession, claims, recovery, history."""

from __future__ import annotations

import os
import threading

import pytest

from cq_lsp.store.db import Database
from cq_lsp.store.documentation import file_count, get_record
from cq_lsp.store.ledger import Change, Ledger, key_of, rel_of
from cq_lsp.worktree.guard import PathGuard
from cq_lsp.worktree.project import Project
from tests.store.conftest import DATASET, SHA_A, SHA_B, document, fts, job_row, record_for, write
from tests.store_helpers import claim, commit_job, is_running, release


def test_enqueue_new_job(ledger: Ledger, db: Database) -> None:
    res = ledger.enqueue([Change("a.py", SHA_A, 6, 123)], source="cli", delay_s=2.0, now=1000.0)
    assert res.queued == [("a.py", SHA_A, 2.0)]
    assert res.to_dict() == {"queued": 1, "unchanged": 0, "removed": 0, "skipped": 0}
    row = job_row(db, "a.py")
    assert row is not None
    assert (row["sha"], row["state"], row["attempts"], row["source"]) == (SHA_A, "queued", 0, "cli")
    assert (row["queued_at"], row["not_before"], row["size"], row["mtime_ns"]) == (
        1000.0,
        1002.0,
        6,
        123,
    )


@pytest.mark.parametrize("state", ["queued", "running", "done"])
def test_enqueue_same_sha_is_a_noop(
    ledger: Ledger, db: Database, guard: PathGuard, state: str
) -> None:
    content = guard.read("a.py")
    ledger.enqueue([Change("a.py", content.sha)], source="cli", now=1000.0)
    if state in ("running", "done"):
        assert claim(ledger, "a.py", content.sha, pid=1)
    if state == "done":
        assert commit_job(
            db,
            dataset=DATASET,
            task_sha=content.sha,
            record=record_for("a.py"),
            content=content,
            commit=None,
        )
    before = dict(job_row(db, "a.py"))  # type: ignore[arg-type]
    assert before["state"] == state
    res = ledger.enqueue([Change("a.py", content.sha)], source="hook", now=2000.0)
    assert res.queued == []
    assert res.unchanged == 1
    assert dict(job_row(db, "a.py")) == before  # type: ignore[arg-type]
    assert len(db.query("SELECT * FROM jobs")) == 1


def test_enqueue_same_sha_brings_a_delayed_job_forward(ledger: Ledger, db: Database) -> None:
    ledger.enqueue([Change("a.py", SHA_A)], source="hook", delay_s=300, now=1000.0)
    res = ledger.enqueue([Change("a.py", SHA_A)], source="cli", delay_s=0, now=1001.0)
    assert res.queued == [("a.py", SHA_A, 0)]
    row = job_row(db, "a.py")
    assert row is not None and row["not_before"] == 1001.0 and row["state"] == "queued"


@pytest.mark.parametrize("state", ["queued", "running", "done", "failed"])
def test_new_sha_supersedes(ledger: Ledger, db: Database, state: str) -> None:
    ledger.enqueue([Change("a.py", SHA_A)], source="cli")
    if state != "queued":
        assert claim(ledger, "a.py", SHA_A, pid=1)
    if state == "failed":
        release(ledger, "a.py", SHA_A, "boom", final=True)
    if state == "done":
        db.conn().execute("UPDATE jobs SET state='done'")
    res = ledger.enqueue([Change("a.py", SHA_B)], source="save")
    assert res.queued == [("a.py", SHA_B, 0.0)]
    row = job_row(db, "a.py")
    assert row is not None
    assert (row["sha"], row["state"], row["attempts"], row["error"], row["source"]) == (
        SHA_B,
        "queued",
        0,
        None,
        "save",
    )
    # The old task is no longer current: a worker holding it can neither claim nor commit.
    assert not claim(ledger, "a.py", SHA_A, pid=2)


def test_failed_job_with_same_sha_is_requeued(ledger: Ledger, db: Database) -> None:
    ledger.enqueue([Change("a.py", SHA_A)], source="cli")
    assert claim(ledger, "a.py", SHA_A, pid=1)
    release(ledger, "a.py", SHA_A, "documenter crashed", final=True)
    row = job_row(db, "a.py")
    assert row is not None and (row["state"], row["attempts"]) == ("failed", 1)
    res = ledger.enqueue([Change("a.py", SHA_A)], source="cli")
    assert res.queued == [("a.py", SHA_A, 0.0)]
    row = job_row(db, "a.py")
    assert row is not None
    assert (row["state"], row["attempts"], row["error"]) == ("queued", 0, None)


def test_deleted_file_removes_job_and_documentation(
    ledger: Ledger, db: Database, guard: PathGuard
) -> None:
    document(db, ledger, guard, "a.py", overview="alphaword overview")
    assert get_record(db, "a.py") is not None
    assert fts(db, "alphaword") == ["a.py"]
    res = ledger.enqueue([Change("a.py", None)], source="hook")
    assert res.removed == 1 and res.queued == []
    assert job_row(db, "a.py") is None
    assert get_record(db, "a.py") is None
    assert file_count(db) == 0
    assert fts(db, "alphaword") == []
    # Deleting again, or deleting something never seen, is harmless.
    res = ledger.enqueue([Change("a.py", None), Change("never.py", None)], source="hook")
    assert res.removed == 0
    ops = [h["op"] for h in ledger.history(50)]
    assert ops.count("remove-deleted") == 1


def test_skip_records_reason_and_drops_documentation(
    ledger: Ledger, db: Database, guard: PathGuard
) -> None:
    document(db, ledger, guard, "a.py")
    ledger.skip("a.py", "too_large", "a.py: too big", source="cli")
    row = job_row(db, "a.py")
    assert row is not None
    assert (row["state"], row["reason"], row["error"], row["sha"]) == (
        "skipped",
        "too_large",
        "a.py: too big",
        None,
    )
    assert get_record(db, "a.py") is None


def test_claim_succeeds_once(ledger: Ledger, db: Database) -> None:
    ledger.enqueue([Change("a.py", SHA_A)], source="cli")
    assert not claim(ledger, "a.py", SHA_B, pid=1)  # a stale task
    assert not claim(ledger, "other.py", SHA_A, pid=1)  # no such job
    assert claim(ledger, "a.py", SHA_A, pid=7)
    assert not claim(ledger, "a.py", SHA_A, pid=8)
    row = job_row(db, "a.py")
    assert row is not None
    assert (row["state"], row["attempts"], row["worker_pid"]) == ("running", 1, 7)
    assert row["started_at"] is not None
    assert is_running(ledger, "a.py", SHA_A)
    assert not is_running(ledger, "a.py", SHA_B)


def test_claim_from_many_threads_only_one_wins(ledger: Ledger) -> None:
    ledger.enqueue([Change("a.py", SHA_A)], source="cli")
    wins: list[bool] = []
    barrier = threading.Barrier(8)

    def worker(i: int) -> None:
        barrier.wait()
        wins.append(claim(ledger, "a.py", SHA_A, pid=i))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False] * 7 + [True]


def test_claim_many_claims_only_current_queued_jobs_in_one_go(ledger: Ledger, db: Database) -> None:
    ledger.enqueue([Change(f"f{i}.py", SHA_A) for i in range(4)], source="cli")
    assert claim(ledger, "f1.py", SHA_A, pid=1)  # taken by a duplicate delivery
    ledger.remove(["f2.py"], source="cli")  # removed since
    claimed = ledger.claim_many(
        [("f0.py", SHA_A), ("f1.py", SHA_A), ("f2.py", SHA_A), ("f3.py", SHA_B), ("f3.py", SHA_A)],
        pid=42,
    )
    assert claimed == [("f0.py", SHA_A, 1), ("f3.py", SHA_A, 1)]
    for rel in ("f0.py", "f3.py"):
        row = job_row(db, rel)
        assert row is not None and (row["state"], row["worker_pid"]) == ("running", 42)
    # A failed attempt counts: the next claim reports attempt 2.
    release(ledger, "f0.py", SHA_A, "boom", final=False, retry_in_s=30)
    row = job_row(db, "f0.py")
    assert row is not None and row["not_before"] >= row["finished_at"] + 29
    assert ledger.claim_many([("f0.py", SHA_A)], pid=42) == [("f0.py", SHA_A, 2)]


def test_requeue_dead_gives_back_jobs_of_dead_processes_only(ledger: Ledger, db: Database) -> None:
    ledger.enqueue([Change(f"f{i}.py", SHA_A) for i in range(3)], source="cli")
    ledger.claim_many([("f0.py", SHA_A)], pid=111)
    ledger.claim_many([("f1.py", SHA_A)], pid=222)
    asked: list[int] = []

    def alive(pid: int, claimed_at: float) -> bool:
        asked.append(pid)
        return pid == 222

    assert ledger.requeue_dead(alive) == [("f0.py", SHA_A)]
    assert job_row(db, "f0.py")["state"] == "queued"  # type: ignore[index]
    assert job_row(db, "f1.py")["state"] == "running"  # type: ignore[index]
    assert ledger.history(1)[0]["op"] == "recover-running"
    assert ledger.requeue_dead(alive) == []  # nothing left to give back
    assert set(asked) == {111, 222}


def test_release_retry_and_final(ledger: Ledger, db: Database) -> None:
    ledger.enqueue([Change("a.py", SHA_A)], source="cli")
    assert claim(ledger, "a.py", SHA_A, pid=1)
    release(ledger, "a.py", SHA_A, "timeout after 120 s", final=False)
    row = job_row(db, "a.py")
    assert row is not None
    assert (row["state"], row["error"], row["attempts"]) == ("queued", "timeout after 120 s", 1)
    assert claim(ledger, "a.py", SHA_A, pid=1)
    release(ledger, "a.py", SHA_A, "x" * 2000, final=True)
    row = job_row(db, "a.py")
    assert row is not None
    assert (row["state"], row["attempts"]) == ("failed", 2)
    assert row["error"] == "x" * 500  # bounded
    assert ledger.history(1)[0]["op"] == "failed"
    # A release for a job that is not running (or a stale sha) changes nothing.
    release(ledger, "a.py", SHA_A, "late", final=False)
    release(ledger, "a.py", SHA_B, "stale", final=False)
    row = job_row(db, "a.py")
    assert row is not None and (row["state"], row["error"]) == ("failed", "x" * 500)


def test_requeue_interrupted(ledger: Ledger, db: Database) -> None:
    ledger.enqueue(
        [Change("a.py", SHA_A), Change("b.py", SHA_B), Change("c.py", SHA_A)],
        source="cli",
        now=1000.0,
    )
    assert claim(ledger, "a.py", SHA_A, pid=4242)
    assert claim(ledger, "c.py", SHA_A, pid=4242)
    db.conn().execute("UPDATE jobs SET state='done' WHERE path='c.py'")
    queued = ledger.requeue_interrupted()
    assert sorted(queued) == [("a.py", SHA_A), ("b.py", SHA_B)]
    row = job_row(db, "a.py")
    assert row is not None and (row["state"], row["worker_pid"]) == ("queued", None)
    assert job_row(db, "c.py")["state"] == "done"  # type: ignore[index]
    assert ledger.history(1)[0] | {"at": None} == {
        "at": None,
        "op": "recover-running",
        "count": 1,
        "detail": None,
        "source": "recovery",
    }
    counts = ledger.counts()
    assert {k: counts[k] for k in ("queued", "running", "done", "failed", "skipped")} == {
        "queued": 2,
        "running": 0,
        "done": 1,
        "failed": 0,
        "skipped": 0,
    }


def test_history_records_operations_never_contents(
    project: Project, ledger: Ledger, db: Database, guard: PathGuard
) -> None:
    secret = "zq-SECRET-7f3a9c-do-not-log"
    write(project.root, "creds.py", f'TOKEN = "{secret}"\n')
    content = document(db, ledger, guard, "creds.py")
    ledger.enqueue([Change("creds.py", SHA_B)], source="save")
    assert claim(ledger, "creds.py", SHA_B, pid=1)
    release(ledger, "creds.py", SHA_B, "documenter said no", final=True)
    ledger.skip("creds.py", "binary", "creds.py: binary file", source="cli")
    ledger.remove(["creds.py"], source="cli")
    hist = ledger.history(100)
    assert [h["op"] for h in hist] == ["remove", "skip:binary", "failed", "enqueue", "enqueue"]
    assert [h["count"] for h in hist] == [1, 1, 1, 1, 1]
    assert all(h["detail"] == "creds.py" for h in hist)
    assert hist[-1]["source"] == "test" and hist[0]["source"] == "cli"
    # The secret was in the index (it is the documentation's full text) ...
    assert content.text.count(secret) == 1
    # ... but never in the history or the ledger, not even in a raw dump of the rows.
    for table in ("history", "jobs"):
        for row in db.query(f"SELECT * FROM {table}"):
            assert all(secret not in str(v) for v in tuple(row)), (table, tuple(row))


def test_history_detail_is_bounded(ledger: Ledger) -> None:
    ledger.enqueue([Change(f"f{i}.py", SHA_A) for i in range(12)], source="cli")
    h = ledger.history(1)[0]
    assert h["op"] == "enqueue" and h["count"] == 12
    assert h["detail"] == "f0.py, f1.py, f2.py, f3.py, f4.py (+7 more)"


def test_concurrent_enqueue_from_threads(ledger: Ledger, db: Database) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def producer(t: int) -> None:
        try:
            barrier.wait()
            for i in range(200):
                ledger.enqueue([Change(f"t{t}/f{i}.py", f"{t:02d}{i:038d}")], source=f"t{t}")
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=producer, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert db.query("SELECT COUNT(*) AS n FROM jobs WHERE state='queued'")[0]["n"] == 800
    assert ledger.counts()["queued"] == 800
    assert len({r["path"] for r in db.query("SELECT path FROM jobs")}) == 800
    assert sum(h["count"] for h in ledger.history(1000) if h["op"] == "enqueue") == 800


def test_concurrent_enqueue_from_separate_databases(project: Project) -> None:
    """Separate Database objects (like separate processes) share the file without errors."""
    errors: list[BaseException] = []

    def producer(t: int) -> None:
        d = Database(project.index_db)
        try:
            lg = Ledger(d)
            for i in range(50):
                lg.enqueue([Change(f"p{t}/f{i}.py", SHA_A)], source="hook")
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            d.close()

    threads = [threading.Thread(target=producer, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    d = Database(project.index_db)
    try:
        assert Ledger(d).counts()["queued"] == 200
    finally:
        d.close()


def test_key_of_rel_of_round_trip_non_utf8() -> None:
    rel = os.fsdecode(b"dir/caf\xe9.py")
    key, raw = key_of(rel)
    assert raw == b"dir/caf\xe9.py"
    assert key == "dir/caf\\xe9.py"
    key.encode("utf-8")  # storable as TEXT
    assert rel_of(key, raw) == rel
    assert key_of("dir/café.py") == ("dir/café.py", None)
    assert rel_of("dir/café.py", None) == "dir/café.py"


def test_non_utf8_path_in_refusal_and_failure_messages(ledger: Ledger, db: Database) -> None:
    """Messages name the path; a non-UTF-8 name must not make SQLite refuse to store them."""
    rel = os.fsdecode(b"img/caf\xe9.bin")
    ledger.skip(rel, "binary", f"{rel}: binary file (contains NUL bytes)", source="cli")
    job = ledger.job(rel)
    assert job is not None
    assert (job["state"], job["reason"]) == ("skipped", "binary")
    assert job["error"] == "img/caf\\xe9.bin: binary file (contains NUL bytes)"
    ledger.enqueue([Change(rel, SHA_A)], source="cli")
    assert claim(ledger, rel, SHA_A, pid=1)
    release(ledger, rel, SHA_A, f"{rel}: documenter timed out", final=True)
    job = ledger.job(rel)
    assert job is not None
    assert (job["state"], job["error"]) == ("failed", "img/caf\\xe9.bin: documenter timed out")
