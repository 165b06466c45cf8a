"""Actions shared by the faces: each takes a Workspace and returns what it did, as data.

The command table (commands/table.py) turns them into typed results for the faces. Nothing here
prints, parses arguments or speaks LSP.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from cq_lsp.config.edit import write_initial_config
from cq_lsp.core.supervisor import our_process, read_worker_json
from cq_lsp.errors import UsageError
from cq_lsp.store.db import Database
from cq_lsp.store.ledger import JOB_STATES
from cq_lsp.worktree.project import open_project

if TYPE_CHECKING:
    from collections.abc import Sequence

    from cq_lsp.core.workspace import EnqueueReport, Workspace
    from cq_lsp.worktree.project import Project


def init_project(root: str | Path | None, dataset: str | None = None) -> dict[str, Any]:
    """Create ``.code-query/`` with its config and an empty index; keep an existing config."""

    project = open_project(root)
    existed = project.config_file.exists()
    project.ensure_state_dir()
    path = write_initial_config(project.root, dataset)
    Database(project.index_db).close()
    return {"root": str(project.root), "config": str(path), "created": not existed}


def check_states(states: Sequence[str] | None) -> list[str] | None:
    if not states:
        return None
    bad = [s for s in states if s not in JOB_STATES]
    if bad:
        raise UsageError(
            f"unknown job state {bad[0]!r}", hint="states are " + ", ".join(JOB_STATES)
        )
    return list(states)


def queue_list(
    ws: Workspace, states: Sequence[str] | None = None, limit: int | None = None
) -> dict[str, Any]:
    return {"jobs": ws.ledger.jobs(states=check_states(states), limit=limit)}


def queue_remove(
    ws: Workspace, paths: Sequence[str], *, source: str, base: Path | None = None
) -> int:
    """Forget files and their jobs; how many were known."""
    rels = [ws.guard.to_rel(p, base=base) for p in paths]
    return ws.ledger.remove(rels, source=source)


def queue_clear(ws: Workspace, *, source: str) -> int:
    """Drop queued jobs; running ones finish. Files documented before keep that documentation
    (dropping a newer version's job must not make an older, good record disappear)."""
    rels = ws.ledger.paths_in_state("queued")
    return ws.ledger.cancel_queued(rels, source=source, op="clear") if rels else 0


def queue_retry(ws: Workspace, *, source: str = "retry") -> EnqueueReport | None:
    """Failed jobs go back on the queue (a failed row with the same sha is not "unchanged").

    Returns the enqueue report (None: nothing had failed); the caller decides whether a worker
    starts.
    """
    rels = ws.ledger.paths_in_state("failed")
    return ws.enqueue_paths(rels, source=source) if rels else None


def queue_cleanup(ws: Workspace, *, source: str) -> int:
    """Forget jobs (and documentation) whose files are gone; how many."""
    gone = [j["path"] for j in ws.ledger.jobs() if not ws.guard.exists(j["path"])]
    return ws.ledger.remove(gone, source=source, op="cleanup") if gone else 0


def worker_cleanup(project: Project) -> dict[str, Any]:
    """Remove worker.json and the heartbeat when no worker of ours runs."""

    info = read_worker_json(project)
    removed: list[str] = []
    if our_process(info) is None:
        for f in (project.worker_json, project.heartbeat_file):
            if f.exists():
                f.unlink()
                removed.append(f.name)
    return {"removed": removed}
