"""``cq-lsp cache status|prune`` and ``cq-lsp pool run``: the shared documentation stores."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

from cq_lsp.cli.output import emit_json, fmt_bytes
from cq_lsp.config.load import load_config
from cq_lsp.config.schema import REDIS_SCHEMES
from cq_lsp.core.pool import pool_summary
from cq_lsp.core.sharing import where_content_goes
from cq_lsp.errors import ConfigError
from cq_lsp.store.cache import local_store
from cq_lsp.store.team import NOTE as TEAM_NOTE

EXIT_USAGE = 2


def cmd_cache(args: argparse.Namespace) -> int:
    loaded = load_config(Path(args.root or os.getcwd()))
    cfg = loaded.config
    store = local_store(cfg.cache.max_bytes)
    if args.action == "prune":
        limit = cfg.cache.max_bytes if args.max_bytes is None else args.max_bytes
        result = store.prune(limit)
        if args.json:
            emit_json({**result, "maxBytes": limit})
        else:
            print(f"removed {result['removed']} record(s); {fmt_bytes(result['bytes'])} kept "
                  f"(bound {fmt_bytes(limit)})")  # fmt: skip
        return 0
    stats = store.stats()
    team_problem = store.read_note(TEAM_NOTE)
    out: dict[str, Any] = {
        "local": stats,
        "teamProblem": team_problem,
        "where": where_content_goes(cfg),
        "pool": pool_summary(cfg.pool.url) if cfg.pool.url else None,
    }
    if args.json:
        emit_json(out)
        return 0
    print(f"local store: {stats['path']}")
    if stats.get("records") is None:
        print("  unreadable (see the log); documenting goes on without it")
    else:
        print(f"  {stats['records']} record(s), {fmt_bytes(stats['bytes'])} "
              f"of {fmt_bytes(cfg.cache.max_bytes)}")  # fmt: skip
    if stats.get("rebuilt"):
        print(f"  was corrupt and rebuilt; old copy: {stats['rebuilt'].get('aside')}")
    print(f"content goes to: {out['where']['summary']}")
    if team_problem:
        print(f"team store: {team_problem.get('message')}")
    pool = out["pool"]
    if pool:
        state = (
            f"unreachable ({pool['error']})"
            if pool["error"]
            else (f"{pool['workers']} worker(s) seen, {pool['waiting']} request(s) queued")
        )
        print(f"pool {pool['url']}: {state}")
    return 0


def cmd_pool(args: argparse.Namespace) -> int:
    from cq_lsp.worker.pool import run_pool

    loaded = load_config(Path(os.getcwd()) if args.root is None else Path(args.root))
    url = args.url or loaded.config.pool.url
    if not url:
        raise ConfigError(
            "no pool URL",
            hint="pass --url redis://HOST:PORT/DB, or set pool.url in the user config or "
            "CODEQUERY_POOL_URL",
        )
    if not url.startswith(REDIS_SCHEMES):
        raise ConfigError(
            f"the pool URL must start with redis://, rediss:// or unix://, got {url!r}",
            hint="e.g. --url redis://pool.example.internal:6379/3",
        )
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )
    return run_pool(url, threads=args.threads)
