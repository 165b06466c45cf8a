"""Single-job steps over the store's batch API, for tests that drive the ledger by hand.

The worker claims and commits in batches (``Ledger.claim_many``, ``store`` inside one ``tx``);
these helpers are the same calls for one job, so tests exercise the product's code paths.
"""

from __future__ import annotations

import os
from pathlib import Path

from cq_lsp.documenters.base import DocumentContext
from cq_lsp.documenters.languages import detect_language
from cq_lsp.documenters.records import FileRecord
from cq_lsp.documenters.static import StaticDocumenter
from cq_lsp.store.db import Database
from cq_lsp.store.documentation import forget_missing_in, prepare, store
from cq_lsp.store.ledger import Change, Ledger, bump_counter, key_of, release_in
from cq_lsp.worktree.git import run_git
from cq_lsp.worktree.guard import FileContent, PathGuard


def claim(ledger: Ledger, rel: str, sha: str, pid: int) -> bool:
    """Mark the job running if the task is still the current one for its path."""
    return bool(ledger.claim_many([(rel, sha)], pid))


def release(
    ledger: Ledger, rel: str, sha: str, error: str, *, final: bool, retry_in_s: float = 0.0
) -> None:
    with ledger.db.tx() as conn:
        release_in(conn, rel, sha, error, final=final, retry_in_s=retry_in_s)


def is_running(ledger: Ledger, rel: str, sha: str) -> bool:
    job = ledger.job(rel)
    return job is not None and job["sha"] == sha and job["state"] == "running"


def commit_job(
    db: Database,
    *,
    dataset: str,
    task_sha: str,
    record: FileRecord,
    content: FileContent,
    commit: str | None,
) -> bool:
    """Store one job's documentation and mark it done in one transaction, as the runner does."""
    job = prepare(dataset=dataset, task_sha=task_sha, record=record, content=content, commit=commit)
    with db.tx() as conn:
        stored = store(conn, job)
        if stored:
            bump_counter(conn, "documenter_calls")
    return stored


def forget_missing(db: Database, rel: str, task_sha: str) -> bool:
    with db.tx() as conn:
        return forget_missing_in(conn, rel, task_sha)


__all__ = [
    "claim",
    "commit_job",
    "document_tree",
    "forget_missing",
    "is_running",
    "key_of",
    "release",
]


def document_tree(root: Path, db: Database, files: dict[str, str]) -> None:
    """Write ``files`` into the git repository at ``root``, commit them, and document each with
    the static documenter through the ledger, as the worker does (one transaction per job)."""
    guard = PathGuard(root, [], 4_000_000)
    ledger = Ledger(db)
    documenter = StaticDocumenter()
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    run_git(root, "add", "-A")
    run_git(root, "commit", "-q", "--allow-empty", "-m", "add files")
    for rel in files:
        content = guard.read(rel)
        ledger.enqueue([Change(rel, content.sha)], source="test")
        assert claim(ledger, rel, content.sha, pid=os.getpid())
        record = documenter.document(rel, content.text, detect_language(rel), DocumentContext())
        assert commit_job(
            db, dataset="test", task_sha=content.sha, record=record, content=content, commit=None
        )
