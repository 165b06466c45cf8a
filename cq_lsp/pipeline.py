"""What the worker does with one job: claim, read, document, commit — or record why not."""

from __future__ import annotations

import logging
import os
from functools import cached_property

from cq_lsp.documenters.base import DocumentContext, Documenter
from cq_lsp.errors import PathRefused
from cq_lsp.gitutil import head_commit
from cq_lsp.index import commit_job, forget_missing
from cq_lsp.ledger import bump_counter
from cq_lsp.workspace import Workspace

log = logging.getLogger(__name__)


def one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:limit]


def local_modules(root: os.PathLike[str] | str) -> frozenset[str]:
    """Top-level names that are the repository's own (so importing them is not a dependency)."""
    names: set[str] = set()
    for base in (os.fspath(root), os.path.join(os.fspath(root), "src")):
        try:
            entries = os.scandir(base)
        except OSError:
            continue
        with entries:
            for e in entries:
                if e.name.startswith("."):
                    continue
                stem, ext = os.path.splitext(e.name)
                if e.is_dir(follow_symlinks=False):
                    names.add(e.name)
                elif ext in (".py", ".js", ".ts", ".rs", ".go"):
                    names.add(stem)
    return frozenset(names)


class JobRunner:
    """Runs documentation jobs for one workspace; safe to call from several worker threads."""

    def __init__(self, workspace: Workspace) -> None:
        self.ws = workspace
        self.pid = os.getpid()

    @cached_property
    def documenter(self) -> Documenter:
        from cq_lsp.documenters.static import StaticDocumenter

        return StaticDocumenter()

    @cached_property
    def context(self) -> DocumentContext:
        return DocumentContext(
            local_modules=local_modules(self.ws.project.root), model=self.ws.config.model
        )

    def __call__(self, rel: str, sha: str, retries_left: int) -> None:
        ledger = self.ws.ledger
        if not ledger.claim(rel, sha, self.pid):
            return  # superseded, removed, or already done by a duplicate delivery
        try:
            self._document(rel, sha)
        except Exception as exc:
            final = retries_left <= 0
            log.warning(
                "documenting %s failed (%s): %s",
                rel,
                "giving up" if final else f"{retries_left} retries left",
                one_line(exc),
            )
            with self.ws.db.tx() as conn:
                bump_counter(conn, "documenter_calls")
                bump_counter(conn, "documenter_failures")
            ledger.release(rel, sha, one_line(exc), final=final)
            if not final:
                raise  # Huey schedules the retry after retry_delay_s

    def _document(self, rel: str, sha: str) -> None:
        ws = self.ws
        try:
            ws.guard.check_rules(rel)
            content = ws.guard.read(rel)
        except PathRefused as refusal:
            if refusal.reason == "missing":
                forget_missing(ws.db, rel, sha)
            elif ws.ledger.is_current(rel, sha):
                ws.ledger.skip(rel, refusal.reason, refusal.message, source="worker")
            return
        from cq_lsp.documenters.languages import detect_language

        language = detect_language(rel)
        record = self.documenter.document(rel, content.text, language, self.context)
        if content.notes:
            record.other_notes = [*record.other_notes, *content.notes]
        stored = commit_job(
            ws.db,
            dataset=ws.config.dataset_name,
            task_sha=sha,
            record=record,
            content=content,
            commit=head_commit(ws.project.root),
        )
        if not stored:
            log.info("%s changed while it was documented; the newer job will store it", rel)
