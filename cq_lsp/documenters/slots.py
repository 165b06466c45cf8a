"""A counting semaphore across processes: N slot files, each held through an exclusive file lock.

The worker runs jobs in several forked processes (and threads), and ``processor.concurrency``
bounds the LLM commands running at once across all of them. A lock on a file needs no server and
no new dependency, and the kernel releases it when its holder dies, so a killed worker never
leaks a slot. Each ``open()`` is its own lock owner, so threads of one process exclude each other
as well.

A holder may write a short note into its slot file (the command documenter records the process
group it runs); the next holder of that slot reads it back as ``Slot.previous``. A note left
behind means the previous holder died while holding the slot.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_POLL_FIRST_S = 0.005
_POLL_MAX_S = 0.05

try:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

except ImportError:  # pragma: no cover - Windows
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True


class Slot:
    """One held slot: its index, the note its previous holder left, and a place for ours."""

    def __init__(self, index: int, fd: int, previous: str) -> None:
        self.index = index
        self.previous = previous
        self._fd = fd

    def note(self, text: str) -> None:
        """Record ``text`` (one short line) for whoever takes the slot after a crash."""
        os.ftruncate(self._fd, 0)
        os.lseek(self._fd, 0, os.SEEK_SET)
        os.write(self._fd, text.encode("utf-8"))

    def clear(self) -> None:
        os.ftruncate(self._fd, 0)


class SlotLimiter:
    """At most ``count`` holders at once among every process using ``directory``."""

    def __init__(self, directory: Path | str, count: int) -> None:
        if count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        self.directory = Path(directory)
        self.count = count

    def _path(self, i: int) -> Path:
        return self.directory / f"slot-{i}.lock"

    def _try(self, i: int) -> Slot | None:
        fd = os.open(self._path(i), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if _try_lock(fd):
                os.lseek(fd, 0, os.SEEK_SET)
                previous = os.read(fd, 4096)
                return Slot(i, fd, previous.decode("utf-8", "replace").strip())
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
        return None

    @contextmanager
    def hold(self) -> Iterator[Slot]:
        """Wait for a free slot and hold it for the ``with`` block (its note is cleared after)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        # A random starting slot spreads holders, so they rarely probe the same busy file first.
        start = random.randrange(self.count)
        order = [(start + k) % self.count for k in range(self.count)]
        delay = _POLL_FIRST_S
        slot: Slot | None = None
        while slot is None:
            for i in order:
                slot = self._try(i)
                if slot is not None:
                    break
            else:
                time.sleep(delay)
                delay = min(delay * 2, _POLL_MAX_S)
        try:
            yield slot
        finally:
            try:
                slot.clear()
            finally:
                os.close(slot._fd)  # closing the descriptor releases the lock
