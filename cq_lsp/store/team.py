"""The team store: documentation records on a shared Redis, under the same keys as the local store.

Every call is time-bounded (``CALL_TIMEOUT_S``); after a failure the store is left alone for
``DOWN_FOR_S`` and every call answers "miss" at once, so a Redis that is down or slow never holds a
documenter up. The first failure is logged and noted in the local store (the status's one warning);
the next success clears the note.

Keys: ``cq:doc:<key>`` (the record, JSON — validated by the reader as an LLM answer
is) and ``cq:lease:<key>`` (who documents that key now: ``SET NX`` with an expiry, so a machine
that died holding it is taken over when it expires).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cq_lsp.store.cache import LocalStore

log = logging.getLogger(__name__)

CALL_TIMEOUT_S = 1.0
DOWN_FOR_S = 30.0
DOC_PREFIX = "cq:doc:"
LEASE_PREFIX = "cq:lease:"
# Records live a long time; Redis' own maxmemory policy (allkeys-lru) bounds a team store.
RECORD_TTL_S = 90 * 86400
NOTE = "team_problem"

# Deletes the lease only if it is still ours (it may have expired and been taken over).
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def redacted(url: str) -> str:
    """The URL without a password, for status and logs."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.rpartition("@")[2]
    return f"{scheme}{sep}{rest}"


def connect(url: str, timeout_s: float = CALL_TIMEOUT_S) -> Any:
    # redis-py is imported here: ~100 ms that a machine without a team store never pays.
    import redis

    return redis.Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry_on_timeout=False,
        health_check_interval=30,
    )


class TeamStore:
    def __init__(self, url: str, *, write: bool, notes: LocalStore | None = None) -> None:
        self.url = url
        self.write = write
        self._notes = notes
        self._client: Any = None
        self._down_until = 0.0
        self._lock = threading.Lock()
        self.problem: str | None = None
        self._denied = False

    def _redis(self) -> Any:
        if self._client is None:
            self._client = connect(self.url)
        return self._client

    def _call(self, what: str, fn: Any, default: Any) -> Any:
        if time.monotonic() < self._down_until:
            return default
        try:
            result = fn(self._redis())
        except Exception as exc:  # redis-py raises many kinds; all mean "not now"
            if "NOPERM" in str(exc):
                # An ACL that makes this member a reader: reads go on, writes are skipped.
                if not self._denied:
                    self._denied = True
                    log.warning(
                        "team store %s: no permission to %s (a read-only member? set "
                        "cache.write to false)",
                        redacted(self.url),
                        what,
                    )
                return default
            self._failed(what, exc)
            return default
        if self.problem is not None:
            with self._lock:
                self.problem = None
            if self._notes is not None:
                self._notes.note(NOTE, None)
        return result

    def _failed(self, what: str, exc: Exception) -> None:
        text = " ".join(str(exc).split())[:200] or type(exc).__name__
        with self._lock:
            self._down_until = time.monotonic() + DOWN_FOR_S
            first = self.problem is None
            self.problem = (
                f"team store {redacted(self.url)} unreachable ({text}) while trying to {what}; "
                f"documenting locally"
            )
        if first:
            log.warning("%s; checking again in %.0f s", self.problem, DOWN_FOR_S)
            if self._notes is not None:
                self._notes.note(NOTE, {"at": time.time(), "message": self.problem})

    # -- records -----------------------------------------------------------------------------

    def get(self, key: str) -> bytes | None:
        value = self._call("read a record", lambda r: r.get(DOC_PREFIX + key), None)
        return bytes(value) if value is not None else None

    def put(self, key: str, blob: bytes) -> bool:
        if not self.write:
            return False
        return bool(
            self._call(
                "write a record",
                lambda r: r.set(DOC_PREFIX + key, blob, ex=RECORD_TTL_S, nx=True),
                False,
            )
        )

    # -- leases ------------------------------------------------------------------------------

    def lease(self, key: str, owner: str, ttl_s: float) -> bool | None:
        """True: ours; False: someone else's; None: the store cannot say (document anyway)."""
        result = self._call(
            "take a lease",
            lambda r: r.set(LEASE_PREFIX + key, owner, nx=True, px=max(1000, int(ttl_s * 1000))),
            None,
        )
        if result is None and (self.problem is not None or self._denied):
            return None
        return bool(result)

    def leased(self, key: str) -> bool:
        return bool(self._call("read a lease", lambda r: r.exists(LEASE_PREFIX + key), 0))

    def release(self, key: str, owner: str) -> None:
        self._call("release a lease", lambda r: r.eval(_RELEASE, 1, LEASE_PREFIX + key, owner), 0)

    def wait_for(self, key: str, deadline: float, step_s: float = 0.2) -> bytes | None:
        """The record another machine is making, or None when its lease ended without one (it
        died, or failed) or ``deadline`` (monotonic) passed."""
        while time.monotonic() < deadline:
            blob = self.get(key)
            if blob is not None:
                return blob
            if self.problem is not None or not self.leased(key):
                return self.get(key)
            time.sleep(step_s)
        return None
