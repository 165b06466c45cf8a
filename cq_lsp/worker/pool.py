"""``cq-lsp pool run``: a worker that documents requests from any repository, without a checkout.

It documents with its own settings (the user file and environment of whoever runs it: their LLM
command and credentials; never a repository's config.json, there is none), writes each record to
the team store (``cache.url``, else the pool's own Redis) under a lease, and answers the requester.
Content arrives with the request and is checked against its sha256 before anything is done with it.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

from cq_lsp.config.load import load_config
from cq_lsp.config.trust import data_dir
from cq_lsp.core.pool import ANNOUNCE_EVERY_S, WORKER_PREFIX, WORKER_TTL_S, make_huey
from cq_lsp.core.sharing import LEASE_MARGIN_S, document_once
from cq_lsp.documenters.base import DocumentContext
from cq_lsp.documenters.languages import detect_language
from cq_lsp.documenters.select import (
    documenter_fingerprint,
    fallback_record,
    path_in_key,
    select_documenter,
)
from cq_lsp.errors import ConfigError
from cq_lsp.store.cache import content_sha256, doc_key, encode_record
from cq_lsp.store.team import TeamStore, connect, redacted
from cq_lsp.worktree.guard import decode_text

log = logging.getLogger(__name__)


class BadRequest(ValueError):
    """A request that is not what a cq-lsp requester sends; answered with an error, not run."""


def _checked(request: Any) -> tuple[str, str, bytes, str]:
    if not isinstance(request, dict):
        raise BadRequest("a request must be a mapping")
    path, language, data, sha = (request.get(k) for k in ("path", "language", "content", "sha256"))
    if not (isinstance(path, str) and isinstance(data, bytes) and isinstance(sha, str)):
        raise BadRequest("a request needs path, content (bytes) and sha256")
    if content_sha256(data) != sha:
        raise BadRequest(f"{path}: the content does not match its sha256")
    if language != detect_language(path):
        raise BadRequest(f"{path}: language {language!r} does not match the path")
    return path, language, data, sha


class PoolWorker:
    def __init__(self, url: str, root: Path) -> None:
        loaded = load_config(root)  # user file + environment: there is no repository here
        self.config = loaded.config
        self.url = url
        self.selection = select_documenter(loaded, slots_dir=root / "llm-slots")
        if self.selection.refusal is not None:  # pragma: no cover - no repo file, so no refusal
            raise ConfigError(self.selection.refusal)
        self.fingerprint = documenter_fingerprint(self.config)
        self.path_in_key = path_in_key(self.config)
        self.team = TeamStore(self.config.cache.url or url, write=True)
        self.lease_ttl_s = self.config.processor.timeout_s + LEASE_MARGIN_S
        self.context = DocumentContext(model=self.config.model)

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        path, language, data, sha = _checked(request)
        key = doc_key(self.fingerprint, sha, language, path if self.path_in_key else None)
        blob = self.team.get(key)
        if blob is None:
            text, _notes = decode_text(data)
            stand_in: list[bytes] = []

            def make() -> bytes | None:
                sel = self.selection
                try:
                    record = sel.documenter.document(path, text, language, self.context)
                except Exception as exc:
                    if sel.fallback is None:
                        raise
                    record = fallback_record(sel.fallback, path, text, language, self.context,
                                             " ".join(str(exc).split())[:300])  # fmt: skip
                    # A stand-in is answered but never stored under the key.
                    stand_in.append(encode_record(record))
                    return None
                return encode_record(record)

            blob, _here = document_once(self.team, key, make, self.lease_ttl_s)
            if blob is None:
                if not stand_in:
                    raise RuntimeError(f"{path}: no record was made")
                blob = stand_in[0]
        return {"fingerprint": self.fingerprint, "key": key, "record": blob}


def _announce(url: str, ident: str, info: dict[str, Any], stop: threading.Event) -> None:
    redis = connect(url)
    while not stop.is_set():
        try:
            redis.set(WORKER_PREFIX + ident, json.dumps(info), ex=WORKER_TTL_S)
        except Exception as exc:  # Redis away: the consumer reconnects; so do we
            log.warning("pool %s: cannot announce this worker: %s", redacted(url), exc)
        stop.wait(ANNOUNCE_EVERY_S)
    try:
        redis.delete(WORKER_PREFIX + ident)
    except Exception:
        pass  # it expires by itself


def run_pool(url: str, *, threads: int = 2) -> int:
    """Serve pool requests until a signal."""
    from huey.consumer import Consumer, ConsumerStopped

    root = data_dir() / "pool"
    root.mkdir(parents=True, exist_ok=True)
    worker = PoolWorker(url, root)
    huey, _task = make_huey(url, worker.handle)
    ident = f"{socket.gethostname()}:{os.getpid()}"
    info = {
        "id": ident,
        "threads": threads,
        "fingerprint": worker.fingerprint,
        "started": time.time(),
    }
    stop = threading.Event()
    announcer = threading.Thread(
        target=_announce, args=(url, ident, info, stop), name="announce", daemon=True
    )
    announcer.start()
    logging.getLogger("huey").setLevel(logging.WARNING)
    consumer = Consumer(
        huey, workers=threads, worker_type="thread", periodic=False, initial_delay=0.05,
        max_delay=0.5, backoff=1.5,
    )  # fmt: skip
    log.info(
        "pool worker %s serving %s with %d thread(s), documenter %s",
        ident,
        redacted(url),
        threads,
        worker.config.processor.kind,
    )
    try:
        consumer.run()
    except ConsumerStopped:
        pass
    finally:
        stop.set()
        announcer.join(timeout=2)
    return 0
