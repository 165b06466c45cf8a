"""Saves and git changes wait out a settle time before they are queued, per workspace folder.

An editor saving a file five times in a second, or git touching HEAD, refs and its index in one
checkout, should cost one job or one reconciliation, not five. The debouncer only keeps time: what
a due save or git change does is the callbacks' business (the server's, on its io pool).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

GIT_SETTLE_S = 0.5  # a checkout or rebase touches HEAD, refs and the index in a burst
# Work per message on the event loop is bounded so a flood never starves requests: due saves are
# handed over in batches of at most this many paths, one batch at a time.
FLUSH_BATCH = 2000

#: Hands a batch of due paths of one folder (by its root) over to be queued.
SaveCallback = Callable[[Path, list[str]], Awaitable[None]]
#: Reconciles one folder (by its root) with git after its HEAD or refs settled.
GitCallback = Callable[[Path], Awaitable[None]]
#: Runs the flush as a background task (the server's, which logs a failure).
Spawn = Callable[[Coroutine[Any, Any, None]], None]


class Debouncer:
    """Paths (and git changes) pending per folder root, one timer for the earliest due one, and
    one flush at a time that hands the due ones over. Lives on the event loop's thread."""

    def __init__(
        self,
        *,
        on_saves: SaveCallback,
        on_git: GitCallback,
        spawn: Spawn,
        git_settle_s: float = GIT_SETTLE_S,
        batch_size: int = FLUSH_BATCH,
    ) -> None:
        self._on_saves = on_saves
        self._on_git = on_git
        self._spawn = spawn
        self._git_settle_s = git_settle_s
        self._batch_size = batch_size
        self._pending: dict[Path, dict[str, float]] = {}  # folder root -> path -> due time
        self._git_due: dict[Path, float] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None  # when the armed flush fires
        self._flushing = False  # one flush at a time: the next one is armed when it ends
        self._closed = False

    def add(self, root: Path, path: Path, delay_s: float) -> None:
        """Hand ``path`` (in the folder at ``root``) over after ``delay_s``; another event for it
        within the delay starts the wait again."""
        due = time.monotonic() + delay_s
        self._pending.setdefault(root, {})[str(path)] = due
        self._arm(due)

    def add_git_change(self, root: Path) -> None:
        """HEAD, a ref or git's index of the folder at ``root`` moved: reconcile once it settles."""
        due = self._git_due[root] = time.monotonic() + self._git_settle_s
        self._arm(due)

    def forget(self, root: Path) -> None:
        """The folder left the workspace: what waits for it is dropped."""
        self._pending.pop(root, None)
        self._git_due.pop(root, None)

    def close(self) -> dict[Path, list[str]]:
        """Stop the timer for good and return what was still waiting (the caller queues it, so a
        save inside its debounce is not lost at shutdown)."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = self._timer_at = None
        left = {root: list(paths) for root, paths in self._pending.items() if paths}
        self._pending.clear()
        self._git_due.clear()
        return left

    def _arm(self, due: float | None = None) -> None:
        """Arm the timer for the earliest due time.

        ``due``: one new due time — O(1) per save, where scanning every pending path made 5,000
        saves in a second cost seconds of loop time. None: look at everything (after a flush).
        """
        if self._flushing or self._closed:
            return  # a running flush arms the next one when it ends
        if due is None:
            dues = [min(paths.values()) for paths in self._pending.values() if paths]
            dues.extend(self._git_due.values())
            if not dues:
                return
            due = min(dues)
        elif self._timer_at is not None and self._timer_at <= due:
            return  # a flush comes sooner and re-arms for the rest
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = due
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(max(0.0, due - time.monotonic()), self._start_flush)

    def _start_flush(self) -> None:
        self._timer = self._timer_at = None
        self._flushing = True
        self._spawn(self._flush())

    async def _flush(self) -> None:
        now = time.monotonic()
        try:
            for root, paths in list(self._pending.items()):
                due = [p for p, t in paths.items() if t <= now]
                for i in range(0, len(due), self._batch_size):
                    batch = due[i : i + self._batch_size]
                    await self._on_saves(root, batch)
                    # Only once handed over (a failure keeps them pending), and not a path saved
                    # again meanwhile: that one waits for its new due time.
                    for p in batch:
                        if paths.get(p, now + 1) <= now:
                            del paths[p]
            for root, t in list(self._git_due.items()):
                if t <= now:
                    await self._on_git(root)
                    if self._git_due.get(root) == t:
                        del self._git_due[root]
        except RuntimeError:
            return  # the io pool shut down: close() returns what is pending
        finally:
            self._flushing = False
            self._arm()
