"""Forked worker processes die with the worker that forked them.

A ``kill -9`` of the worker (by the OOM killer, a user, a test) reaches only that process: its
forked Huey workers would live on as orphans, keep polling the queue and never idle-exit, and a
new worker would then share the queue with them. Each forked worker therefore asks the kernel to
kill it when its parent dies (Linux ``PR_SET_PDEATHSIG``), and, where that is not available,
a daemon thread notices the new parent pid and exits.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import sys
import threading
import time

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
POLL_S = 1.0


def _prctl_deathsig() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(POLL_S)
        if os.getppid() != parent:
            log.warning("the worker (pid %d) is gone: this forked worker exits", parent)
            os._exit(1)


def die_with_parent(parent: int) -> None:
    """Call in a forked child: it ends when ``parent`` (the forking worker) does."""
    if os.getpid() == parent:
        return  # thread workers run in the worker process itself
    armed = _prctl_deathsig()
    # The parent may have died between the fork and the prctl call: the signal would never come.
    if os.getppid() != parent:
        os._exit(1)
    if not armed:
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
