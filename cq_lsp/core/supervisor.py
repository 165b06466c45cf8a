"""Starting, stopping and recognising the worker of a work tree.

A process is our worker only if its pid, create time and command line all match ``worker.json``:
a reused pid is never reported as ours and never signalled. ``worker.json`` also names the work
tree it serves (root and the ``.code-query/`` directory's device and inode), so a copied or
replaced ``.code-query/`` never adopts another tree's worker. The worker writes the same identity
into ``worker.lock`` while it holds that lock, so a worker that is exiting (worker.json already
gone) or stuck is still found, reported and stoppable.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from typing import Any

from cq_lsp.atomic import write_json_atomic
from cq_lsp.errors import WorkerError
from cq_lsp.worktree.project import Project

START_TIMEOUT_S = 10.0
STOP_GRACE_S = 10.0
STUCK_GRACE_S = 3.0
HEARTBEAT_EVERY_S = 1.0

# Workers this process started. A long-lived parent (the language server) must reap them when
# they exit, or each idle exit would leave a zombie until the server quits.
_spawned: list[subprocess.Popen[bytes]] = []


def reap_children() -> None:
    """Collect the exit status of workers this process started that have exited since."""
    for proc in list(_spawned):
        if proc.poll() is not None:
            _spawned.remove(proc)


def worker_command(project: Project) -> list[str]:
    # -I: isolated mode, so neither the cwd nor PYTHONPATH can put a file from the documented
    # repository (a stray cq_lsp.py, say) ahead of the installed package.
    return [sys.executable, "-I", "-m", "cq_lsp", "--root", str(project.root), "worker", "run"]


def state_identity(project: Project) -> tuple[int, int] | None:
    """The (device, inode) of ``.code-query/``: which state directory a worker serves."""
    try:
        st = os.stat(project.state_dir)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _serves_here(project: Project, data: Mapping[str, Any]) -> bool:
    # Files written before these fields existed carry neither: judged by the process alone.
    if "root" in data and data["root"] != str(project.root):
        return False
    if "state_dev" in data or "state_ino" in data:
        return state_identity(project) == (data.get("state_dev"), data.get("state_ino"))
    return True


def _parse_identity(text: str, project: Project) -> dict[str, Any] | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("pid"), int):
        return None
    # A worker.json copied from another work tree (cp -a), or left in a .code-query/ that was
    # deleted and created again, describes a worker that does not serve this one.
    return data if _serves_here(project, data) else None


def read_worker_json(project: Project) -> dict[str, Any] | None:
    try:
        text = project.worker_json.read_text(encoding="utf-8")
    except (OSError, ValueError):
        return None
    return _parse_identity(text, project)


def worker_identity(project: Project, **extra: Any) -> dict[str, Any]:
    """What worker.json and worker.lock say about the calling process."""
    import psutil

    me = psutil.Process()
    ident = state_identity(project)
    return {
        "pid": me.pid,
        "create_time": me.create_time(),
        "cmdline": me.cmdline(),
        "started_at": time.time(),
        "root": str(project.root),
        "state_dev": ident[0] if ident else None,
        "state_ino": ident[1] if ident else None,
        **extra,
    }


def write_worker_json(project: Project, **extra: Any) -> dict[str, Any]:
    info = worker_identity(project, **extra)
    write_json_atomic(project.worker_json, info)
    return info


def read_lock_holder(project: Project) -> dict[str, Any] | None:
    """The identity the worker holding worker.lock wrote into it (it may be gone since)."""
    try:
        with open(project.worker_lock, encoding="utf-8") as fh:
            text = fh.read(65_536)
    except (OSError, ValueError):
        return None
    return _parse_identity(text, project)


def find_worker(project: Project) -> tuple[dict[str, Any], Any, bool] | None:
    """The live worker of this work tree: (its identity, its process, found by the lock only).

    worker.json first; else the holder of worker.lock — a worker that removed worker.json on
    its way out but has not exited, or one whose worker.json was lost.
    """
    info = read_worker_json(project)
    proc = our_process(info)
    if proc is not None and info is not None:
        return info, proc, False
    holder = read_lock_holder(project)
    proc = our_process(holder)
    if proc is not None and holder is not None:
        return holder, proc, True
    return None


def our_process(info: dict[str, Any] | None) -> Any | None:
    """The psutil.Process described by worker.json, or None if it is gone or someone else."""
    if not info:
        return None
    reap_children()
    import psutil

    try:
        proc = psutil.Process(info["pid"])
        if abs(proc.create_time() - float(info.get("create_time", -1))) > 0.05:
            return None
        if proc.cmdline() != info.get("cmdline"):
            return None
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc
    except (psutil.Error, TypeError, ValueError):
        return None


def heartbeat_age(project: Project) -> float | None:
    try:
        return max(0.0, time.time() - project.heartbeat_file.stat().st_mtime)
    except OSError:
        return None


def worker_status(project: Project, check_interval_s: float = 5.0) -> dict[str, Any]:
    """The ``worker`` part of the status object."""
    base: dict[str, Any] = {
        "state": "stopped",
        "pid": None,
        "uptimeS": None,
        "restarts": 0,
        "rssBytes": None,
    }
    found = find_worker(project)
    if found is None:
        info = read_worker_json(project)
        if info is None:
            return base
        # worker.json survives only an unclean exit: the worker removes it when it stops.
        return {**base, "state": "crashed", "lastPid": info.get("pid")}
    info, proc, by_lock = found
    import psutil

    try:
        with proc.oneshot():
            rss = proc.memory_info().rss
            cpu = proc.cpu_times()
    except psutil.Error:
        return {**base, "state": "stopped"}
    uptime = time.time() - proc.create_time()
    age = heartbeat_age(project)
    if info.get("stopping"):
        state = "stopping"
    elif by_lock:
        # It holds worker.lock without a worker.json: just starting, or stuck (on its way out
        # or otherwise); `worker stop` ends it either way.
        # A heartbeat means it ran: it lost its worker.json, it is not starting.
        starting = age is None and uptime < START_TIMEOUT_S
        state = "starting" if starting else "unresponsive"
    elif age is None or (age > uptime + 1):
        state = "starting" if uptime < START_TIMEOUT_S else "unresponsive"
    elif age > 3 * max(check_interval_s, HEARTBEAT_EVERY_S):
        state = "unresponsive"
    else:
        state = "running"
    return {
        "state": state,
        "pid": proc.pid,
        "uptimeS": round(uptime, 1),
        "restarts": int(info.get("restarts", 0)),
        "rssBytes": rss,
        "cpuS": round(cpu.user + cpu.system, 2),
        "heartbeatAgeS": None if age is None else round(age, 1),
    }


def is_running(project: Project) -> bool:
    return find_worker(project) is not None


def start_worker(
    project: Project, wait: bool = True, *, env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Start the worker detached in its own session, unless ours already runs.

    ``env``: extra environment variables for the worker (the language server passes the
    editor's settings and trust this way, see cq_lsp.worker.consumer).
    """
    reap_children()
    found = find_worker(project)
    if found is not None and found[0].get("stopping"):
        # A worker on its way out still holds worker.lock: a new one would fail to take it.
        try:
            _wait_exited(found[1], STOP_GRACE_S)
            found = None
        except Exception:  # psutil.TimeoutExpired: report the one that runs
            pass
    if found is not None:
        return {"started": False, "pid": found[0]["pid"], "message": "worker already running"}
    project.logs_dir.mkdir(parents=True, exist_ok=True)
    # The worker writes (and rotates) logs/worker.log itself; its raw stdout/stderr — only a
    # crash that happens before logging is set up — goes to a file of its own.
    log = open(project.logs_dir / "worker.stderr", "ab")
    log_start = log.tell()
    try:
        proc = subprocess.Popen(
            worker_command(project),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            cwd=str(project.state_dir),
            start_new_session=True,
            close_fds=True,
            env={**os.environ, **env} if env else None,
        )
        _spawned.append(proc)
    except OSError as exc:
        raise WorkerError(
            f"cannot start the worker: {exc}",
            hint=f"check that {sys.executable} can run `-m cq_lsp`",
        ) from exc
    finally:
        log.close()
    if not wait:
        return {"started": True, "pid": proc.pid}
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        info = read_worker_json(project)
        if (
            info
            and info.get("pid") == proc.pid
            and project.heartbeat_file.exists()
            and heartbeat_age(project) is not None
        ):
            return {"started": True, "pid": proc.pid}
        code = proc.poll()
        if code is not None:
            # Lost the race for worker.lock to another starter (the server, a hook, the CLI):
            # the worker that won is as good as ours.
            found = find_worker(project)
            if found is not None:
                pid = found[0]["pid"]
                return {"started": False, "pid": pid, "message": "worker already running"}
            reason, hint = _startup_error(project.logs_dir / "worker.stderr", log_start)
            raise WorkerError(
                f"the worker exited at once with code {code}" + (f": {reason}" if reason else ""),
                hint=hint or f"see {project.worker_log} and {project.logs_dir / 'worker.stderr'}",
            )
        time.sleep(0.02)
    raise WorkerError(
        f"the worker did not report within {START_TIMEOUT_S:.0f} s",
        hint=f"see {project.worker_log}",
    )


def _startup_error(stderr_file: os.PathLike[str], offset: int) -> tuple[str | None, str | None]:
    """The error (and hint) a worker that failed to start printed, from ``offset`` on."""
    try:
        with open(stderr_file, "rb") as fh:
            fh.seek(offset)
            text = fh.read(16_384).decode("utf-8", "replace")
    except OSError:
        return None, None
    reason = hint = None
    for line in text.splitlines():
        if line.startswith("cq-lsp: error: "):
            reason, hint = line.removeprefix("cq-lsp: error: ").strip(), None
        elif reason and hint is None and line.strip().startswith("hint: "):
            hint = line.strip().removeprefix("hint: ")
    return reason, hint


def stop_worker(project: Project, grace_s: float = STOP_GRACE_S) -> dict[str, Any]:
    """Graceful stop (Huey's SIGINT: running jobs finish), then kill the group after the grace."""
    found = find_worker(project)
    if found is None:
        if read_worker_json(project) is not None:
            project.worker_json.unlink(missing_ok=True)
        return {"stopped": False, "message": "worker not running"}
    info, proc, by_lock = found
    import psutil

    if by_lock:
        # Already on its way out (or stuck without a worker.json): a short grace only.
        grace_s = min(grace_s, STUCK_GRACE_S)
    else:
        write_json_atomic(project.worker_json, {**info, "stopping": True})
    try:
        proc.send_signal(signal.SIGINT)
        _wait_exited(proc, grace_s)
        return {"stopped": True, "pid": proc.pid, "graceful": True}
    except psutil.TimeoutExpired:
        kill = getattr(signal, "SIGKILL", signal.SIGTERM)
        try:
            os.killpg(proc.pid, kill)
        except (OSError, AttributeError):
            proc.kill()
        try:
            proc.wait(timeout=5)
        except psutil.TimeoutExpired:
            pass
        left = read_worker_json(project)
        if left is not None and left.get("pid") == proc.pid:
            project.worker_json.unlink(missing_ok=True)
        return {"stopped": True, "pid": proc.pid, "graceful": False}
    except psutil.NoSuchProcess:
        return {"stopped": True, "pid": info["pid"], "graceful": True}


def _wait_exited(proc: Any, timeout: float) -> None:
    """Wait until ``proc`` has exited; psutil.TimeoutExpired after ``timeout`` seconds.

    An exited worker that is not our child stays a zombie until init reaps it, which some
    inits do only every second or two: a zombie has exited, so it counts as stopped.
    """
    import psutil

    deadline = time.monotonic() + timeout
    delay = 0.002
    while True:
        try:
            try:
                proc.wait(timeout=0)  # reaps it if it is our child
                return
            except psutil.TimeoutExpired:
                if proc.status() == psutil.STATUS_ZOMBIE:
                    return
        except psutil.NoSuchProcess:
            return
        if time.monotonic() > deadline:
            raise psutil.TimeoutExpired(timeout, proc.pid)
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
