"""One workspace folder of the language server: its project, workspace, worker watchdog and
the status last sent for it. Protocol-free: the server drives these objects from its loop.

Everything here blocks (SQLite, psutil, git), so the server calls it on worker threads. Status
and supervision run on one dedicated thread per server, which keeps SQLite's per-connection
``data_version`` meaningful between ticks.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from cq_lsp.core import editor_env
from cq_lsp.core.autostart import Verdict, verdict
from cq_lsp.core.status import add_problem, blank_status, build_status
from cq_lsp.core.supervisor import (
    is_running,
    our_process,
    read_worker_json,
    start_worker,
    stop_worker,
    worker_status,
)
from cq_lsp.core.watchdog import WorkerWatchdog
from cq_lsp.core.workspace import Workspace
from cq_lsp.errors import CqLspError, NotAWorkTreeError, PathRefused
from cq_lsp.worktree.git import git_dirs
from cq_lsp.worktree.project import Project, find_work_tree

log = logging.getLogger(__name__)

#: Refusals an editor event drops silently: the user did not ask for these files.
QUIET_REASONS = frozenset({"outside", "internal", "ignored", "excluded", "missing"})


class Folder:
    """A workspace folder mapped to the git work tree that contains it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.root: Path = folder
        self.git_error: str | None = None
        try:
            self.root = find_work_tree(folder)
        except NotAWorkTreeError as exc:
            self.git_error = exc.message
        except CqLspError as exc:
            self.git_error = str(exc)
        self.project = Project(self.root)
        self.watchdog = WorkerWatchdog(self.project)
        #: pid of the worker this server started: stopped at shutdown only if that one runs.
        self.started_pid: int | None = None
        #: the user stopped the worker: nothing starts it by itself until they start it, index
        #: or queue files again.
        self.user_stopped = False
        #: why the last automatic start failed (health "error" until a worker runs).
        self.start_error: str | None = None
        #: removed from the workspace: its Workspace must not be rebuilt.
        self.closed = False
        self._starting = False
        self._git_dirs: tuple[Path, Path] | None = None
        self.last_sent: Any = None
        self.last_sent_at = 0.0
        #: a change seen too soon after the last notification, to send on a later tick.
        self.deferred = False
        self._ws: Workspace | None = None
        self._settings: tuple[dict[str, Any] | None, bool] = (None, False)
        self._db_version: int | None = None
        self._stamp: Any = None
        self.config_diagnostic_sent = False
        # The io threads (a save) and the status thread (supervision) may both want a worker.
        self._start_lock = threading.RLock()

    # -- the core façade, rebuilt when the editor's settings change ----------------------------

    def configure(self, editor_layer: dict[str, Any] | None, trusted: bool) -> bool:
        """New editor settings; True when they differ from the ones in use."""
        if (editor_layer, trusted) == self._settings and self._ws is not None:
            return False
        changed = (editor_layer, trusted) != self._settings
        self._settings = (editor_layer, trusted)
        # Dropped, not closed: another thread may be in the middle of a query on it, and
        # closing a SQLite connection under a running statement crashes the process. Its
        # connections close when the last user lets go of it.
        self._ws = None
        return changed

    @property
    def initialized(self) -> bool:
        return self.git_error is None and self.project.initialized

    @property
    def ws(self) -> Workspace:
        if self.closed:
            raise CqLspError(f"{self.root} is no longer a workspace folder")
        if self.git_error is not None:
            raise CqLspError(self.git_error, hint="open a folder inside a git work tree")
        self.project.require_initialized()
        if self._ws is None:
            layer, trusted = self._settings
            self._ws = Workspace(
                self.project, editor_settings=layer, editor_trusted=trusted, live=True
            )
        return self._ws

    def worker_env(self) -> dict[str, str]:
        layer, trusted = self._settings
        return editor_env.encode(layer, trusted, self.root)

    def close(self) -> None:
        """Only on the status thread, after the folder left the server's folder map."""
        self.closed = True
        if self._ws is not None:
            self._ws.close()
            self._ws = None

    # -- paths --------------------------------------------------------------------------------

    def editor_wants(self, path: Path) -> bool:
        """Should a file the editor saved or saw change be queued?

        Files the user never asked for (ignored, excluded, internal, outside) are dropped
        quietly; other refusals (binary, too large ...) go on to ``enqueue_paths``, which records
        the reason so ``show`` and ``queue list`` can say why the file has no documentation.
        """
        ws = self.ws
        try:
            rel = ws.guard.to_rel(path)
            ws.guard.check_rules(rel)
        except PathRefused as refusal:
            return refusal.reason not in QUIET_REASONS
        return True

    def debounce_s(self) -> float:
        """How long a saved file waits for another save before it is queued."""
        return self.ws.config.processing.debounce_ms / 1000.0

    # -- what the editor saw change (on an io thread) ------------------------------------------

    def queue_saved(self, paths: list[str], *, auto_start: bool) -> None:
        """Queue the files the editor saved or saw change, and start a worker for them when
        workers start by themselves."""
        try:
            wanted = [p for p in paths if self.editor_wants(Path(p))]
            if not wanted:
                return
            report = self.ws.enqueue_paths(wanted, source="save")
            if report.result.queued:
                log.info("queued %d file(s) in %s (save)", len(report.result.queued), self.root)
            if auto_start:
                self.ensure_worker(report)
        except CqLspError as exc:
            log.warning("could not queue %d file(s): %s", len(paths), exc)
        except Exception:
            # Not lost: the ledger has them or not; the next save or index run tries again.
            log.exception("queueing %d file(s) in %s failed", len(paths), self.root)

    def reconcile_with_git(self, *, auto_start: bool) -> None:
        """HEAD or refs moved (commit, checkout, merge, rebase): queue what differs from git's
        index, and start a worker for it when workers start by themselves."""
        try:
            report = self.ws.enqueue_all(source="git")
            r = report.result
            if r.queued or r.removed:
                log.info(
                    "git changed %s: %d queued, %d removed", self.root, len(r.queued), r.removed
                )
            if auto_start:
                self.ensure_worker(report)
        except CqLspError as exc:
            log.warning("could not reconcile %s with git: %s", self.root, exc)
        except Exception:
            log.exception("reconciling %s with git failed", self.root)

    # -- status and supervision (on the status thread) -----------------------------------------

    def changed_since_last_look(self) -> bool:
        """Cheap: did the ledger or the worker files change since the previous call?"""
        if not self.initialized:
            return False
        try:
            version = self.ws.db.data_version()
        except Exception:
            version = None
        stamp: list[tuple[int, int] | None] = []
        for f in (self.project.worker_json, self.project.config_file):
            try:
                st = os.stat(f)
                stamp.append((st.st_mtime_ns, st.st_ino))
            except OSError:
                stamp.append(None)
        changed = version != self._db_version or stamp != self._stamp
        self._db_version, self._stamp = version, stamp
        return changed

    def status(self, *, catch_up: bool = False) -> dict[str, Any]:
        """The status object of this folder. ``catch_up``: queue the files the staleness check
        finds (the server's periodic refresh, when workers start by themselves)."""
        if self.git_error is not None:
            return blank_status(
                self.root, "warning", f"not a git work tree: {self.git_error}", initialized=False
            )
        if not self.project.initialized:
            return blank_status(
                self.root,
                "warning",
                "not initialized — run CQ: Initialize (or `cq-lsp init`)",
                initialized=False,
            )
        ws = self.ws
        # The periodic refresh is where the server notices changes no hook or save reported
        # (a reset, a stash, an outside edit): in auto mode they are queued, and the
        # supervision loop starts a worker for them as for any queued work. Not after the user
        # stopped the worker (or cancelled an index run): then they are reported as stale.
        st = build_status(ws, catch_up=catch_up and not self.user_stopped, start_worker=False)
        st["initialized"] = True
        st["worker"]["restarts"] = self.watchdog.restarts
        err = ws.config_error
        if err is not None:
            st["configError"] = str(err)
        if st["worker"]["state"] == "running":
            self.start_error = None
        if self.watchdog.gave_up:
            add_problem(st, "error", self.watchdog.gave_up)
            st["workerError"] = self.watchdog.gave_up
        elif self.start_error:
            add_problem(st, "error", f"the worker could not start: {self.start_error}")
            st["workerStartError"] = self.start_error
        elif self.user_stopped and st["worker"]["state"] == "stopped":
            if st["queue"]["queued"]:
                st["message"] += " (stopped by you: CQ: Start Worker resumes)"
            st["userStopped"] = True
        return st

    def git_dirs(self) -> tuple[Path, Path]:
        """(this work tree's git dir, the common dir): HEAD lives in the first, refs in the second.

        A linked worktree's ``.git`` is a file naming its git dir, whose ``commondir`` names
        the main repository's.
        """
        if self._git_dirs is None:
            dot_git = self.root / ".git"
            self._git_dirs = git_dirs(self.root) or (dot_git, dot_git)
        return self._git_dirs

    # -- the worker ---------------------------------------------------------------------------

    def start_worker(self, env: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Start this folder's worker unless one runs (serialised within this server)."""

        with self._start_lock:
            result = start_worker(self.project, env=self.worker_env() if env is None else env)
        if result.get("started"):
            self.started_pid = result.get("pid")
        self.start_error = None
        self.user_stopped = False
        return result

    def _auto_start(self, *, restart: bool = False) -> None:
        """A start nobody asked for explicitly: a failure counts as a crash for the watchdog.

        Only the watchdog (``restart``) replaces a crashed worker — after its backoff, and
        counted — so a start that was already on its way when the worker died stands down.
        """

        try:
            with self._start_lock:
                info = read_worker_json(self.project)
                if not restart and info is not None and our_process(info) is None:
                    return  # crashed: the watchdog's to restart
                self.start_worker()
        except CqLspError as exc:
            log.error("could not start the worker for %s: %s", self.root, exc)
            self.start_error = exc.message
            self.watchdog.start_failed(str(exc))
        finally:
            self._starting = False

    def wants_worker(self, report: Any = None) -> bool:
        """The core's verdict is "start", and nothing of the editor's holds it off."""

        if self.watchdog.holding_off or self.user_stopped or self._starting:
            return False
        return verdict(self.ws, report) is Verdict.START

    def ensure_worker(self, report: Any = None) -> None:
        """Auto mode: a worker for waiting work, started on this (io) thread."""
        if self.wants_worker(report):
            self._starting = True
            self._auto_start()

    def stop_if_ours(self) -> None:
        """At shutdown or folder removal: stop the worker this server started, if it is still
        that one and nothing waits for it; otherwise it finishes and exits when idle."""

        if self.started_pid is None or not self.initialized:
            return
        if worker_status(self.project).get("pid") != self.started_pid:
            return  # exited, or replaced by a worker someone else started
        counts = self.ws.ledger.counts()
        if counts["queued"] or counts["running"]:
            log.info(
                "leaving the worker of %s to finish %d job(s); it exits when idle",
                self.root,
                counts["queued"] + counts["running"],
            )
            return
        stop_worker(self.project, grace_s=5.0)
        log.info("stopped the worker of %s", self.root)

    def restart_for_settings(self) -> None:
        """The editor's settings or trust changed: a running worker restarts to get them."""

        if not self.initialized or not is_running(self.project):
            return
        log.info("restarting the worker of %s for the new editor settings", self.root)
        stop_worker(self.project)  # graceful: running jobs finish first
        try:
            self.start_worker()
        except CqLspError as exc:
            self.start_error = exc.message
            self.watchdog.start_failed(str(exc))

    def supervise(
        self, status: dict[str, Any], *, auto_start: bool, submit: Callable[..., Any]
    ) -> str | None:
        """Start or restart the worker when work waits (auto mode). Returns what it did.

        Runs on the status thread; starting (which waits for the worker's first heartbeat) and
        stopping go to ``submit``, so a slow start never freezes the other folders' status.
        """
        if not status.get("initialized") or self._starting:
            return None
        ws = self.ws
        queue = status["queue"]
        waiting = bool(queue["queued"] or queue["running"])
        allowed = auto_start and ws.config.processing.mode == "auto" and not self.user_stopped
        if not allowed:
            return None
        steps: list[Callable[[], Any]] = []

        def stop() -> None:

            steps.append(lambda: stop_worker(self.project, grace_s=2.0))

        did = self.watchdog.check(
            status["worker"],
            work_waiting=waiting,
            start=lambda: steps.append(lambda: self._auto_start(restart=True)),
            stop=stop,
        )
        state = status["worker"]["state"]
        if not did and waiting and state == "stopped" and not self.watchdog.holding_off:
            steps.append(self._auto_start)
            did = "started"
        if steps:
            self._starting = True

            def run() -> None:
                try:
                    for step in steps:
                        step()
                finally:
                    self._starting = False

            submit(run)
        return did
