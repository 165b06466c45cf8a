"""Work-done progress ($/progress) while jobs are documented, with cancel, and the catch-up of
what changed while no editor was open."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.capabilities import get_capability

from cq_lsp.errors import CqLspError
from cq_lsp.lsp.folders import Folder

if TYPE_CHECKING:
    # Type only: the server imports this module to register its features.
    from cq_lsp.lsp.server import CqLanguageServer

log = logging.getLogger(__name__)


async def catch_up(ls: CqLanguageServer, folder: Folder) -> None:
    """At startup: queue what changed while no editor was open, with progress."""

    def enqueue() -> list[str]:
        report = folder.ws.enqueue_all(source="startup")
        ls.maybe_start(folder, report)
        return [rel for rel, _sha, *_ in report.result.queued]

    try:
        queued = await ls.blocking(enqueue)
    except CqLspError as exc:
        log.warning("catching up %s failed: %s", folder.root, exc)
        return
    ls.dirty.add(folder.root)
    if queued:
        await follow_progress(ls, folder, queued, "cq-lsp: catching up")


async def follow_progress(
    ls: CqLanguageServer, folder: Folder, rels: list[str], title: str
) -> dict[str, Any]:
    """$/progress for a set of jobs until none is queued or running; cancel drops the ones
    that have not started (their files keep their previous documentation)."""
    total = len(rels)
    token: str | None = None
    if get_capability(ls.client_capabilities, "window.work_done_progress", False):
        token = f"cq-{uuid.uuid4().hex[:12]}"
        try:
            await ls.work_done_progress.create_async(token)
            ls.work_done_progress.begin(
                token,
                types.WorkDoneProgressBegin(
                    title=title, cancellable=True, message=f"0/{total}", percentage=0
                ),
            )
        except Exception as exc:
            log.info("the client refused a progress token: %s", exc)
            token = None
    started = time.monotonic()
    last = -1
    cancelled = False
    outcome: dict[str, Any] = {}
    while not ls.closed:
        counts = await ls.blocking(progress_counts, folder, rels)
        left = counts["queued"] + counts["running"]
        done = total - left
        if token is not None and done != last:
            ls.work_done_progress.report(
                token,
                types.WorkDoneProgressReport(
                    message=f"{done}/{total}"
                    + (f" · {counts['failed']} failed" if counts["failed"] else ""),
                    percentage=int(100 * done / total) if total else 100,
                ),
            )
            last = done
        if left == 0:
            outcome = counts
            break
        fut = ls.work_done_progress.tokens.get(token) if token is not None else None
        if fut is not None and fut.cancelled():
            cancel = functools.partial(folder.ws.ledger.cancel_queued, rels, source="editor")
            dropped = await ls.blocking(cancel)
            outcome = {**counts, "cancelled": dropped}
            cancelled = True
            break
        await asyncio.sleep(0.25)
    elapsed = round(time.monotonic() - started, 2)
    if token is not None:
        message = (
            f"cancelled: {outcome.get('cancelled', 0)} job(s) dropped"
            if cancelled
            else f"{total} file(s) in {elapsed} s"
            + (f" · {outcome.get('failed', 0)} failed" if outcome.get("failed") else "")
        )
        ls.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))
    ls.dirty.add(folder.root)
    return {**outcome, "total": total, "elapsedS": elapsed, "cancelledByUser": cancelled}


def progress_counts(folder: Folder, rels: list[str]) -> dict[str, int]:
    return folder.ws.ledger.state_counts(rels)
