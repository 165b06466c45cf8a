"""Printing results: JSON for machines (and nothing else on stdout), text for people.

rich is imported only by the commands that draw tables or progress bars.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from cq_lsp.errors import CqLspError
from cq_lsp.humanize import due_text


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n")


def color_enabled(stream: Any = None) -> bool:
    stream = stream or sys.stdout
    return hasattr(stream, "isatty") and stream.isatty() and not os.environ.get("NO_COLOR")


def style(text: str, code: str) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if color_enabled() else text


def highlight(snippet: str) -> str:
    if not color_enabled():
        return snippet
    return snippet.replace("«", "\x1b[1;33m").replace("»", "\x1b[0m")


def error(exc: CqLspError, as_json: bool) -> None:
    """Errors go to stderr; with --json the error object also goes to stdout for the machine."""
    if as_json:
        emit_json(exc.to_dict())
    sys.stderr.write(f"cq-lsp: error: {exc}\n")


def fmt_age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    if seconds < 86400:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def ellipsize(text: str, width: int, *, end: bool = False) -> str:
    """``text`` in at most ``width`` characters: a path keeps its start and its file name (the
    middle goes), a message keeps its start (``end``)."""
    if len(text) <= width:
        return text
    if end or width < 5:
        return text[: max(0, width - 1)] + "…"
    # The file name whole when it fits beside a few leading characters, else its end.
    name = len(text) - text.rfind("/") - 1 if "/" in text else len(text)
    tail = name + 1 if name + 1 <= width - 4 else (width - 1) * 2 // 3
    return text[: width - 1 - tail] + "…" + text[-tail:]


def stale_note(answer: dict[str, Any]) -> str:
    """What a stale answer (``"fresh": false``) tells a person."""
    if answer.get("current_sha") is None:
        return "stale: the file is gone or unreadable since it was documented"
    return (
        f"stale: documented at {str(answer.get('documented_sha'))[:10]}, the file is now "
        f"{str(answer['current_sha'])[:10]} (queued again in auto mode; `cq-lsp index` otherwise)"
    )


def fmt_bytes(n: int | None) -> str:
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def print_status(st: dict[str, Any]) -> None:
    w, q = st["worker"], st["queue"]
    health = {
        "ok": style("ok", "32"),
        "warning": style("warning", "33"),
        "error": style("error", "31"),
    }.get(st["health"], st["health"])
    print(f"{style('cq-lsp', '1')} {st['root']}")
    print(f"  health    {health} — {st['message']}")
    worker = w["state"]
    if w.get("pid"):
        worker += (
            f" (pid {w['pid']}, up {fmt_age(w.get('uptimeS'))}, RSS {fmt_bytes(w.get('rssBytes'))})"
        )
    print(f"  worker    {worker}  mode={st.get('mode')}")
    print(
        f"  queue     {q['queued']} queued · {q['running']} running · {q['failed']} failed · "
        f"{q['done']} done · {q.get('skipped', 0)} skipped"
        + (f" · oldest {fmt_age(q['oldestQueuedS'])}" if q.get("oldestQueuedS") else "")
        + (
            f" · {q['delayed']} delayed (due in {due_text(q.get('nextDueS'))})"
            if q.get("delayed")
            else ""
        )
    )
    d = st.get("documenter", {})
    idx = st["index"]
    stale = f" · {idx['stale']} stale" if idx.get("stale") else ""
    print(f"  index     {idx['files']} files{stale}  ({idx['path']})")
    print(f"  documenter {d.get('kind')}: {d.get('calls', 0)} calls, {d.get('failures', 0)} failed")
    if d.get("kind") == "command" or d.get("llmCalls"):
        print(
            f"  LLM       {d.get('llmCalls', 0)} calls, {d.get('llmFailures', 0)} failed, "
            f"{d.get('llmFallbacks', 0)} static fallbacks"
        )


def worker_line(w: dict[str, Any]) -> str:
    """``running (pid 123, up 4m, RSS 31.0 MB, CPU 1.2 s)`` — the worker part, for people."""
    text = w["state"]
    details = []
    if w.get("pid"):
        details.append(f"pid {w['pid']}")
    if w.get("uptimeS") is not None:
        details.append(f"up {fmt_age(w['uptimeS'])}")
    if w.get("rssBytes") is not None:
        details.append(f"RSS {fmt_bytes(w['rssBytes'])}")
    if w.get("cpuS") is not None:
        details.append(f"CPU {w['cpuS']:.1f} s")
    if w.get("heartbeatAgeS") is not None:
        details.append(f"heartbeat {fmt_age(w['heartbeatAgeS'])} ago")
    if w.get("lastPid"):
        details.append(f"last pid {w['lastPid']}")
    return text + (f" ({', '.join(details)})" if details else "")


def print_worker(action: str, result: dict[str, Any]) -> None:
    """What ``worker start|stop|restart|status|cleanup`` did, in people's units."""
    if action == "status":
        print(f"worker {worker_line(result)}")
        return
    if action == "cleanup":
        removed = result.get("removed") or []
        print("removed " + ", ".join(removed) if removed else "nothing to clean up")
        return
    stopped = result.get("stopped")
    if action == "stop":
        print(_stop_line(result))
        return
    if isinstance(stopped, dict):  # restart: what the stop did first
        print(_stop_line(stopped))
    if result.get("started"):
        print(f"worker started (pid {result.get('pid')})")
    else:
        print(result.get("message") or "worker not started")
    if "worker" in result and result["worker"].get("state") != "running":
        print(f"worker {worker_line(result['worker'])}")


def _stop_line(result: dict[str, Any]) -> str:
    if not result.get("stopped"):
        return result.get("message") or "worker not running"
    how = "" if result.get("graceful", True) else ", killed after the grace period"
    return f"worker stopped (pid {result.get('pid')}{how})"
