"""The one answer to "should a worker start now?", for the server, the CLI, the hooks and
``index --wait``.

A worker starts when the work tree is in ``auto`` mode, work waits (queued or running jobs in
the ledger — including jobs queued before a worker was killed — or jobs just queued), and no
worker of this work tree runs. Faces add only their own reasons to hold off (the server: the
user stopped the worker, or the watchdog is backing off after crashes).
"""

from __future__ import annotations

import enum
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cq_lsp.core.supervisor import is_running, start_worker

if TYPE_CHECKING:
    from cq_lsp.core.workspace import EnqueueReport, Workspace

MANUAL_NOTE = "manual mode: run `cq-lsp worker start` or `cq-lsp queue process` to document"


class Verdict(enum.Enum):
    NO_WORK = "nothing waits"
    MANUAL = "manual mode"
    RUNNING = "worker running"
    START = "start a worker"


def verdict(ws: Workspace, report: EnqueueReport | None = None) -> Verdict:
    counts = ws.ledger.counts()
    just_queued = report is not None and bool(report.result.queued)
    if not (counts["queued"] or counts["running"] or just_queued):
        return Verdict.NO_WORK
    if ws.config.processing.mode != "auto":
        return Verdict.MANUAL
    if is_running(ws.project):
        return Verdict.RUNNING
    return Verdict.START


def ensure_worker(
    ws: Workspace, report: EnqueueReport | None = None, *, env: Mapping[str, str] | None = None
) -> str | None:
    """Start a worker if the verdict says so. Returns what happened, for people, or None.

    ``env`` is extra environment for a worker started here (the language server passes the
    editor's settings this way).
    """
    decided = verdict(ws, report)
    if decided is Verdict.MANUAL:
        return MANUAL_NOTE
    if decided is Verdict.START:
        start_worker(ws.project, env=env)
        return "worker started"
    return None


def start_ahead(ws: Workspace) -> tuple[dict[str, Any], float] | None:
    """The first ``index --wait`` of a work tree will need a worker: start it before the files
    are read, so its start-up (~0.2 s) overlaps that instead of following it.

    Returns the ledger counts and time before, from which ``--wait`` then counts (the worker
    may finish some jobs before following begins); None when nothing was started.
    """
    if ws.config.processing.mode != "auto" or is_running(ws.project):
        return None
    counts = ws.ledger.counts()
    if counts["done"] or counts["queued"] or counts["running"]:
        return None  # not a first index: verdict() decides once the work is known
    since = (counts, time.monotonic())
    start_worker(ws.project, wait=False)
    return since
