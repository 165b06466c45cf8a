"""Following the queue until it drains: a rich progress bar for people, supervision of the worker.

Used by ``index --wait``: it starts the worker when none runs (auto mode), restarts one that
crashes (with backoff, a few times), and on Ctrl-C stops following without touching any job —
each job commits in one transaction, so nothing is ever half-done.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from cq_lsp.core.autostart import Verdict, verdict
from cq_lsp.core.supervisor import start_worker
from cq_lsp.core.workspace import Workspace
from cq_lsp.errors import WorkerError

MAX_RESTARTS = 3
# How often the ledger is read while following: the last poll is wall time `index --wait` pays.
POLL_S = 0.05


def _remaining(ws: Workspace) -> tuple[int, dict[str, Any]]:
    counts = ws.ledger.counts()
    return counts["queued"] + counts["running"], counts


def wait_for_queue(
    ws: Workspace,
    *,
    show_progress: bool,
    ensure_worker: bool = True,
    since: tuple[dict[str, Any], float] | None = None,
) -> dict:
    """Block until nothing is queued or running. Returns the final counts and timing.

    ``since``: ledger counts and a monotonic time to count from (a worker started before the
    jobs were queued may have finished some already); default: now.
    """
    started = time.monotonic() if since is None else since[1]
    remaining, counts = _remaining(ws)
    before = counts if since is None else since[0]
    done_before = before["done"]
    failed_before = before["failed"]
    total = (
        remaining + max(0, counts["done"] - done_before) + max(0, counts["failed"] - failed_before)
    )
    restarts = 0
    next_start_at = 0.0
    progress = task = None
    if show_progress and sys.stderr.isatty():
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        progress = Progress(
            TextColumn("[bold]documenting"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            transient=False,
        )
        progress.start()
        task = progress.add_task("index", total=max(total, 1), rate="")
    try:
        while remaining > 0:
            if ensure_worker and verdict(ws) is Verdict.START:
                now = time.monotonic()
                if now >= next_start_at:
                    if restarts > MAX_RESTARTS:
                        raise WorkerError(
                            f"the worker stopped {restarts} times while {remaining} job(s) remain",
                            hint=f"see {ws.project.worker_log}; `cq-lsp queue process` documents "
                            "in the foreground instead",
                        )
                    start_worker(ws.project)
                    restarts += 1
                    next_start_at = now + min(8.0, 0.5 * 2**restarts)
            time.sleep(POLL_S)
            remaining, counts = _remaining(ws)
            total = max(
                total,
                remaining + (counts["done"] - done_before) + (counts["failed"] - failed_before),
            )
            if progress is not None and task is not None:
                completed = total - remaining
                elapsed = time.monotonic() - started
                rate = f"{completed / elapsed:.0f} files/s" if elapsed > 0.5 else ""
                progress.update(task, total=max(total, 1), completed=completed, rate=rate)
    finally:
        if progress is not None:
            progress.stop()
    elapsed = time.monotonic() - started
    documented = counts["done"] - done_before
    return {
        "documented": max(0, documented),
        "failed": counts["failed"],
        "newlyFailed": max(0, counts["failed"] - failed_before),
        "elapsedS": round(elapsed, 2),
        "filesPerS": round(documented / elapsed, 1) if elapsed > 0 and documented > 0 else None,
        "restarts": max(0, restarts - 1),
    }
