"""Where a record may come from besides the documenter: the local store, the team store, the pool.

One ``Sharing`` per configuration (``JobRunner`` rebuilds it when the settings change). The team
store and the pool are used for LLM documenters only: a static record costs a few milliseconds,
less than a round trip to Redis. Both are user settings (cq_lsp/config/load.py ignores them in a
repository's config.json): sending content or records off the machine is the user's choice.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from cq_lsp.config.schema import Config
from cq_lsp.core.pool import PoolClient
from cq_lsp.documenters.select import documenter_fingerprint, path_in_key
from cq_lsp.store.cache import LocalStore, doc_key, local_store
from cq_lsp.store.team import TeamStore, redacted

# A lease outlives the documenter's own time limit by this much, so a slow but live holder keeps
# it; a dead one's lease ends this long after the call would have timed out.
LEASE_MARGIN_S = 10.0


def owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def document_once(
    team: TeamStore | None, key: str, make: Callable[[], bytes | None], ttl_s: float
) -> tuple[bytes | None, bool]:
    """The record for ``key``: another machine's if it makes it now, else ``make()``'s under a
    lease, written to the team store before the lease ends. Returns (record, made here)."""
    if team is None:
        return make(), True
    owner = owner_id()
    deadline = time.monotonic() + 2 * ttl_s
    while True:
        got = team.lease(key, owner, ttl_s)
        if got is not False or time.monotonic() >= deadline:
            break  # ours, or the store cannot say: document (never block on Redis)
        blob = team.wait_for(key, time.monotonic() + ttl_s)
        if blob is not None:
            return blob, False
    try:
        blob = team.get(key) if got else None  # finished between our look-up and the lease
        if blob is not None:
            return blob, False
        blob = make()
        if blob is not None:
            team.put(key, blob)
        return blob, True
    finally:
        if got:
            team.release(key, owner)


class Sharing:
    """Keys, stores and pool for one configuration."""

    def __init__(self, config: Config, *, uses_llm: bool, env: Mapping[str, str] | None = None):
        cache = config.cache
        self.fingerprint = documenter_fingerprint(config)
        self.path_in_key = path_in_key(config)
        self.local: LocalStore | None = local_store(cache.max_bytes, env) if cache.local else None
        team_url = cache.url or config.pool.url
        self.team: TeamStore | None = None
        self.pool: PoolClient | None = None
        if uses_llm and team_url:
            self.team = TeamStore(team_url, write=cache.write, notes=self.local)
        if uses_llm and config.pool.url:
            self.pool = PoolClient(config.pool.url, config.pool.timeout_s)
        self.lease_ttl_s = config.processor.timeout_s + LEASE_MARGIN_S

    @property
    def active(self) -> bool:
        return self.local is not None or self.team is not None or self.pool is not None

    def key(self, sha256: str, language: str, path: str, fingerprint: str | None = None) -> str:
        """The key of content the caller hashed; ``fingerprint``: another documenter's (the
        pool's), whose kind then decides whether the path is part of the key."""
        with_path = self.path_in_key
        if fingerprint is not None:
            try:
                with_path = json.loads(fingerprint).get("kind") != "command"
            except (ValueError, AttributeError):
                with_path = True
        return doc_key(
            fingerprint or self.fingerprint, sha256, language, path if with_path else None
        )


def where_content_goes(config: Config) -> dict[str, Any]:
    """For status and doctor: every place file content or records leave this work tree for."""
    cache = config.cache
    team_url = cache.url or config.pool.url
    llm = config.processor.kind == "command"
    out: dict[str, Any] = {
        "localStore": bool(cache.local),
        "teamStore": redacted(team_url) if team_url and llm else None,
        "teamWrite": bool(cache.write) if team_url and llm else None,
        "pool": redacted(config.pool.url) if config.pool.url and llm else None,
    }
    parts = ["this machine"]
    if out["teamStore"]:
        parts.append(f"records to/from the team store {out['teamStore']}")
    if out["pool"]:
        parts.append(f"file content to the pool {out['pool']}")
    if llm:
        parts.append("file content to processor.command")
    out["summary"] = "; ".join(parts)
    return out
