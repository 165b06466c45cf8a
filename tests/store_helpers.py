"""Single-job steps over the store's batch API, for tests that drive the ledger by hand.

The worker claims and commits in batches (``Ledger.claim_many``, ``store`` inside one ``tx``);
these helpers are the same calls for one job, so tests exercise the product's code paths.
"""

from __future__ import annotations

from cq_lsp.documenters.records import FileRecord
from cq_lsp.store.db import Database
from cq_lsp.store.documentation import forget_missing_in, prepare, store
from cq_lsp.store.ledger import Ledger, bump_counter, key_of, release_in
from cq_lsp.worktree.guard import FileContent


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


__all__ = ["claim", "commit_job", "forget_missing", "is_running", "key_of", "release"]
