"""Printing results: JSON for machines (and nothing else on stdout), text for people.

rich is imported only by the commands that draw tables or progress bars.
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any

from cq_lsp.errors import CqLspError
from cq_lsp.humanize import due_text

if TYPE_CHECKING:
    # Type only: `cq-lsp search` and the git hooks print through this module, and the result
    # classes (attrs) would add ~20 ms to each of them.
    from cq_lsp.commands.results import Freshness, Status, Stopped, WorkerPart, WorkerResult


def emit_json(obj: Any) -> None:
    """``--json``: a typed result (or a plain object) as the contract's JSON."""
    if hasattr(type(obj), "__attrs_attrs__"):
        from cq_lsp.commands.results import to_json  # only typed results pay for the import

        obj = to_json(obj)
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


def stale_note(answer: Freshness) -> str:
    """What a stale answer (``"fresh": false``) tells a person."""
    if answer.current_sha is None:
        return "stale: the file is gone or unreadable since it was documented"
    return (
        f"stale: documented at {str(answer.documented_sha)[:10]}, the file is now "
        f"{answer.current_sha[:10]} (queued again in auto mode; `cq-lsp index` otherwise)"
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


def print_status(st: Status) -> None:
    w, q, idx, d = st.worker, st.queue, st.index, st.documenter
    health = {
        "ok": style("ok", "32"),
        "warning": style("warning", "33"),
        "error": style("error", "31"),
    }.get(st.health, st.health)
    print(f"{style('cq-lsp', '1')} {st.root}")
    print(f"  health    {health} — {st.message}")
    worker = w.state
    if w.pid:
        worker += f" (pid {w.pid}, up {fmt_age(w.uptime_s)}, RSS {fmt_bytes(w.rss_bytes)})"
    print(f"  worker    {worker}  mode={st.mode}")
    print(
        f"  queue     {q.queued} queued · {q.running} running · {q.failed} failed · "
        f"{q.done} done · {q.skipped} skipped"
        + (f" · oldest {fmt_age(q.oldest_queued_s)}" if q.oldest_queued_s else "")
        + (f" · {q.delayed} delayed (due in {due_text(q.next_due_s)})" if q.delayed else "")
    )
    stale = f" · {idx.stale} stale" if idx.stale else ""
    print(f"  index     {idx.files} files{stale}  ({idx.path})")
    if d is None:
        return
    print(f"  documenter {d.kind}: {d.calls} calls, {d.failures} failed")
    if d.kind == "command" or d.llm_calls:
        print(
            f"  LLM       {d.llm_calls} calls, {d.llm_failures} failed, "
            f"{d.llm_fallbacks} static fallbacks"
        )


def worker_line(w: WorkerPart) -> str:
    """``running (pid 123, up 4m, RSS 31.0 MB, CPU 1.2 s)`` — the worker part, for people."""
    details = []
    if w.pid:
        details.append(f"pid {w.pid}")
    if w.uptime_s is not None:
        details.append(f"up {fmt_age(w.uptime_s)}")
    if w.rss_bytes is not None:
        details.append(f"RSS {fmt_bytes(w.rss_bytes)}")
    if w.cpu_s is not None:
        details.append(f"CPU {w.cpu_s:.1f} s")
    if w.heartbeat_age_s is not None:
        details.append(f"heartbeat {fmt_age(w.heartbeat_age_s)} ago")
    if w.last_pid:
        details.append(f"last pid {w.last_pid}")
    return w.state + (f" ({', '.join(details)})" if details else "")


def print_worker(action: str, result: WorkerResult) -> None:
    """What ``worker start|stop|restart`` did, in people's units."""
    if action == "stop":
        print(_stop_line(result))
        return
    if result.stopped is not None and not isinstance(result.stopped, bool):
        print(_stop_line(result.stopped))  # restart: what the stop did first
    if result.started:
        print(f"worker started (pid {result.pid})")
    else:
        print(result.message or "worker not started")
    if result.worker.state != "running":
        print(f"worker {worker_line(result.worker)}")


def _stop_line(result: WorkerResult | Stopped) -> str:
    if not result.stopped:
        return result.message or "worker not running"
    how = "" if result.graceful in (True, None) else ", killed after the grace period"
    return f"worker stopped (pid {result.pid}{how})"
