"""Documentation written outside the worker (an agent over MCP), stored as a job's would be.

The record goes through the job path itself (:func:`cq_lsp.store.documentation.store`): the
path's ledger row becomes a running job for the content's sha and ``store`` writes the record
and marks it done, in one transaction. So the ledger says which content the documentation
describes, a later change of the file supersedes it like any job, and a worker still busy with
an older or equal job for the path finds it superseded and writes nothing.
"""

from __future__ import annotations

import time

from cq_lsp.documenters.records import FileRecord
from cq_lsp.errors import CqLspError
from cq_lsp.store.db import Database
from cq_lsp.store.documentation import prepare, store
from cq_lsp.store.ledger import key_of, record_history
from cq_lsp.worktree.guard import FileContent

_CLAIM_SQL = (
    "INSERT INTO jobs (path, path_bytes, sha, state, attempts, error, reason, source, "
    "queued_at, started_at, finished_at, not_before, size, mtime_ns, worker_pid) "
    "VALUES (?, ?, ?, 'running', 1, NULL, NULL, ?, ?, ?, NULL, NULL, ?, ?, NULL) "
    "ON CONFLICT(path) DO UPDATE SET sha=excluded.sha, state='running', attempts=1, error=NULL, "
    "reason=NULL, source=excluded.source, queued_at=excluded.queued_at, "
    "started_at=excluded.started_at, finished_at=NULL, not_before=NULL, size=excluded.size, "
    "mtime_ns=excluded.mtime_ns, path_bytes=excluded.path_bytes, worker_pid=NULL"
)


def commit_external(
    db: Database,
    *,
    dataset: str,
    record: FileRecord,
    content: FileContent,
    commit: str | None,
    source: str,
) -> None:
    """Store ``record`` as the documentation of ``content`` (the file as it was read now)."""
    job = prepare(
        dataset=dataset, task_sha=content.sha, record=record, content=content, commit=commit
    )
    key, raw = key_of(record.path)
    with db.tx() as conn:
        now = time.time()
        conn.execute(
            _CLAIM_SQL, (key, raw, content.sha, source, now, now, content.size, content.mtime_ns)
        )
        if not store(conn, job):  # the row was made running for this sha just above
            raise CqLspError(f"{key}: the documentation could not be recorded in the ledger")
        record_history(conn, "document", 1, key, source)
