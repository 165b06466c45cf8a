"""What the worker does with a batch of jobs: claim, read, document, commit — or record why not."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from cq_lsp.core.sharing import Sharing, document_once
from cq_lsp.core.transport import retry_delay
from cq_lsp.core.workspace import Workspace
from cq_lsp.documenters.answer import AnswerError
from cq_lsp.documenters.base import DocumentContext, Documenter, DocumenterError
from cq_lsp.documenters.languages import detect_language
from cq_lsp.documenters.records import FileRecord
from cq_lsp.documenters.select import (
    UntrustedCommand,
    fallback_record,
    select_documenter,
    selection_key,
)
from cq_lsp.errors import IndexError_, PathRefused
from cq_lsp.store.cache import content_sha256, decode_record, encode_record, localize
from cq_lsp.store.documentation import forget_missing_in, prepare, store
from cq_lsp.store.ledger import bump_counter, release_in, running_in, skip_in
from cq_lsp.worktree.git import head_commit
from cq_lsp.worktree.guard import FileContent

if TYPE_CHECKING:
    from cq_lsp.documenters.select import Selection
    from cq_lsp.store.documentation import Prepared

log = logging.getLogger(__name__)
T = TypeVar("T")
# A worker paused by a full disk or a locked index.db tries again after 1, 2, 4 ... 30 s.
STORAGE_RETRY_MIN_S = 1.0
STORAGE_RETRY_MAX_S = 30.0
# Ledger errors keep 500 characters; the refusal of an untrusted command names the work tree.
ERROR_CHARS = 500


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

    # The worker sets this: storage failures pause it (see _storage) instead of failing jobs.
    wait_for_storage = False

    def __init__(self, workspace: Workspace) -> None:
        self.ws = workspace
        self.pid = os.getpid()
        self._selection: tuple[tuple[object, ...], Selection] | None = None
        self._sharing: tuple[tuple[object, ...], Sharing] | None = None

    @property
    def selection(self) -> Selection:
        """The documenter(s) for the current config; a live config edit or trust takes effect."""

        cached = self._selection
        # Three stats per job are nothing next to an LLM call, and trust must be exact there.
        careful = cached is not None and (cached[1].uses_llm or cached[1].refusal is not None)
        loaded = self.ws.fresh_config() if careful else self.ws.loaded
        key = selection_key(loaded)
        if cached is None or cached[0] != key:
            chosen = select_documenter(loaded, slots_dir=self.ws.project.state_dir / "llm-slots")
            cached = self._selection = (key, chosen)
        return cached[1]

    @property
    def documenter(self) -> Documenter:
        return self.selection.documenter

    @cached_property
    def _local_modules(self) -> frozenset[str]:
        return local_modules(self.ws.project.root)

    @property
    def context(self) -> DocumentContext:
        """Without the repository's local modules: records are documented context-free (so one
        serves every clone) and ``localize``d when committed."""
        model = self.ws.config.model
        cached = self.__dict__.get("_context")
        if cached is None or cached.model != model:
            cached = self.__dict__["_context"] = DocumentContext(model=model)
        return cached

    @property
    def sharing(self) -> Sharing:
        """The stores and pool for the current settings (rebuilt when they change)."""
        cfg = self.ws.config
        key = (cfg.cache, cfg.pool, cfg.processor, cfg.model)
        cached = self._sharing
        if cached is None or cached[0] != key:
            uses_llm = cfg.processor.kind == "command"  # as Selection.uses_llm, without trust
            cached = self._sharing = (key, Sharing(cfg, uses_llm=uses_llm))
        return cached[1]

    def __call__(self, rel: str, sha: str, retries_left: int) -> None:
        """One job; with ``retries_left`` 0 a failure is final (the foreground `queue process`)."""
        self.run_batch([(rel, sha)], retry=retries_left > 0)

    def run_batch(self, jobs: Sequence[tuple[str, str]], *, retry: bool = True) -> None:
        """Document (rel, sha) jobs: claim them in one transaction, document each outside any
        transaction, then store every result (documentation and ledger row together) in one.

        With an LLM documenter each job is claimed and committed on its own: a call takes
        seconds, and a batch must not hold finished work back (or lose it to a kill -9).
        """
        group = 1 if self.selection.uses_llm else max(1, len(jobs))
        for i in range(0, len(jobs), group):
            self._run_group(jobs[i : i + group], retry=retry)

    def _storage(self, what: str, step: Callable[[], T]) -> T:
        """Run a step that writes index.db. In the worker (``wait_for_storage``), a full disk, a
        read-only or a locked index.db pauses it: the documentation already made waits in memory,
        the queue keeps the rest, and the log says what to do. Elsewhere the error is raised."""
        delay = STORAGE_RETRY_MIN_S
        while True:
            try:
                return step()
            except IndexError_ as exc:
                if not self.wait_for_storage:
                    raise
                log.error(
                    "cannot %s: %s; retrying in %.0f s (hint: %s)",
                    what,
                    exc.message,
                    delay,
                    exc.hint,
                )
                time.sleep(delay)
                delay = min(delay * 2, STORAGE_RETRY_MAX_S)

    def _run_group(self, jobs: Sequence[tuple[str, str]], *, retry: bool) -> None:
        ws = self.ws
        claimed = self._storage("claim jobs", lambda: ws.ledger.claim_many(jobs, os.getpid()))
        if not claimed:
            return  # superseded, removed, or already done by a duplicate delivery
        processing = ws.config.processing
        max_retries = processing.max_retries if retry else 0
        dataset = ws.config.dataset_name
        commit = head_commit(ws.project.root)  # once per batch, not per file
        outcomes: list[_Outcome] = []
        with ws.guard.snapshot():
            for rel, sha, attempts in claimed:
                outcome = _Outcome(rel, sha, attempts, final=attempts > max_retries)
                try:
                    self._prepare(outcome, dataset=dataset, commit=commit)
                except Exception as exc:
                    # A refused or missing program fails at once: another attempt cannot help.
                    outcome.final = outcome.final or not getattr(exc, "retryable", True)
                    outcome.error = one_line(exc, ERROR_CHARS)
                    log.warning(
                        "documenting %s failed (%s): %s",
                        rel,
                        "giving up"
                        if outcome.final
                        else f"{max_retries - attempts + 1} retries left",
                        outcome.error,
                    )
                outcomes.append(outcome)
        retries = self._storage(
            "store documentation", lambda: self._commit(outcomes, processing.retry_delay_s)
        )
        if retries:
            ws.transport.send(retries)  # each waits retry_delay_s, growing (transport)

    def _commit(
        self, outcomes: Sequence[_Outcome], retry_delay_s: float
    ) -> list[tuple[str, str, float]]:
        """Every outcome of a batch in ONE transaction; returns the retries to send."""

        retries: list[tuple[str, str, float]] = []
        calls = failures = 0
        llm: dict[str, int] = {}
        with self.ws.db.tx() as conn:
            for o in outcomes:
                if o.reused is not None and o.prepared is not None:
                    llm[o.reused] = llm.get(o.reused, 0) + 1
                for name, by in o.counts.items():
                    llm[name] = llm.get(name, 0) + by
                if o.prepared is not None:
                    if store(conn, o.prepared):
                        calls += o.reused is None  # a reused record cost no documenter call
                    else:
                        log.info(
                            "%s changed while it was documented; the newer job stores it", o.rel
                        )
                elif o.refusal is not None:
                    if o.refusal.reason == "missing":
                        forget_missing_in(conn, o.rel, o.sha)
                    elif running_in(conn, o.rel, o.sha):
                        skip_in(conn, o.rel, o.refusal.reason, o.refusal.message, source="worker")
                else:
                    calls += 1
                    failures += 1
                    delay = 0.0 if o.final else retry_delay(retry_delay_s, o.attempts)
                    error = o.error or "failed"
                    released = release_in(
                        conn, o.rel, o.sha, error, final=o.final, retry_in_s=delay
                    )
                    if released and not o.final:
                        retries.append((o.rel, o.sha, delay))
            if calls:
                bump_counter(conn, "documenter_calls", calls)
            if failures:
                bump_counter(conn, "documenter_failures", failures)
            for name, by in llm.items():
                bump_counter(conn, name, by)
        # After the commit: a record reaches the shared store once the work tree has it.
        sharing = self.sharing
        puts = [p for o in outcomes for p in o.cache_puts]
        if sharing.local is not None and puts:
            # An LLM record is written at once (another work tree may want it now); static
            # records are gathered, their transactions cost more than their look-ups.
            sharing.local.put_many(puts, defer=sharing.team is None and sharing.pool is None
                                   and self.ws.config.processor.kind != "command")  # fmt: skip
        return retries

    def _record(self, outcome: _Outcome, text: str, language: str) -> FileRecord:
        """Run the selected documenter, counting LLM calls into ``outcome`` (committed with it);
        the static record stands in when the command failed for good and ``processor.fallback``
        is "static"."""

        rel, final = outcome.rel, outcome.final
        sel = self.selection
        if sel.refusal is not None:
            raise UntrustedCommand(sel.refusal)
        if not sel.uses_llm:
            return sel.documenter.document(rel, text, language, self.context)
        try:
            record = sel.documenter.document(rel, text, language, self.context)
        except DocumenterError as exc:
            last = final or not exc.retryable
            use_fallback = last and exc.fallback and sel.fallback is not None
            outcome.counts = {"llm_calls": 1, "llm_failures": 1}
            if use_fallback:
                outcome.counts["llm_fallbacks"] = 1
            if not use_fallback or sel.fallback is None:
                raise
            reason = one_line(exc, ERROR_CHARS)
            log.warning("%s: LLM failed for good (%s); storing the static record", rel, reason)
            return fallback_record(sel.fallback, rel, text, language, self.context, reason)
        outcome.counts = {"llm_calls": 1}
        return record

    def _shared_record(self, outcome: _Outcome, content: FileContent, language: str) -> FileRecord:
        """The record of ``content``: from a store when one holds its key, else from the pool
        or the documenter (once across machines, under a lease), added to the stores."""
        sh = self.sharing
        if not sh.active:
            return self._record(outcome, content.text, language)
        rel = outcome.rel
        sha = content_sha256(content.data)  # the reader's own hash: only its keys are asked for
        key = sh.key(sha, language, rel)
        if sh.local is not None:
            found = self._decode(sh.local.get(key), rel, language, "local store")
            if found is not None:
                outcome.reused = "cache_local_hits"
                return found
        if sh.team is not None:
            found = self._decode(sh.team.get(key), rel, language, "team store")
            if found is not None:
                outcome.reused = "cache_team_hits"
                outcome.cache_puts.append((key, encode_record(found)))
                return found
        if sh.pool is not None and self.selection.refusal is None:
            answer = sh.pool.request(
                {"key": key, "path": rel, "language": language, "sha256": sha,
                 "content": content.data}
            )  # fmt: skip
            if answer is not None:
                fingerprint = answer.get("fingerprint")
                blob = answer.get("record")
                if isinstance(fingerprint, str) and isinstance(blob, bytes):
                    found = self._decode(blob, rel, language, "pool")
                    if found is not None:
                        outcome.reused = "pool_records"
                        outcome.cache_puts.append((sh.key(sha, language, rel, fingerprint), blob))
                        return found
        made: list[FileRecord] = []

        def make() -> bytes | None:
            record = self._record(outcome, content.text, language)
            made.append(record)
            if record.processor.startswith("static (fallback"):
                return None  # a stand-in for a failure is not the documentation of this key
            return encode_record(record)

        blob, here = document_once(sh.team, key, make, sh.lease_ttl_s)
        if not here:
            found = self._decode(blob, rel, language, "team store")
            if found is not None:
                outcome.reused = "cache_team_hits"
                outcome.cache_puts.append((key, encode_record(found)))
                return found
            return self._record(outcome, content.text, language)
        if blob is not None:
            outcome.cache_puts.append((key, blob))
        return made[0]

    @staticmethod
    def _decode(blob: bytes | None, rel: str, language: str, where: str) -> FileRecord | None:
        if blob is None:
            return None
        try:
            return decode_record(blob, path=rel, language=language)
        except AnswerError as exc:
            log.warning("%s: ignoring the %s's record: %s", rel, where, exc)
            return None

    def _prepare(self, outcome: _Outcome, *, dataset: str, commit: str | None) -> None:
        """Read and document one claimed job into ``outcome`` (no transaction is open)."""

        ws = self.ws
        rel = outcome.rel
        try:
            ws.guard.check_rules(rel)
            content = ws.guard.read(rel)
        except PathRefused as refusal:
            outcome.refusal = refusal
            return

        language = detect_language(rel)
        record = self._shared_record(outcome, content, language)
        localize(record, self._local_modules)
        if content.notes:
            record.other_notes = [*record.other_notes, *content.notes]
        outcome.prepared = prepare(
            dataset=dataset, task_sha=outcome.sha, record=record, content=content, commit=commit
        )


class _Outcome:
    """What became of one claimed job before the batch commits: documented (``prepared``),
    refused by the guard (``refusal``; reason "missing" when deleted) or failed (``error``)."""

    __slots__ = (
        "attempts",
        "cache_puts",
        "counts",
        "error",
        "final",
        "prepared",
        "refusal",
        "rel",
        "reused",
        "sha",
    )

    def __init__(self, rel: str, sha: str, attempts: int, *, final: bool) -> None:
        self.rel = rel
        self.sha = sha
        self.attempts = attempts
        self.final = final
        self.prepared: Prepared | None = None
        self.refusal: PathRefused | None = None
        self.error: str | None = None
        #: counters to bump with the outcome (LLM calls, failures, fallbacks).
        self.counts: dict[str, int] = {}
        #: the counter of where a reused record came from; None when documented here.
        self.reused: str | None = None
        #: (key, record) to add to the local store once the batch is committed.
        self.cache_puts: list[tuple[str, bytes]] = []


def document_queued(
    ws: Workspace,
    jobs: Sequence[tuple[str, str]] | None = None,
    *,
    batch_size: int | None = None,
    threads: int | None = None,
    timeout_s: float | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Document jobs in this process — ``queue process``, ``index --wait`` in manual mode, and a
    git hook's fallback when no worker can run.

    ``jobs`` (rel, sha) default to every queued job, after the ones a dead process left running
    are queued again. Each batch is claimed and committed as the worker does, on ``threads``
    threads; no batch starts after ``timeout_s``, and what is left stays queued in the ledger for
    the next worker. A failure here is final (no retry delay: the caller is waiting). A storage
    failure (full disk, read-only or locked index.db) is raised: the user must hear it.
    """
    from concurrent.futures import ThreadPoolExecutor

    if jobs is None:
        ws.ledger.requeue_dead()
        jobs = ws.ledger.queued()
    runner = JobRunner(ws)
    batch = batch_size or ws.config.processing.batch_size
    workers = max(1, threads or ws.config.worker.threads)
    started_at = time.monotonic()
    deadline = None if timeout_s is None else started_at + timeout_s
    before = ws.ledger.counts()
    started = 0

    def run(chunk: Sequence[tuple[str, str]]) -> None:
        try:
            runner.run_batch(chunk, retry=False)
        except IndexError_:
            raise
        except Exception as exc:  # the runner recorded each job's failure in the ledger
            log.warning("a batch failed: %s", one_line(exc))

    with ThreadPoolExecutor(max_workers=workers) as pool:
        # One batch per thread at a time, so the deadline is checked between rounds.
        step = batch * workers
        for i in range(0, len(jobs), step):
            if deadline is not None and time.monotonic() >= deadline:
                break
            chunks = [jobs[k : k + batch] for k in range(i, min(i + step, len(jobs)), batch)]
            list(pool.map(run, chunks))
            started += sum(len(c) for c in chunks)
            if on_batch is not None:
                on_batch(sum(len(c) for c in chunks))
    local = runner.sharing.local
    if local is not None:
        local.flush()
    after = ws.ledger.counts()
    elapsed = time.monotonic() - started_at
    documented = max(0, after["done"] - before["done"])
    return {
        "documented": documented,
        "failed": after["failed"],
        "newlyFailed": max(0, after["failed"] - before["failed"]),
        "elapsedS": round(elapsed, 2),
        "filesPerS": round(documented / elapsed, 1) if documented and elapsed else None,
        "restarts": 0,
        "left": len(jobs) - started,
    }
