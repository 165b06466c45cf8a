"""The status object — ``cq-lsp status --json``, ``cq/status``, MCP ``get_status`` — built here
and nowhere else; faces only add their own findings through ``add_problem``."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cq_lsp.core import freshness
from cq_lsp.core.pool import pool_summary
from cq_lsp.core.sharing import where_content_goes
from cq_lsp.core.supervisor import worker_status
from cq_lsp.core.workspace import Workspace
from cq_lsp.humanize import due_text
from cq_lsp.store.cache import local_store
from cq_lsp.store.documentation import file_count
from cq_lsp.store.team import NOTE as TEAM_NOTE

_HEALTH_ORDER = ("ok", "warning", "error")
#: Fields that change every second; a change in them alone does not make a notification.
_VOLATILE = (
    "uptimeS",
    "rssBytes",
    "cpuS",
    "heartbeatAgeS",
    "oldestQueuedS",
    "nextDueS",
    "checkMs",
    "at",
)


def queue_part(ws: Workspace) -> dict[str, Any]:
    """The ``queue`` part of the status object (``queue status --json``)."""
    counts = ws.ledger.counts()
    keys = (
        "queued",
        "running",
        "failed",
        "done",
        "skipped",
        "oldestQueuedS",
        "delayed",
        "nextDueS",
    )
    return {k: counts[k] for k in keys}


def build_status(
    ws: Workspace, *, catch_up: bool = False, start_worker: bool = True
) -> dict[str, Any]:
    """The status object: ``cq-lsp status --json`` and the ``cq/status`` notification.

    The work tree is compared with the ledger (cached for a moment): files changed behind the
    hooks' back make the index stale, and health is never ``ok`` while it knowingly lags.
    ``catch_up`` (auto mode): queue them now, so the status reports them as queued instead
    (``start_worker``: and start a worker for them; the server's supervision does its own).
    """

    worker = worker_status(ws.project, ws.config.processing.worker_check_interval)
    staleness = freshness.cached_check(ws)
    if catch_up and freshness.catch_up(ws, staleness, start_worker=start_worker) is not None:
        staleness = freshness.cached_check(ws)
    queue = queue_part(ws)
    problems: list[str] = []
    health = "ok"
    if ws.db.rebuilt_from is not None:
        health = "warning"
        problems.append(
            f"index.db was corrupt and has been rebuilt (old copy: {ws.db.rebuilt_from.name})"
        )
    if queue["failed"]:
        health = "warning"
    if ws.config.processor.kind == "command" and not ws.loaded.command_trusted:
        health = "warning" if health == "ok" else health
        problems.append(
            "processor.command is not trusted: trust the workspace in your editor or run "
            "`cq-lsp config trust`"
        )
    if staleness.count:
        health = "warning" if health == "ok" else health
        problems.append(staleness.message())
    if ws.config_error is not None:
        health = "error"
        problems.append("config.json is invalid; running on the last good configuration")
    if worker["state"] in ("crashed", "unresponsive"):
        health = "error"
        problems.append(f"worker {worker['state']}")
    parts: list[str] = []
    due_now = queue["queued"] - queue["delayed"]
    if due_now:
        parts.append(f"{due_now} queued")
    if queue["delayed"]:
        parts.append(f"{queue['delayed']} delayed (due in {due_text(queue['nextDueS'])})")
    if queue["running"]:
        parts.append(f"{queue['running']} running")
    if queue["failed"]:
        parts.append(f"{queue['failed']} failed")
    if not parts:
        parts.append(f"{queue['done']} documented")
    parts.append(f"worker {worker['state']}")
    counters = ws.ledger.counters()
    sharing = sharing_part(ws, counters)
    for problem in sharing["problems"]:
        health = "warning" if health == "ok" else health
        problems.append(problem)
    return {
        "root": str(ws.project.root),
        "health": health,
        "message": " · ".join(parts + problems),
        "worker": worker,
        "queue": queue,
        "index": {
            "files": file_count(ws.db),
            "stale": staleness.count,
            "staleness": staleness.to_dict(),
            "path": str(ws.project.index_db),
        },
        "documenter": {
            "kind": ws.config.processor.kind,
            "calls": counters.get("documenter_calls", 0),
            "failures": counters.get("documenter_failures", 0),
            "llmCalls": counters.get("llm_calls", 0),
            "llmFailures": counters.get("llm_failures", 0),
            "llmFallbacks": counters.get("llm_fallbacks", 0),
        },
        "sharing": sharing,
        "mode": ws.config.processing.mode,
        "at": time.time(),
    }


# A team-store warning older than this is history, not a problem (the next call succeeded or
# nothing tried since).
TEAM_NOTE_FRESH_S = 600
# How long the status keeps saying the local store was rebuilt (`cache status` always says it).
REBUILT_FRESH_S = 86400


def sharing_part(ws: Workspace, counters: Mapping[str, int]) -> dict[str, Any]:
    """Where content and records go, what was reused, the pool's workers and requests waiting."""
    cfg = ws.config
    part: dict[str, Any] = {
        "where": where_content_goes(cfg),
        "reused": {
            "localStore": counters.get("cache_local_hits", 0),
            "teamStore": counters.get("cache_team_hits", 0),
            "pool": counters.get("pool_records", 0),
        },
        "pool": None,
        "problems": [],
    }
    if cfg.cache.local:
        store = local_store(cfg.cache.max_bytes)
        rebuilt = store.read_note("rebuilt")
        if rebuilt and time.time() - float(rebuilt.get("at", 0)) < REBUILT_FRESH_S:
            part["problems"].append(
                f"the documentation store was corrupt and has been rebuilt (old copy: "
                f"{Path(str(rebuilt.get('aside'))).name})"
            )
        team = store.read_note(TEAM_NOTE)
        if team and time.time() - float(team.get("at", 0)) < TEAM_NOTE_FRESH_S:
            part["problems"].append(str(team.get("message")))
    if cfg.pool.url and cfg.processor.kind == "command":
        pool = pool_summary(cfg.pool.url)
        part["pool"] = {
            "url": pool["url"],
            "workersSeen": pool["workers"],
            "requestsQueued": pool["waiting"],
            "error": pool["error"],
        }
        if pool["error"]:
            part["problems"].append(f"pool {pool['url']} unreachable; documenting locally")
    return part


def add_problem(status: dict[str, Any], health: str, message: str | None = None) -> None:
    """Raise the status's health to at least ``health`` and say why in its message."""
    if _HEALTH_ORDER.index(health) > _HEALTH_ORDER.index(status["health"]):
        status["health"] = health
    if message:
        status["message"] = f"{status['message']} · {message}"


def blank_status(root: Path, health: str, message: str, **extra: Any) -> dict[str, Any]:
    """The status object of a work tree that has no index to report on."""
    return {
        "root": str(root),
        "health": health,
        "message": message,
        "worker": {
            "state": "stopped",
            "pid": None,
            "uptimeS": None,
            "restarts": 0,
            "rssBytes": None,
        },
        "queue": {
            "queued": 0,
            "running": 0,
            "failed": 0,
            "done": 0,
            "skipped": 0,
            "oldestQueuedS": None,
            "delayed": 0,
            "nextDueS": None,
        },
        "index": {"files": 0, "stale": 0},
        **extra,
    }


def stable_view(status: Mapping[str, Any]) -> Any:
    """The status without its ever-changing numbers, for "did anything change?"."""
    if isinstance(status, Mapping):
        return {k: stable_view(v) for k, v in status.items() if k not in _VOLATILE}
    return status
