"""The core façade the faces share: a project with its config, index, ledger, guard and queue.

The CLI, the language server and the hook entry all call these methods, so a path is guarded,
recorded and queued the same way whoever asks.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from cq_lsp.config.load import ConfigCache, load_config
from cq_lsp.core.transport import Transport
from cq_lsp.errors import CqLspError, PathRefused
from cq_lsp.store.db import Database
from cq_lsp.store.documentation import get_record
from cq_lsp.store.ledger import Change, EnqueueResult, Ledger, key_of
from cq_lsp.worktree.git import tracked_files
from cq_lsp.worktree.guard import PathGuard
from cq_lsp.worktree.project import Project

if TYPE_CHECKING:
    from cq_lsp.config.load import ConfigCache, LoadedConfig
    from cq_lsp.config.schema import Config
    from cq_lsp.core.transport import Transport

# Refusals that still name a path inside the work tree, so the ledger records them for `show`.
_RECORDED_REASONS = frozenset(
    {
        "escapes",
        "internal_link",
        "symlink_loop",
        "ignored",
        "excluded",
        "not_regular",
        "too_large",
        "binary",
        "unreadable",
    }
)


@attrs.define
class Refusal:
    path: str
    reason: str
    message: str
    hint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.define
class EnqueueReport:
    result: EnqueueResult
    refused: list[Refusal] = attrs.field(factory=list)
    sent: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {**self.result.to_dict(), "refused": [r.to_dict() for r in self.refused]}


class Workspace:
    def __init__(
        self,
        project: Project,
        *,
        editor_settings: Mapping[str, Any] | None = None,
        editor_trusted: bool = False,
        loaded: LoadedConfig | None = None,
        live: bool = False,
    ) -> None:
        """``live``: long-running processes (worker, server) reload config.json when it changes,
        keeping the last good configuration while an edit is invalid (see ``config_error``)."""
        self.project = project
        self._editor_settings = editor_settings
        self._editor_trusted = editor_trusted
        self._loaded = loaded
        self._cache: ConfigCache | None = None
        if live and loaded is None:
            self._cache = ConfigCache(
                project.root, editor=editor_settings, editor_trusted=editor_trusted
            )
        self._guard: tuple[tuple[Any, ...], PathGuard] | None = None
        self._cache_checked: tuple[float, LoadedConfig] | None = None

    # -- parts, built on first use so each command pays only for what it touches ---------------

    @property
    def loaded(self) -> LoadedConfig:
        if self._cache is not None:
            # A worker asks for the config several times per job: look at the files at most
            # once a second, not three stats per question.
            now = time.monotonic()
            if self._cache_checked is None or now - self._cache_checked[0] >= 1.0:
                self._cache_checked = (now, self._cache.get())
            return self._cache_checked[1]
        if self._loaded is None:
            self._loaded = load_config(
                self.project.root,
                editor=self._editor_settings,
                editor_trusted=self._editor_trusted,
            )
        return self._loaded

    def fresh_config(self) -> LoadedConfig:
        """``loaded``, looking at the files now: a job about to run a program must see the
        latest trust decision, not one up to a second old."""
        self._cache_checked = None
        return self.loaded

    @property
    def config(self) -> Config:
        return self.loaded.config

    def check_config(self) -> None:
        """Raise ConfigError now if the configuration is invalid (before spawning anything)."""
        self.loaded  # noqa: B018  (loading is the check; it raises on an invalid layer)

    @property
    def config_error(self) -> Exception | None:
        """The error of the latest config reload (live workspaces keep the last good config)."""
        return self._cache.error if self._cache is not None else None

    @cached_property
    def db(self) -> Database:
        self.project.require_initialized()
        return Database(self.project.index_db)

    @cached_property
    def ledger(self) -> Ledger:
        return Ledger(self.db)

    @property
    def guard(self) -> PathGuard:
        cfg = self.config
        key = (tuple(cfg.exclude_patterns), cfg.processor.max_file_bytes)
        if self._guard is None or self._guard[0] != key:
            self._guard = (key, PathGuard(self.project.root, *key))
        return self._guard[1]

    @cached_property
    def transport(self) -> Transport:

        self.project.require_initialized()
        return Transport(self.project, self.config)

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.close()

    # -- producing work -----------------------------------------------------------------------

    def _change_for(
        self, rel: str, report: EnqueueReport, source: str, tracked: bool | None
    ) -> Change | None:
        try:
            self.guard.check_rules(rel, tracked=tracked)
            content = self.guard.read(rel)
        except PathRefused as refusal:
            if refusal.reason == "missing":
                return Change(rel, None)
            self.ledger.skip(rel, refusal.reason, refusal.message, source=source)
            report.result.skipped += 1
            report.refused.append(Refusal(rel, refusal.reason, refusal.message, refusal.hint))
            return None
        return Change(rel, content.sha, content.size, content.mtime_ns)

    def enqueue_paths(
        self,
        raw_paths: Iterable[str | os.PathLike[str]],
        *,
        source: str,
        base: Path | None = None,
        delay_s: float = 0.0,
        send: bool = True,
    ) -> EnqueueReport:
        """Guard, record and queue the named paths (deleted ones leave the index)."""
        report = EnqueueReport(EnqueueResult())
        changes: list[Change] = []
        for raw in raw_paths:
            try:
                rel = self.guard.to_rel(raw, base=base)
            except PathRefused as refusal:
                if refusal.reason in _RECORDED_REASONS:
                    self.ledger.skip(refusal.path, refusal.reason, refusal.message, source=source)
                report.refused.append(
                    Refusal(refusal.path, refusal.reason, refusal.message, refusal.hint)
                )
                continue
            change = self._change_for(rel, report, source, tracked=None)
            if change is not None and change.sha is None and self.ledger.job(rel) is None:
                # Neither on disk nor ever queued: a typo, not a deletion to record.
                report.refused.append(
                    Refusal(
                        rel,
                        "missing",
                        f"{rel}: no such file in {self.project.root}",
                        "check the path (relative paths start from the current directory)",
                    )
                )
                continue
            if change is not None:
                changes.append(change)
        return self._commit(changes, report, source, delay_s, send)

    def enqueue_all(self, *, source: str, delay_s: float = 0.0, send: bool = True) -> EnqueueReport:
        """Queue every tracked file; unchanged ones (same size and mtime as documented) are free.

        Files documented before but no longer tracked leave the index.
        """

        report = EnqueueReport(EnqueueResult())
        known = self.ledger.states_by_path()
        changes: list[Change] = []
        tracked: set[str] = set()
        for rel in tracked_files(self.project.root):
            tracked.add(key_of(rel)[0])
            try:
                rel = self.guard.to_rel(rel)
            except PathRefused as refusal:
                report.refused.append(
                    Refusal(refusal.path, refusal.reason, refusal.message, refusal.hint)
                )
                if refusal.reason in _RECORDED_REASONS:
                    self.ledger.skip(refusal.path, refusal.reason, refusal.message, source=source)
                continue
            prior = known.get(key_of(rel)[0])
            if prior is not None and prior[1] in ("done", "queued", "running") and prior[0]:
                try:
                    st = self.guard.abspath(rel).stat()
                except OSError:
                    st = None
                if st is not None and (st.st_size, st.st_mtime_ns) == (prior[2], prior[3]):
                    try:
                        self.guard.check_rules(rel, tracked=True)
                    except PathRefused:
                        pass
                    else:
                        report.result.unchanged += 1
                        continue
            change = self._change_for(rel, report, source, tracked=True)
            if change is not None:
                changes.append(change)
        # Documented earlier, gone from git's index since (deleted, renamed or untracked).
        for key in known:
            if key not in tracked and not self.guard.exists(key):
                changes.append(Change(key, None))
        return self._commit(changes, report, source, delay_s, send)

    def _commit(
        self, changes: list[Change], report: EnqueueReport, source: str, delay_s: float, send: bool
    ) -> EnqueueReport:
        unchanged_before = report.result.unchanged
        skipped_before = report.result.skipped
        result = self.ledger.enqueue(changes, source=source, delay_s=delay_s)
        result.unchanged += unchanged_before
        result.skipped += skipped_before
        report.result = result
        if send and result.queued:
            report.sent = self.transport.send(result.queued)
        return report

    def resend_missing(self) -> int:
        """Recovery: jobs left running by a dead worker, and queued jobs Huey lost, go back on the
        queue. Call only while no worker runs."""
        queued = self.ledger.requeue_interrupted()
        if not queued:
            return 0
        pending = self.transport.pending_jobs()
        missing = [(rel, sha, 0.0) for rel, sha in queued if (rel, sha) not in pending]
        return self.transport.send(missing)

    # -- reading ------------------------------------------------------------------------------

    def show(self, raw: str, base: Path | None = None) -> dict[str, Any]:
        """One file's documentation; if there is none, why (queued, failed, refused, unknown)."""

        rel = self.guard.to_rel(raw, base=base)
        record = get_record(self.db, rel)
        if record is not None:
            job = self.ledger.job(rel)
            record["state"] = job["state"] if job else "done"
            return record
        job = self.ledger.job(rel)
        if job is None and not os.path.lexists(self.guard.abspath(rel)):
            raise CqLspError(
                f"{rel}: no such file in {self.project.root}",
                hint="check the path (relative paths start from the current directory); "
                "`cq-lsp search` finds files by what they hold",
            )
        if job is None:
            raise CqLspError(
                f"{rel}: not documented yet",
                hint=f"run `cq-lsp index {rel}` (or `cq-lsp queue add {rel}`)",
            )
        if job["state"] == "skipped":
            raise CqLspError(
                f"{rel}: not documented: {job['error']}",
                hint="the path guard refused it (reason: " + str(job["reason"]) + ")",
            )
        if job["state"] == "failed":
            raise CqLspError(
                f"{rel}: documenting failed after {job['attempts']} attempt(s): {job['error']}",
                hint="`cq-lsp queue retry` queues it again",
            )
        raise CqLspError(
            f"{rel}: not documented yet ({job['state']} since {job['queued_at']})",
            hint="`cq-lsp index --wait` waits for the queue to drain",
        )
